"""Token storage: keyring when usable, else a private file; never hangs."""

from __future__ import annotations

import os
import stat
import threading
import time

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from rse_tui.sync.credentials import CredentialError, TokenStore


class MemoryKeyring(KeyringBackend):
    """A working keyring held in memory (no Secret Service on this host)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        self.items.pop((service, username), None)


class LockedKeyring(MemoryKeyring):
    """Like a locked Secret Service: every call blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def get_password(self, service, username):
        self.release.wait(30)
        return None

    def set_password(self, service, username, password):
        self.release.wait(30)


@pytest.fixture
def backend():
    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


def test_no_backend_falls_back_to_a_private_file(tmp_path, backend):
    backend(fail.Keyring())
    notices: list[str] = []
    store = TokenStore(tmp_path / "p", "ana@h", notify=notices.append)
    where = store.save("1.secret-token-value-xxxxxxxxxx")
    assert where == str(tmp_path / "p" / "token")
    assert len(notices) == 1 and "no keyring" in notices[0] and "0600" in notices[0]
    assert stat.S_IMODE((tmp_path / "p" / "token").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "p").stat().st_mode) == 0o700
    assert store.load() == "1.secret-token-value-xxxxxxxxxx"
    store.forget()
    assert store.load() is None


def test_a_token_file_others_can_read_is_refused(tmp_path, backend):
    backend(fail.Keyring())
    store = TokenStore(tmp_path / "p", "ana@h")
    store.save("1.secret-token-value-xxxxxxxxxx")
    os.chmod(tmp_path / "p" / "token", 0o644)
    with pytest.raises(CredentialError, match="chmod 600"):
        store.load()
    os.chmod(tmp_path / "p" / "token", 0o600)
    os.chmod(tmp_path / "p", 0o755)
    with pytest.raises(CredentialError, match="chmod 700"):
        store.load()


def test_a_working_keyring_holds_the_token_and_no_file_is_written(tmp_path, backend):
    ring = MemoryKeyring()
    backend(ring)
    store = TokenStore(tmp_path / "p", "ana@h")
    assert store.save("1.tok-in-the-keyring-xxxxxxxxxxxx") == "the system keyring"
    assert ring.items == {("rse", "ana@h"): "1.tok-in-the-keyring-xxxxxxxxxxxx"}
    assert not (tmp_path / "p" / "token").exists()
    assert store.load() == "1.tok-in-the-keyring-xxxxxxxxxxxx"
    store.forget()
    assert ring.items == {}


def test_a_locked_keyring_does_not_hang(tmp_path, backend):
    ring = LockedKeyring()
    backend(ring)
    notices: list[str] = []
    store = TokenStore(tmp_path / "p", "ana@h", timeout=0.5, notify=notices.append)
    started = time.monotonic()
    where = store.save("1.secret-token-value-xxxxxxxxxx")
    assert time.monotonic() - started < 5
    assert where.endswith("token") and notices and "keyring" in notices[0]
    assert store.load() == "1.secret-token-value-xxxxxxxxxx"  # the file wins, at once
    ring.release.set()
