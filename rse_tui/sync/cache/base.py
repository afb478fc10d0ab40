"""What every part of the cache shares: the file, its transactions, who we are."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from rse_tui.mentions import mention_pattern
from rse_tui.protocol import ChatEvent, PostEvent

from .errors import guard
from .schema import migrate

#: The kinds of messages a group's history is paged by: chat and feed posts
#: (comments come with their post's thread).
KINDS = (ChatEvent.TYPE, PostEvent.TYPE)


class Tx:
    """BEGIN IMMEDIATE ... COMMIT, re-entrant (inner uses join the outer)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
            self.outer = True
        return self.conn

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if not self.outer:
            return
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


class CacheBase:
    """The open file (WAL, private), its key-value settings and our identity."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():  # private from the start, and so are -wal and -shm
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        with guard(path):
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            with guard(path):
                self._open()
        except BaseException:
            self.conn.close()
            raise
        self._me: int | None = None
        self._my_name: str | None = None
        self._mention: re.Pattern[str] | None = None
        self.conn.create_function("mentions_me", 1, self._mentions_me)

    def _open(self) -> None:
        self.conn.execute("PRAGMA busy_timeout = 5000")
        mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":  # a network file system: fall back to a rollback journal
            self.conn.execute("PRAGMA journal_mode = DELETE")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        migrate(self.conn, self.path)

    def close(self) -> None:
        self.conn.close()

    def guarded(self) -> contextlib.AbstractContextManager[None]:
        """Around calls to the cache: the errors that say its file cannot be
        used, as CacheError (CacheWorker's calls are; direct ones may be)."""
        return guard(self.path)

    def _tx(self) -> Tx:
        return Tx(self.conn)

    # -- settings ----------------------------------------------------------------------

    def get(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set(self, key: str, value: str | int) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )

    def cursor(self) -> int:
        """The sync cursor: the last event of the pushed stream applied here."""
        return int(self.get("cursor", "0") or 0)

    # -- who we are --------------------------------------------------------------------

    def identity(self) -> tuple[int | None, str | None]:
        user = self.get("user")
        return (int(user) if user else None), self.get("name")

    def set_identity(self, user: int, name: str) -> None:
        with self._tx():
            self.set("user", user)
            self.set("name", name)
            self.conn.execute("INSERT OR REPLACE INTO users (id, name) VALUES (?, ?)", (user, name))

    def _me_and_pattern(self) -> tuple[int | None, re.Pattern[str] | None]:
        """Who we are, and what mentions us: our name, everyone, our groups."""
        if self._me is None:
            self._me, self._my_name = self.identity()
        if self._mention is None and self._my_name:
            groups = tuple(
                r[0]
                for r in self.conn.execute(
                    "SELECT name FROM groups WHERE member = 1 AND dm IS NULL AND known = 1"
                )
            )
            self._mention = mention_pattern(self._my_name, groups)
        return self._me, self._mention

    def _forget_pattern(self) -> None:
        """Our groups changed: what mentions us is read again when next needed."""
        self._mention = None

    def _mentions_me(self, text: str | None) -> bool:
        _, pattern = self._me_and_pattern()
        return bool(text and pattern is not None and pattern.search(text))
