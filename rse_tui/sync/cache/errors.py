"""A cache file this rse cannot use, said in one line: what is wrong with
it, which file, and what to do. The command line prints it and exits 1; the
app closes and prints it; the engine stops syncing on it (retrying would
not mend the file).

The cache holds nothing the server does not but the writes still waiting
in its outbox: a damaged file moved away loses those alone.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

_REBUILD = (
    "move it away and run rse again to rebuild it from the server"
    " (writes still queued in it are lost)"
)
_CHECK = "check the file, the permissions of its directory and the free disk space"

#: SQLite's answers that pass: another program holds the file for a moment.
_PASSING = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_INTERRUPT")
#: A schema other than the one the file's version says (another build's file).
_MISMATCH = re.compile(
    r"no such (table|column|index)|duplicate column|(table|index) \S+ already exists"
)


class CacheError(Exception):
    """The profile's cache file cannot be used; ``str()`` says why and what to do."""

    def __init__(self, path: Path, problem: str, remedy: str) -> None:
        super().__init__(f"the local cache {path} {problem}: {remedy}")
        self.path = path


def newer(path: Path, version: int, known: int) -> CacheError:
    return CacheError(
        path,
        f"is from a newer rse (cache schema {version}, this rse reads up to {known})",
        "upgrade rse, or move the file away and run rse again to rebuild it from the server",
    )


def unusable(exc: sqlite3.Error, path: Path) -> CacheError | None:
    """What ``exc`` says of the file, as a CacheError; None when it says
    nothing lasting of it (busy for a moment) or is rse's own mistake."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    why = str(exc)
    if not name or name.startswith(_PASSING):
        return None
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return CacheError(path, f"is damaged ({why})", _REBUILD)
    if name == "SQLITE_ERROR":
        if _MISMATCH.match(why):
            return CacheError(path, f"does not match this rse ({why})", _REBUILD)
        return None  # a statement of rse's that is wrong: a bug, not the file
    return CacheError(path, f"cannot be used ({why})", _CHECK)


@contextlib.contextmanager
def guard(path: Path) -> Iterator[None]:
    """Raise the SQLite errors that say ``path`` cannot be used as CacheError."""
    try:
        yield
    except sqlite3.Error as exc:
        error = unusable(exc, path)
        if error is None:
            raise
        raise error from exc
