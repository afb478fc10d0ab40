"""Operations on a server's database file, outside a running server.

Opening a database (made if asked, checked, migrated), minting invitations,
finding groups by name: what ``rse-server``'s commands do, and what the demo,
the benchmarks and the tests do to set a server up. A server running on the
same file sees each change at once (see ``server.database``).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import platformdirs

from . import auth, storage
from .database import connect
from .schema import migrate


class AdminError(Exception):
    """Why an operation could not be done, in one line. ``usage``: what the
    caller named is wrong (a mistyped path), rather than the operation failing."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def default_db() -> Path:
    return platformdirs.user_data_path("rse-server") / "rse.db"


def open_db(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """The rse database at ``path``, brought up to date; AdminError saying why not.

    Only ``serve`` creates a missing file: for the other commands a missing
    file is a mistyped ``--db``, and a new empty database would hide it.
    """
    if path.is_dir():
        raise AdminError(f"{path} is a directory: --db names the database file", usage=True)
    if not path.exists():
        if not create:
            raise AdminError(
                f"no database at {path}: check --db ('rse-server serve --db {path}' creates one)",
                usage=True,
            )
        if path == default_db():  # the data directory is ours to make
            try:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise AdminError(f"cannot create {path.parent}: {exc.strerror}") from None
        elif not path.parent.is_dir():  # a mistyped --db: no directories made for it
            raise AdminError(f"no directory {path.parent} for --db {path}", usage=True)
        try:
            # Private from the start: password hashes, direct messages, secret
            # groups. SQLite gives its -wal and -shm files the same mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise AdminError(f"cannot create {path}: {exc.strerror}") from None
    try:
        conn = connect(path)
    except sqlite3.Error as exc:
        raise _db_error(path, exc) from None
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        foreign = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version == 0 and foreign:
            raise AdminError(f"{path} is a SQLite database, but not an rse one", usage=True)
        migrate(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise _db_error(path, exc) from None
    except RuntimeError as exc:  # a schema newer than this server
        conn.close()
        raise AdminError(f"{path}: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _db_error(path: Path, exc: sqlite3.Error) -> AdminError:
    text = str(exc)
    if "not a database" in text:
        return AdminError(f"{path} is not an rse database (not a SQLite file)", usage=True)
    if "unable to open" in text:
        return AdminError(f"cannot open the database {path} (check its permissions)")
    if "locked" in text or "busy" in text:
        return AdminError(f"the database {path} is busy: {text}")
    return AdminError(f"cannot use the database {path}: {text}")


def mint_invite(
    conn: sqlite3.Connection, *, admin: bool, hours: float, groups: list[int] | None = None
) -> str:
    code = auth.new_invite_code()
    now = int(time.time())
    with storage.transaction(conn):
        storage.create_invite(
            conn,
            auth.digest(code),
            admin=admin,
            now=now,
            expires=now + int(hours * 3600),
            groups=groups or [],
        )
    return code


def group_ids(conn: sqlite3.Connection, names: list[str]) -> list[int]:
    ids = []
    for name in names:
        rows = conn.execute(
            "SELECT id FROM groups WHERE name = ? COLLATE NOCASE AND dm_key IS NULL", (name,)
        ).fetchall()
        if len(rows) != 1:
            what = "no group" if not rows else "several groups"
            raise AdminError(f"{what} named {name!r}")
        ids.append(rows[0][0])
    return ids
