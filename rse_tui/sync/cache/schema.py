"""The cache file's schema: one migration per version, applied in order.

``PRAGMA user_version`` counts the migrations a file has had (the server's
database has the same shape, server/schema.py). A change of schema is a new
function at the end of ``MIGRATIONS``; one that has shipped never changes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rse_tui.protocol import REQUESTS, WriteRequest, encode

from .errors import newer


def _initial(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute(
        "CREATE TABLE groups (id INTEGER PRIMARY KEY, name TEXT,"
        " member INTEGER DEFAULT 0, members INTEGER DEFAULT 0, read_seq INTEGER DEFAULT 0)"
    )
    conn.execute(
        "CREATE TABLE messages (seq INTEGER PRIMARY KEY, grp INTEGER NOT NULL,"
        " kind TEXT NOT NULL, user INTEGER NOT NULL, ts INTEGER NOT NULL, text TEXT NOT NULL)"
    )
    conn.execute("CREATE INDEX messages_grp_kind ON messages(grp, kind, seq)")
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute(
        "CREATE TABLE outbox (n INTEGER PRIMARY KEY AUTOINCREMENT, cid TEXT UNIQUE NOT NULL,"
        " op TEXT NOT NULL, grp INTEGER, text TEXT, created REAL NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0, error TEXT)"
    )
    conn.execute("CREATE TABLE drafts (grp INTEGER PRIMARY KEY, text TEXT)")
    conn.execute(
        "CREATE TABLE holes (grp INTEGER NOT NULL, kind TEXT NOT NULL, lo INTEGER NOT NULL,"
        " hi INTEGER NOT NULL, PRIMARY KEY (grp, kind, lo)) WITHOUT ROWID"
    )


def _governance(conn: sqlite3.Connection) -> None:
    """The group tree, visibility and rules, roles, titles, badges."""
    for column, kind in (
        ("parent", "INTEGER"),
        ("visibility", "TEXT NOT NULL DEFAULT 'open'"),
        ("moderator", "INTEGER NOT NULL DEFAULT 0"),
        ("post_policy", "TEXT NOT NULL DEFAULT 'everyone'"),
        ("chat_policy", "TEXT NOT NULL DEFAULT 'everyone'"),
        ("comment_policy", "TEXT NOT NULL DEFAULT 'everyone'"),
        ("description", "TEXT NOT NULL DEFAULT ''"),
        ("dm", "INTEGER"),
        ("requested", "INTEGER NOT NULL DEFAULT 0"),
        ("pending", "INTEGER NOT NULL DEFAULT 0"),
    ):
        conn.execute(f"ALTER TABLE groups ADD COLUMN {column} {kind}")
    conn.execute("ALTER TABLE users ADD COLUMN title TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE users ADD COLUMN badge TEXT")
    conn.execute("ALTER TABLE outbox ADD COLUMN args TEXT")
    conn.execute(
        "CREATE TABLE roles (grp INTEGER NOT NULL, user INTEGER NOT NULL, role TEXT NOT NULL,"
        " PRIMARY KEY (grp, user)) WITHOUT ROWID"
    )


def _moderation(conn: sqlite3.Connection) -> None:
    """Pinned messages."""
    conn.execute("ALTER TABLE messages ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")


def _unread_index(conn: sqlite3.Connection) -> None:
    """Unread counts are a range scan, not a walk through a group's history."""
    conn.execute("CREATE INDEX messages_grp_seq ON messages(grp, seq)")


def _known_groups(conn: sqlite3.Connection) -> None:
    """A group an event named before the cache knew it waits to be asked about."""
    conn.execute("ALTER TABLE groups ADD COLUMN known INTEGER NOT NULL DEFAULT 1")
    conn.execute("UPDATE groups SET known = 0 WHERE name = '?' OR (name = 'direct' AND dm IS NULL)")


def _edits(conn: sqlite3.Connection) -> None:
    """When a message was last edited, and the message a reply answers."""
    conn.execute("ALTER TABLE messages ADD COLUMN edited INTEGER")
    conn.execute("ALTER TABLE messages ADD COLUMN reply INTEGER")


def _amends(conn: sqlite3.Connection) -> None:
    """The last edit, deletion and pin the cache heard of, per message, with
    the sequence number of the event that said it. A message stored after
    them (a history page asked for before, an acknowledgement answered after)
    takes them on, instead of coming back as it was. They hold while the
    cache follows the group: out of it, they go with its messages."""
    conn.execute(
        "CREATE TABLE amends (seq INTEGER PRIMARY KEY, grp INTEGER,"
        " deleted INTEGER NOT NULL DEFAULT 0,"
        " text TEXT, edited INTEGER, edit_seq INTEGER NOT NULL DEFAULT 0,"
        " pinned INTEGER, pin_seq INTEGER NOT NULL DEFAULT 0)"
    )
    # A group just joined: its pins, head and count are asked for again (a
    # history page does not say which messages are pinned).
    conn.execute("ALTER TABLE groups ADD COLUMN stale INTEGER NOT NULL DEFAULT 0")


