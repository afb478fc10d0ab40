"""The server's database schema, as numbered migrations.

``PRAGMA user_version`` records how many migrations a file has had; opening a
file runs the missing ones in order, each in its own transaction. Add a
migration at the end of ``MIGRATIONS``; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import sqlite_utils


def _initial(db: sqlite_utils.Database) -> None:
    db["users"].create(  # type: ignore[union-attr]
        {"id": int, "name": str, "pw": str, "created": int, "admin": int},
        pk="id",
        not_null={"name", "pw", "created", "admin"},
        defaults={"admin": 0},
    )
    db.execute("CREATE UNIQUE INDEX users_name ON users(name COLLATE NOCASE)")
    db["tokens"].create(  # type: ignore[union-attr]
        {"id": int, "user": int, "hash": bytes, "created": int, "last_used": int},
        pk="id",
        not_null={"user", "hash", "created"},
        foreign_keys=[("user", "users", "id")],
    )
    db["tokens"].create_index(["user"])  # type: ignore[union-attr]
    db["invites"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "hash": bytes,
            "admin": int,
            "created": int,
            "expires": int,
            "used_by": int,
        },
        pk="id",
        not_null={"hash", "admin", "created", "expires"},
    )
    db["invites"].create_index(["hash"], unique=True)  # type: ignore[union-attr]
    db["groups"].create(  # type: ignore[union-attr]
        {"id": int, "name": str, "creator": int, "created": int},
        pk="id",
        not_null={"name", "creator", "created"},
    )
    db.execute("CREATE UNIQUE INDEX groups_name ON groups(name COLLATE NOCASE)")
    db.execute(
        "CREATE TABLE members (grp INTEGER NOT NULL REFERENCES groups(id),"
        " user INTEGER NOT NULL REFERENCES users(id), joined INTEGER NOT NULL,"
        " PRIMARY KEY (grp, user)) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX members_user ON members(user, grp)")
    # The event log: every stored change, numbered server-wide. AUTOINCREMENT
    # keeps numbers strictly increasing even if rows are ever deleted.
    db.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " kind TEXT NOT NULL, grp INTEGER, user INTEGER NOT NULL,"
        " ts INTEGER NOT NULL, body TEXT)"
    )
    db.execute("CREATE INDEX events_grp_kind ON events(grp, kind, seq)")
    # Idempotency receipts: the first result of each (user, client id) write.
    db.execute(
        "CREATE TABLE receipts (user INTEGER NOT NULL, cid TEXT NOT NULL,"
        " result TEXT NOT NULL, PRIMARY KEY (user, cid)) WITHOUT ROWID"
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_initial]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the database on ``conn`` to the current schema version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema {version} is newer than this server ({SCHEMA_VERSION})"
        )
    db = sqlite_utils.Database(conn)
    for number in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[number](db)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
