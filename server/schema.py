"""The server's database schema, as numbered migrations.

``PRAGMA user_version`` records how many migrations a file has had; opening a
file runs the missing ones in order, each in its own transaction. Add a
migration at the end of ``MIGRATIONS``; never edit one that has shipped.
"""

from __future__ import annotations

import json
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


def _governance(db: sqlite_utils.Database) -> None:
    """Group tree, visibility, publishing rules, roles, charter, directory, DMs."""
    groups = db["groups"]
    groups.add_column("parent", int)  # type: ignore[union-attr]
    for column, default in (
        ("visibility", "open"),
        ("post_policy", "everyone"),
        ("chat_policy", "everyone"),
        ("comment_policy", "everyone"),
        ("description", ""),
    ):
        db.execute(f"ALTER TABLE groups ADD COLUMN {column} TEXT NOT NULL DEFAULT '{default}'")
    # Direct chats are secret groups keyed by the pair of users ("3:8").
    groups.add_column("dm_key", str)  # type: ignore[union-attr]
    db.execute("CREATE UNIQUE INDEX groups_dm ON groups(dm_key) WHERE dm_key IS NOT NULL")
    # Names are unique among groups that are not secret, which code enforces:
    # a unique index would tell a non-member that a secret group exists.
    db.execute("DROP INDEX groups_name")
    db.execute("CREATE INDEX groups_name ON groups(name COLLATE NOCASE)")
    db.execute("CREATE INDEX groups_parent ON groups(parent)")
    db.execute("ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member'")
    db.execute(
        "UPDATE members SET role = 'moderator'"
        " WHERE EXISTS (SELECT 1 FROM groups g WHERE g.id = grp AND g.creator = user)"
    )
    db.execute("ALTER TABLE users ADD COLUMN title TEXT NOT NULL DEFAULT ''")
    db["users"].add_column("badge", str)  # type: ignore[union-attr]
    db.execute("ALTER TABLE users ADD COLUMN charter INTEGER NOT NULL DEFAULT 0")
    db.execute(
        "CREATE TABLE join_requests (grp INTEGER NOT NULL REFERENCES groups(id),"
        " user INTEGER NOT NULL REFERENCES users(id), ts INTEGER NOT NULL,"
        " PRIMARY KEY (grp, user)) WITHOUT ROWID"
    )
    db["charters"].create(  # type: ignore[union-attr]
        {"version": int, "text": str, "ts": int}, pk="version", not_null={"text", "ts"}
    )
    db["invites"].add_column("inviter", int)  # type: ignore[union-attr]
    db.execute(
        "CREATE TABLE invite_groups (invite INTEGER NOT NULL REFERENCES invites(id),"
        " grp INTEGER NOT NULL REFERENCES groups(id), PRIMARY KEY (invite, grp)) WITHOUT ROWID"
    )


def _moderation(db: sqlite_utils.Database) -> None:
    """Deleted messages keep their place in the log but lose their text; pins."""
    db.execute("ALTER TABLE events ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0")
    db.execute(
        "CREATE TABLE pins (grp INTEGER NOT NULL REFERENCES groups(id),"
        " seq INTEGER NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (grp, seq)) WITHOUT ROWID"
    )


def _edits(db: sqlite_utils.Database) -> None:
    """Replies and edits: ``ref`` is the message a reply answers or an edit changes;
    ``edited`` is when a message's text was last changed."""
    db.execute("ALTER TABLE events ADD COLUMN ref INTEGER")
    db.execute("ALTER TABLE events ADD COLUMN edited INTEGER")
    db.execute("CREATE INDEX events_ref ON events(ref) WHERE ref IS NOT NULL")


def _catch_up_indexes(db: sqlite_utils.Database) -> None:
    """Catch-up reads what one user may see through these, never the whole log:
    a group's events in order (covering: the filters are in the index), the
    events every user sees, and each user's own joins, leaves and requests."""
    db.execute("CREATE INDEX events_grp_seq ON events(grp, seq, kind, deleted)")
    db.execute("CREATE INDEX events_everyone ON events(seq) WHERE kind IN ('g', 'h')")
    db.execute("CREATE INDEX events_own ON events(user, seq) WHERE kind IN ('j', 'l', 'q')")


def _reactions(db: sqlite_utils.Database) -> None:
    """Who put which reaction on which message (the current state; the log has
    each change as a ``k`` event)."""
    db.execute(
        "CREATE TABLE reactions (target INTEGER NOT NULL, user INTEGER NOT NULL,"
        " emoji TEXT NOT NULL, grp INTEGER NOT NULL, PRIMARY KEY (target, user, emoji))"
        " WITHOUT ROWID"
    )