def _outbox_frames(conn: sqlite3.Connection) -> None:
    """The outbox keeps each write as the request it is (its wire form), not
    an operation name and loose arguments. The old columns ``op``, ``grp``
    and ``text`` stay, for the views; ``args`` is no longer written."""
    conn.execute("ALTER TABLE outbox ADD COLUMN frame TEXT")
    rows = conn.execute("SELECT n, cid, op, grp, text, args FROM outbox").fetchall()
    for n, cid, op, group, text, args in rows:
        kind: Any = REQUESTS.get(op)
        if kind is None or not kind.WRITE:
            conn.execute("DELETE FROM outbox WHERE n = ?", (n,))  # nothing could send it
            continue
        fields = json.loads(args) if args else {}
        if group is not None:
            fields["group"] = group
        if text is not None:
            fields["name" if op == "gcreate" else "text"] = text
        request = kind(request_id=0, cid=cid, **fields)
        assert isinstance(request, WriteRequest)
        conn.execute("UPDATE outbox SET frame = ?, args = NULL WHERE n = ?", (encode(request), n))


def _message_cids(conn: sqlite3.Connection) -> None:
    """One's own messages keep the client id they were written with: an edit
    or a reply begun while the message was still being sent finds it."""
    conn.execute("ALTER TABLE messages ADD COLUMN cid TEXT")
    conn.execute("CREATE INDEX messages_cid ON messages(cid) WHERE cid IS NOT NULL")


def _deletion_versions(conn: sqlite3.Connection) -> None:
    """A deletion, like an edit or a pin, says which event made it: another
    process of the profile finds what changed since it last looked."""
    conn.execute("ALTER TABLE amends ADD COLUMN del_seq INTEGER NOT NULL DEFAULT 0")


def _reactions(conn: sqlite3.Connection) -> None:
    """Who put which reaction on which message: ``present`` as of event
    ``version`` (a reaction taken back stays, absent, so that older news of
    it, a page asked for before, does not bring it back)."""
    conn.execute(
        "CREATE TABLE reactions (target INTEGER NOT NULL, user INTEGER NOT NULL,"
        " emoji TEXT NOT NULL, grp INTEGER NOT NULL, present INTEGER NOT NULL,"
        " version INTEGER NOT NULL, PRIMARY KEY (target, user, emoji)) WITHOUT ROWID"
    )


def _feed(conn: sqlite3.Connection) -> None:
    """A post's title, announcement flag and poll (its options, as JSON in
    the wire's form; the results apart, in ``polls``, as of a vote event);
    comments (messages of kind ``m`` whose ``reply`` is the post); how many
    comments or replies a message has (``threads``, as of an event); my
    acknowledgements and votes (``mine``: they outlive a message leaving the
    cache); posts featured for everyone; an edit's new title in ``amends``
    (NULL: unchanged, '': none)."""
    conn.execute("ALTER TABLE messages ADD COLUMN title TEXT")
    conn.execute("ALTER TABLE messages ADD COLUMN ack INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE messages ADD COLUMN poll TEXT")
    conn.execute("CREATE INDEX messages_reply ON messages(reply) WHERE reply IS NOT NULL")
    conn.execute("ALTER TABLE amends ADD COLUMN title TEXT")
    for table in ("polls", "threads"):
        value = (
            "counts TEXT NOT NULL, voters INTEGER NOT NULL"
            if table == "polls"
            else ("count INTEGER NOT NULL")
        )
        conn.execute(
            f"CREATE TABLE {table} (target INTEGER PRIMARY KEY, grp INTEGER NOT NULL,"
            f" {value}, version INTEGER NOT NULL)"
        )
    conn.execute(
        "CREATE TABLE mine (target INTEGER PRIMARY KEY, acked INTEGER NOT NULL DEFAULT 0,"
        " voted TEXT)"
    )
    conn.execute(
        "CREATE TABLE featured (target INTEGER PRIMARY KEY, grp INTEGER NOT NULL,"
        " present INTEGER NOT NULL, version INTEGER NOT NULL)"
    )


def _reaction_moments(conn: sqlite3.Connection) -> None:
    """When a reaction was put: the sequence number of the event that put it
    (0: known only from a page). ``version`` moves with every page that
    confirms it, so the inbox orders and marks reactions by this instead."""
    conn.execute("ALTER TABLE reactions ADD COLUMN put_seq INTEGER NOT NULL DEFAULT 0")


def _count_indexes(conn: sqlite3.Connection) -> None:
    """The group list's counts and the portal's pinned posts from indexes:
    unread lines by group, sequence and author (covering), mentions among the
    lines that have an "@" (a partial index: only those rows are read for their
    text), and pinned posts."""
    conn.execute("CREATE INDEX messages_grp_user ON messages(grp, seq, user)")
    conn.execute("DROP INDEX messages_grp_seq")
    conn.execute("CREATE INDEX messages_at ON messages(grp, seq) WHERE instr(text, '@') > 0")
    # The portal's pinned posts, without a walk through every post.
    conn.execute("CREATE INDEX messages_pinned ON messages(grp, seq) WHERE pinned = 1")


def _seen_posts(conn: sqlite3.Connection) -> None:
    """Posts opened on this device past their group's read mark (Home shows
    them read); a row goes when the group's mark passes it."""
    conn.execute("CREATE TABLE seen (seq INTEGER PRIMARY KEY, grp INTEGER NOT NULL)")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _initial,
    _governance,
    _moderation,
    _unread_index,
    _known_groups,
    _edits,
    _amends,
    _outbox_frames,
    _message_cids,
    _deletion_versions,
    _reactions,
    _feed,
    _reaction_moments,
    _count_indexes,
    _seen_posts,
]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the cache on ``conn`` (autocommit mode) to the current schema."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise newer(path, version, SCHEMA_VERSION)
    for number in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[number](conn)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
