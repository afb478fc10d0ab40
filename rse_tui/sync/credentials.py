"""Where the token lives: the OS keyring, or a private file when there is none.

On a headless SSH host the keyring may have no backend, or a locked Secret
Service that blocks forever; every keyring call therefore runs in a thread
with a timeout. When the keyring cannot be used the token goes to a 0600
file in the profile's 0700 directory, with a one-line notice; a token file
that group or others can read is refused, not used.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

SERVICE = "rse"


class CredentialError(Exception):
    """The token cannot be stored or read safely."""


def _with_timeout(fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="rse-keyring")
    try:
        return pool.submit(fn, *args).result(timeout=timeout)
    finally:
        # A call stuck in a locked keyring is left behind rather than waited for.
        pool.shutdown(wait=False, cancel_futures=True)


class TokenStore:
    """Saves, loads and forgets one profile's token."""

    def __init__(
        self,
        profile_dir: Path,
        account: str,
        *,
        timeout: float = 3.0,
        notify: Callable[[str], None] | None = None,
        use_keyring: bool = True,
    ) -> None:
        self.file = profile_dir / "token"
        self.account = account
        self.timeout = timeout
        self._notify = notify or (lambda _msg: None)
        self._use_keyring = use_keyring
        self._why = ""
        self.where = ""

    # -- keyring -------------------------------------------------------------

    def _keyring(self) -> Any | None:
        """The keyring module if a real backend answers in time, else None."""
        if not self._use_keyring:
            return None
        try:
            import keyring
            from keyring.backends import fail

            backend = _with_timeout(keyring.get_keyring, timeout=self.timeout)
            if isinstance(backend, fail.Keyring) or type(backend).__name__ == "NullKeyring":
                self._why = "no keyring backend on this host"
                return None
            return keyring
        except Exception as exc:  # import errors, D-Bus errors, timeouts
            self._why = f"keyring unusable ({type(exc).__name__})"
            return None

    # -- public --------------------------------------------------------------

    def save(self, token: str) -> str:
        """Store the token; return a short description of where."""
        ring = self._keyring()
        if ring is not None:
            try:
                _with_timeout(ring.set_password, SERVICE, self.account, token, timeout=self.timeout)
                with contextlib.suppress(FileNotFoundError):
                    self.file.unlink()
                self.where = "the system keyring"
                return self.where
            except Exception as exc:
                self._why = f"keyring refused the token ({type(exc).__name__})"
        self._write_file(token)
        self.where = str(self.file)
        self._notify(f"{self._why}; token kept in {self.file} (mode 0600)")
        return self.where

    def load(self) -> str | None:
        if self.file.exists():
            return self._read_file()
        ring = self._keyring()
        if ring is None:
            return None
        try:
            token = _with_timeout(ring.get_password, SERVICE, self.account, timeout=self.timeout)
        except Exception:
            return None
        return token if isinstance(token, str) and token else None

    def forget(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.file.unlink()
        ring = self._keyring()
        if ring is not None:
            with contextlib.suppress(Exception):
                _with_timeout(ring.delete_password, SERVICE, self.account, timeout=self.timeout)

    # -- file fallback -------------------------------------------------------

    def _write_file(self, token: str) -> None:
        directory = self.file.parent
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        tmp = self.file.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(token)
        os.replace(tmp, self.file)

    def _read_file(self) -> str:
        for path in (self.file.parent, self.file):
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise CredentialError(
                    f"{path} is accessible to other users (mode {stat.S_IMODE(mode):o});"
                    f" refusing to use it. Fix with: chmod {'700' if path.is_dir() else '600'}"
                    f" {path}"
                )
            if path.stat().st_uid != os.getuid():
                raise CredentialError(f"{path} belongs to another user; refusing to use it")
        return self.file.read_text().strip()