def _feed(db: sqlite_utils.Database) -> None:
    """Posts' extras (``meta``, the PostEvent fields a post has besides its
    text: title, announcement, poll with its results); ballots of polls that
    are not anonymous; who voted in anonymous ones (no choice, no time, no
    order: a WITHOUT ROWID table keeps only the key); acknowledgements;
    read markers (group 0: the inbox); posts featured for everyone. The
    user's own sources gain acknowledgements and read markers, everyone's
    gain featured posts."""
    db.execute("ALTER TABLE events ADD COLUMN meta TEXT")
    db.execute(
        "CREATE TABLE ballots (poll INTEGER NOT NULL, user INTEGER NOT NULL,"
        " choices TEXT NOT NULL, PRIMARY KEY (poll, user)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE voted (poll INTEGER NOT NULL, user INTEGER NOT NULL,"
        " PRIMARY KEY (poll, user)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE acks (post INTEGER NOT NULL, user INTEGER NOT NULL,"
        " PRIMARY KEY (post, user)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE reads (user INTEGER NOT NULL, grp INTEGER NOT NULL,"
        " upto INTEGER NOT NULL, PRIMARY KEY (user, grp)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE featured (seq INTEGER PRIMARY KEY, grp INTEGER NOT NULL, ts INTEGER NOT NULL)"
    )
    db.execute("DROP INDEX events_everyone")
    db.execute("CREATE INDEX events_everyone ON events(seq) WHERE kind IN ('g', 'h', 'f')")
    db.execute("DROP INDEX events_own")
    db.execute(
        "CREATE INDEX events_own ON events(user, seq) WHERE kind IN ('j', 'l', 'q', 'a', 'rd')"
    )


def _unordered_ballots(db: sqlite_utils.Database) -> None:
    """Who voted in an anonymous poll, with no order: one sorted list per poll
    (``[user, write id]`` pairs), rewritten whole at each vote; a table of
    rows kept the order they came in (a page holds its cells in arrival
    order). The votes not yet counted in the post are a sum per poll,
    published every ``tally_every`` seconds (see storage.feed)."""
    db.execute(
        "CREATE TABLE anon_voters (poll INTEGER PRIMARY KEY, voters TEXT NOT NULL, pending TEXT)"
    )
    polls: dict[int, list[list[int | str]]] = {}
    for poll, user in db.execute("SELECT poll, user FROM voted").fetchall():
        polls.setdefault(poll, []).append([user, ""])
    for poll, voters in polls.items():
        db.execute(
            "INSERT INTO anon_voters (poll, voters) VALUES (?, ?)",
            (poll, json.dumps(sorted(voters), separators=(",", ":"))),
        )
    db.execute("DROP TABLE voted")


def _event_targets(db: sqlite_utils.Database) -> None:
    """Reactions and pins name their message in ``ref`` too (as votes,
    acknowledgements and features do), so that a deleted message's are
    found by the index and go with it; and what deleted posts left behind
    before (their votes, reactions, pins, features, acknowledgements, ballots
    and voters) goes now."""
    db.execute(
        "UPDATE events SET ref = CAST(json_extract(body, '$.tg') AS INTEGER)"
        " WHERE kind IN ('k', 'n') AND ref IS NULL AND body IS NOT NULL"
    )
    from .storage.timeline import forget_message  # the one rule for what goes with a message

    deleted = db.execute(
        "SELECT seq FROM events WHERE deleted = 1 AND kind IN ('p', 'c', 'm')"
    ).fetchall()
    for (seq,) in deleted:
        forget_message(db.conn, seq)


def _anonymous_write_marks(db: sqlite_utils.Database) -> None:
    """Anonymous polls' voter lists keep a hash of each vote's client write
    id, no longer the id itself (which a client may have made of a time)."""
    from .storage.feed import write_mark

    for poll, voters in db.execute("SELECT poll, voters FROM anon_voters").fetchall():
        marked = sorted(([user, write_mark(str(cid))] for user, cid in json.loads(voters)),
                        key=lambda v: (v[0], v[1]))  # fmt: skip
        db.execute(
            "UPDATE anon_voters SET voters = ? WHERE poll = ?",
            (json.dumps(marked, separators=(",", ":")), poll),
        )


def _search(db: sqlite_utils.Database) -> None:
    """Full-text search: an FTS5 index of chat messages, posts (text, title)
    and comments, by sequence number; what is stored already goes in."""
    from .storage.search import backfill

    db.execute("DROP TABLE IF EXISTS search")  # a migration run again builds it anew
    db.execute(
        "CREATE VIRTUAL TABLE search USING fts5(text, title,"
        " tokenize = 'unicode61 remove_diacritics 2')"
    )
    backfill(db.conn)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _initial,
    _governance,
    _moderation,
    _edits,
    _catch_up_indexes,
    _reactions,
    _feed,
    _unordered_ballots,
    _event_targets,
    _anonymous_write_marks,
    _search,
]
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
