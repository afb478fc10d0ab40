"""Where a profile (one server, one user) keeps its files.

The root is ``$RSE_HOME`` when set, else the platform data directory
(platformdirs). Each profile has a private directory (mode 0700) holding its
cache database, its settings and, on hosts without a keyring, its token. A
``current`` file at the root names the profile commands use by default.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs


class ProfileError(Exception):
    """No profile yet, or a profile's files cannot be used."""


def home(environ: dict[str, str] | os._Environ[str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    root = env.get("RSE_HOME")
    return Path(root) if root else platformdirs.user_data_path("rse")


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the owner only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def slug(url: str, name: str) -> str:
    """A file-system name for a profile: ``name@host_port``."""
    parts = urlsplit(url)
    host = parts.hostname or "server"
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    raw = f"{name}@{host}_{port}"
    return re.sub(r"[^A-Za-z0-9@._-]", "_", raw).lower()


@dataclass(frozen=True, slots=True)
class Settings:
    url: str
    name: str
    ca_file: str | None = None
    user: int | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    root: Path
    key: str

    @property
    def path(self) -> Path:
        return self.root / "profiles" / self.key

    @property
    def cache_path(self) -> Path:
        return self.path / "cache.db"

    @property
    def settings_path(self) -> Path:
        return self.path / "settings.json"

    def create(self) -> Profile:
        private_dir(self.root)
        private_dir(self.root / "profiles")
        private_dir(self.path)
        return self

    def settings(self) -> Settings:
        try:
            data = json.loads(self.settings_path.read_text())
            return Settings(**data)
        except FileNotFoundError as exc:
            raise ProfileError(f"profile {self.key} has no settings") from exc
        except (ValueError, TypeError) as exc:
            raise ProfileError(f"profile settings are damaged: {self.settings_path}") from exc

    def save_settings(self, settings: Settings) -> None:
        self.create()
        tmp = self.settings_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(settings), indent=1))
        os.chmod(tmp, 0o600)
        tmp.replace(self.settings_path)


def current(root: Path) -> Profile:
    """The profile commands use when none is named."""
    try:
        key = (root / "current").read_text().strip()
    except FileNotFoundError:
        raise ProfileError("not logged in: run 'rse join URL CODE' or 'rse login URL'") from None
    if not key or "/" in key or key.startswith("."):
        raise ProfileError(f"damaged profile pointer: {root / 'current'}")
    return Profile(root, key)


def make_current(profile: Profile) -> None:
    private_dir(profile.root)
    tmp = profile.root / "current.tmp"
    tmp.write_text(profile.key + "\n")
    tmp.replace(profile.root / "current")
