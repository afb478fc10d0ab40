"""The local cache: one SQLite file per profile, the UI's source of truth.

It holds the groups, messages and user names seen so far, the sync cursor,
the outbox of writes not yet acknowledged, drafts, and "holes": ranges of
history the cache knows it lacks (before a join, or skipped by a gap), which
are filled from the server page by page when a view reaches them.

:class:`Cache` is synchronous and must be used from one thread;
:class:`CacheWorker` runs its methods on a dedicated thread for async code.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from rse_tui.mentions import mention_pattern
from rse_tui.protocol import (
    CharterEvent,
    ChatEvent,
    DeleteEvent,
    EditEvent,
    Event,
    GroupEvent,
    GroupInfo,
    JoinEvent,
    LeaveEvent,
    PinEvent,
    PostEvent,
    RequestEvent,
    UserInfo,
    WriteOk,
)

from .models import Changes, GroupRow, MessageRow, OutboxItem

P = ParamSpec("P")
T = TypeVar("T")

KINDS = (ChatEvent.TYPE, PostEvent.TYPE)
SCHEMA_VERSION = 7


def _schema(conn: sqlite3.Connection) -> None:
    # Imported here: only a new cache needs it, and start-up time matters.
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    db["meta"].create({"key": str, "value": str}, pk="key")  # type: ignore[union-attr]
    db["groups"].create(  # type: ignore[union-attr]
        {"id": int, "name": str, "member": int, "members": int, "read_seq": int},
        pk="id",
        defaults={"member": 0, "members": 0, "read_seq": 0},
    )
    db.execute(
        "CREATE TABLE messages (seq INTEGER PRIMARY KEY, grp INTEGER NOT NULL,"
        " kind TEXT NOT NULL, user INTEGER NOT NULL, ts INTEGER NOT NULL, text TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX messages_grp_kind ON messages(grp, kind, seq)")
    db["users"].create({"id": int, "name": str}, pk="id")  # type: ignore[union-attr]
    db.execute(
        "CREATE TABLE outbox (n INTEGER PRIMARY KEY AUTOINCREMENT, cid TEXT UNIQUE NOT NULL,"
        " op TEXT NOT NULL, grp INTEGER, text TEXT, created REAL NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0, error TEXT)"
    )
    db["drafts"].create({"grp": int, "text": str}, pk="grp")  # type: ignore[union-attr]
    db.execute(
        "CREATE TABLE holes (grp INTEGER NOT NULL, kind TEXT NOT NULL, lo INTEGER NOT NULL,"
        " hi INTEGER NOT NULL, PRIMARY KEY (grp, kind, lo)) WITHOUT ROWID"
    )


def _governance(conn: sqlite3.Connection) -> None:
    """Schema 2: the group tree, visibility and rules, roles, titles, badges."""
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
    """Schema 3: pinned messages."""
    conn.execute("ALTER TABLE messages ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")


def _unread_index(conn: sqlite3.Connection) -> None:
    """Schema 4: unread counts are a range scan, not a walk through a group's history."""
    conn.execute("CREATE INDEX messages_grp_seq ON messages(grp, seq)")


def _known_groups(conn: sqlite3.Connection) -> None:
    """Schema 5: a group an event named before the cache knew it waits to be asked about."""
    conn.execute("ALTER TABLE groups ADD COLUMN known INTEGER NOT NULL DEFAULT 1")
    conn.execute("UPDATE groups SET known = 0 WHERE name = '?' OR (name = 'direct' AND dm IS NULL)")


def _edits(conn: sqlite3.Connection) -> None:
    """Schema 6: when a message was last edited, and the message a reply answers."""
    conn.execute("ALTER TABLE messages ADD COLUMN edited INTEGER")
    conn.execute("ALTER TABLE messages ADD COLUMN reply INTEGER")


def _amends(conn: sqlite3.Connection) -> None:
    """Schema 7: the last edit, deletion and pin the cache heard of, per message,
    with the sequence number of the event that said it. A message stored
    after them (a history page asked for before, an acknowledgement answered
    after) takes them on, instead of coming back as it was. They hold while
    the cache follows the group: out of it, they go with its messages."""
    conn.execute(
        "CREATE TABLE amends (seq INTEGER PRIMARY KEY, grp INTEGER,"
        " deleted INTEGER NOT NULL DEFAULT 0,"
        " text TEXT, edited INTEGER, edit_seq INTEGER NOT NULL DEFAULT 0,"
        " pinned INTEGER, pin_seq INTEGER NOT NULL DEFAULT 0)"
    )
    # A group just joined: its pins, head and count are asked for again (a
    # history page does not say which messages are pinned).
    conn.execute("ALTER TABLE groups ADD COLUMN stale INTEGER NOT NULL DEFAULT 0")


def _behind_us(event: Event, given_back: dict[tuple[int, str], list[tuple[int, int]]]) -> bool:
    """A message pushed before a change of ours that the cache has applied
    already, acknowledged out of turn (a leave: its range is a hole, the
    server's to tell again); stored now, it would be a stale copy (of a group
    we are out of). Pages fill holes; the stream does not."""
    if not isinstance(event, ChatEvent | PostEvent):
        return False
    ranges = given_back.get((event.group, event.TYPE), ())
    return any(lo < event.seq <= hi for lo, hi in ranges)


_MIGRATIONS = {
    2: _governance,
    3: _moderation,
    4: _unread_index,
    5: _known_groups,
    6: _edits,
    7: _amends,
}


def new_cid() -> str:
    """A client write id: 72 random bits in 12 URL-safe characters.

    Ids only need to be unique per user; 72 bits make a collision among a
    user's writes vanishingly unlikely, and every byte here crosses the wire.
    """
    return secrets.token_urlsafe(9)


@dataclass(frozen=True, slots=True)
class Mark:
    """What this process last saw of the file's changes by other processes."""

    version: int  # PRAGMA data_version: moves when another connection commits
    top: int  # the newest message stored
    outbox: frozenset[tuple[str, int | None, str | None]]  # (cid, group, error)


class Cache:
    """The cache of one profile. Not thread-safe: see CacheWorker."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():  # private from the start, and so are -wal and -shm
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout = 5000")
        self._wal()
        self.conn.execute("PRAGMA synchronous = NORMAL")
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            with self._tx():
                _schema(self.conn)
                self.conn.execute("PRAGMA user_version = 1")
            version = 1
        for number in range(version + 1, SCHEMA_VERSION + 1):
            with self._tx():
                _MIGRATIONS[number](self.conn)
                self.conn.execute(f"PRAGMA user_version = {number}")
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"cache {path} is from a newer rse; move it away")
        self._me: int | None = None
        self._my_name: str | None = None
        self._mention: re.Pattern[str] | None = None
        self.conn.create_function("mentions_me", 1, self._mentions_me)

    def _mentions_me(self, text: str | None) -> bool:
        _, pattern = self._me_and_pattern()
        return bool(text and pattern is not None and pattern.search(text))

    def _wal(self) -> None:
        mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":  # a network file system: fall back to a rollback journal
            self.conn.execute("PRAGMA journal_mode = DELETE")

    def close(self) -> None:
        self.conn.close()

    def _tx(self) -> _Tx:
        return _Tx(self.conn)

    # -- meta ------------------------------------------------------------------

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
        return int(self.get("cursor", "0") or 0)

    def identity(self) -> tuple[int | None, str | None]:
        user = self.get("user")
        return (int(user) if user else None), self.get("name")

    def set_identity(self, user: int, name: str) -> None:
        with self._tx():
            self.set("user", user)
            self.set("name", name)
            self.conn.execute("INSERT OR REPLACE INTO users (id, name) VALUES (?, ?)", (user, name))

    def _me_and_pattern(self) -> tuple[int | None, re.Pattern[str] | None]:
        if self._me is None:
            self._me, self._my_name = self.identity()
            if self._my_name:
                self._mention = mention_pattern(self._my_name)
        return self._me, self._mention

    # -- other processes of the profile ------------------------------------------

    def mark(self) -> Mark:
        """Where to start following what other processes change (see changed_elsewhere)."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        top = self.conn.execute("SELECT coalesce(max(seq), 0) FROM messages").fetchone()[0]
        return Mark(version, top, self._outbox_state())

    def _outbox_state(self) -> frozenset[tuple[str, int | None, str | None]]:
        return frozenset(self.conn.execute("SELECT cid, grp, error FROM outbox").fetchall())

    def changed_elsewhere(self, mark: Mark) -> tuple[Mark, Changes]:
        """What other processes of the profile changed in this file since ``mark``.

        Each process hears of the events its own connection brings; what only
        the file knows is found here: another process's writes being queued,
        answered or refused (the outbox), and messages it stored that this
        process was not sent (it resumed from a cursor another one moved).
        Cheap when nothing changed: one pragma.
        """
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version == mark.version:
            return mark, Changes()
        changes = Changes()
        with self._tx():
            outbox = self._outbox_state()
            rows = self.conn.execute(
                "SELECT grp, seq FROM messages WHERE seq > ? ORDER BY seq", (mark.top,)
            ).fetchall()
        for _, group, _ in outbox ^ mark.outbox:
            changes.outbox = True
            if group is not None:
                changes.messages.setdefault(group, [])
        for group, seq in rows:
            changes.messages.setdefault(group, []).append(seq)
        if rows:
            changes.groups = True  # unread counts
        top = rows[-1][1] if rows else mark.top
        return Mark(version, top, outbox), changes

    # -- applying what the server says -------------------------------------------

    def apply(self, events: Iterable[Event], cursor: int | None = None) -> Changes:
        """Store events (idempotently) and advance the cursor, in one transaction.

        The changes name every event given, stored now or before (by another
        process of the profile): each process reports what it received.
        """
        changes = Changes()
        me, mention = self._me_and_pattern()
        top = self.cursor()
        with self._tx():
            given_back = self._given_back()
            for event in events:
                top = max(top, event.seq)
                if _behind_us(event, given_back):
                    continue
                self._apply_one(event, me, mention, changes)
            if cursor is not None:
                top = max(top, cursor)
            self.set("cursor", top)
        return changes

    def _given_back(self) -> dict[tuple[int, str], list[tuple[int, int]]]:
        """The ranges given back to the server of groups we are out of, by
        (group, kind). Read once a batch: within it, a leave or a join only
        touches ranges below the events that follow it in the stream."""
        out: dict[tuple[int, str], list[tuple[int, int]]] = {}
        for grp, kind, lo, hi in self.conn.execute(
            "SELECT h.grp, h.kind, h.lo, h.hi FROM holes h JOIN groups g ON g.id = h.grp"
            " WHERE g.member = 0"
        ):
            out.setdefault((grp, kind), []).append((lo, hi))
        return out

    def _apply_one(
        self, event: Event, me: int | None, mention: re.Pattern[str] | None, changes: Changes
    ) -> None:
        c = self.conn
        if isinstance(event, ChatEvent | PostEvent):
            reply = event.reply if isinstance(event, ChatEvent) else None
            c.execute(
                "INSERT INTO messages (seq, grp, kind, user, ts, text, edited, reply)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(seq) DO UPDATE SET"
                " text = excluded.text, edited = excluded.edited"
                " WHERE excluded.edited >= coalesce(messages.edited, 0)",
                (
                    event.seq,
                    event.group,
                    event.TYPE,
                    event.user,
                    event.ts,
                    event.text,
                    event.edited,
                    reply,
                ),
            )
            self._amend(event.seq)
            # Reported whether or not this insert stored it: another process of
            # the profile, sharing this file, may have stored it first, and
            # this process's views have still not seen it.
            changes.messages.setdefault(event.group, []).append(event.seq)
            if event.user != me and mention is not None and mention.search(event.text):
                changes.mentions.append(self._row(event))
        elif isinstance(event, GroupEvent):
            # A direct chat's event does not say who the other person is: until
            # the cache knows, the group is not known (see unknown_groups).
            c.execute(
                "INSERT INTO groups (id, known, name, parent, visibility, post_policy,"
                " chat_policy, comment_policy, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET name = excluded.name, parent = excluded.parent,"
                " visibility = excluded.visibility, post_policy = excluded.post_policy,"
                " chat_policy = excluded.chat_policy,"
                " comment_policy = excluded.comment_policy, description = excluded.description,"
                " known = CASE WHEN groups.dm IS NOT NULL THEN 1 ELSE excluded.known END",
                (
                    event.group,
                    int(not event.dm),
                    event.name,
                    event.parent,
                    event.visibility,
                    event.post_policy,
                    event.chat_policy,
                    event.comment_policy,
                    event.description,
                ),
            )
            changes.groups = True
        elif isinstance(event, JoinEvent):
            # A group first met through a join (a secret group one is added to,
            # a direct chat): named once the server has been asked.
            c.execute(
                "INSERT OR IGNORE INTO groups (id, name, known) VALUES (?, '', 0)", (event.group,)
            )
            known = c.execute(
                "SELECT 1 FROM roles WHERE grp = ? AND user = ?", (event.group, event.user)
            ).fetchone()
            c.execute(
                "INSERT OR REPLACE INTO roles (grp, user, role) VALUES (?, ?, ?)",
                (event.group, event.user, event.role),
            )
            if event.members is not None:  # the server's count: the same for everyone
                c.execute(
                    "UPDATE groups SET members = ? WHERE id = ?", (event.members, event.group)
                )
            elif not known:  # a role change is not a new member
                c.execute("UPDATE groups SET members = members + 1 WHERE id = ?", (event.group,))
            if event.user == me:
                was = c.execute("SELECT member FROM groups WHERE id = ?", (event.group,)).fetchone()
                c.execute(
                    "UPDATE groups SET member = 1, requested = 0, moderator = ?,"
                    " read_seq = max(read_seq, ?) WHERE id = ?",
                    (int(event.role == "moderator"), event.seq, event.group),
                )
                if not (was and was[0]):  # a role change, or our own join met again: no hole
                    # What was said before we joined is on the server (a copy kept
                    # from an earlier stay, or a look from outside, may be stale).
                    self._history_on_server(event.group, event.seq, changes)
                    self._ask_again(event.group)
            else:
                c.execute(
                    "UPDATE groups SET pending = max(pending - 1, 0) WHERE id = ?"
                    " AND EXISTS (SELECT 1 FROM roles WHERE grp = ? AND user = ?)",
                    (event.group, event.group, event.user),
                )
            changes.groups = True
        elif isinstance(event, LeaveEvent):
            if event.members is not None:
                c.execute(
                    "UPDATE groups SET members = ? WHERE id = ?", (event.members, event.group)
                )
            else:
                c.execute(
                    "UPDATE groups SET members = max(members - 1, 0) WHERE id = ?", (event.group,)
                )
            c.execute("DELETE FROM roles WHERE grp = ? AND user = ?", (event.group, event.user))
            if event.user == me:
                c.execute(
                    "UPDATE groups SET member = 0, moderator = 0 WHERE id = ?", (event.group,)
                )
                if event.by is not None:
                    changes.removed.append(event.group)
                self._forget_content(event.group, event.seq, changes)
            changes.groups = True
        elif isinstance(event, RequestEvent):
            if event.user == me:
                c.execute("UPDATE groups SET requested = 1 WHERE id = ?", (event.group,))
            else:
                c.execute("UPDATE groups SET pending = pending + 1 WHERE id = ?", (event.group,))
            changes.groups = True
        elif isinstance(event, CharterEvent):
            self.set("charter", event.version)
            changes.charter = event.version
        elif isinstance(event, DeleteEvent):
            self._delete(event.target, event.group)
            changes.messages.setdefault(event.group, []).append(event.target)
            changes.deleted.append(event.target)
        elif isinstance(event, EditEvent):
            self._edit(event.target, event.text, event.ts, event.seq, event.group)
            changes.messages.setdefault(event.group, []).append(event.target)
            changes.edited.append(event.target)
        elif isinstance(event, PinEvent):
            self._pin(event.target, event.on, event.seq, event.group)
            changes.messages.setdefault(event.group, []).append(event.target)
            changes.edited.append(event.target)

    # -- edits, deletions and pins, whenever the message itself arrives -----------------

    def _delete(self, target: int, group: int | None) -> None:
        """For good: a copy that comes later (a page asked for before) stays out."""
        self.conn.execute(
            "INSERT INTO amends (seq, grp, deleted) VALUES (?, ?, 1)"
            " ON CONFLICT(seq) DO UPDATE SET deleted = 1",
            (target, group),
        )
        self.conn.execute("DELETE FROM messages WHERE seq = ?", (target,))

    def _edit(self, target: int, text: str, ts: int, version: int, group: int | None) -> None:
        """Only a later edit replaces an earlier one, in whatever order they come."""
        self.conn.execute(
            "INSERT INTO amends (seq, grp, text, edited, edit_seq) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(seq) DO UPDATE SET text = excluded.text, edited = excluded.edited,"
            " edit_seq = excluded.edit_seq WHERE excluded.edit_seq > amends.edit_seq",
            (target, group, text, ts, version),
        )
        self._amend(target)

    def _pin(self, target: int, on: bool, version: int, group: int | None) -> None:
        self.conn.execute(
            "INSERT INTO amends (seq, grp, pinned, pin_seq) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(seq) DO UPDATE SET pinned = excluded.pinned,"
            " pin_seq = excluded.pin_seq WHERE excluded.pin_seq > amends.pin_seq",
            (target, group, int(on), version),
        )
        self._amend(target)

    def _pins_as_of(self, group: int, pins: list[int], head: int) -> None:
        """The server's list of a group's pins, true as of event ``head``: for
        messages cached now and those to come (a history page does not say
        which are pinned); a pin event after ``head`` still wins."""
        for seq in pins:
            self._pin(seq, True, head, group)
        marks = ",".join("?" * len(pins))
        unpinned = self.conn.execute(
            f"SELECT seq FROM messages WHERE grp = ? AND pinned = 1 AND seq NOT IN ({marks})",
            (group, *pins),
        ).fetchall()
        for (seq,) in unpinned:
            self._pin(seq, False, head, group)

    def _amend(self, seq: int) -> None:
        """Give a stored message what the cache heard of it since (or before) it came."""
        row = self.conn.execute(
            "SELECT deleted, text, edited, pinned FROM amends WHERE seq = ?", (seq,)
        ).fetchone()
        if row is None:
            return
        deleted, text, edited, pinned = row
        if deleted:
            self.conn.execute("DELETE FROM messages WHERE seq = ?", (seq,))
            return
        if text is not None:
            self.conn.execute(
                "UPDATE messages SET text = ?, edited = ? WHERE seq = ?", (text, edited, seq)
            )
        if pinned is not None:
            self.conn.execute("UPDATE messages SET pinned = ? WHERE seq = ?", (pinned, seq))

    def _row(self, event: ChatEvent | PostEvent) -> MessageRow:
        return MessageRow(
            seq=event.seq,
            group=event.group,
            kind=event.TYPE,
            user=event.user,
            author=self.user_name(event.user),
            ts=event.ts,
            text=event.text,
        )

    def put_groups(
        self,
        groups: Iterable[GroupInfo],
        *,
        fresh: bool = False,
        only: Iterable[int] | None = None,
    ) -> None:
        """Take the server's group list as the truth (keeping read marks).

        With ``only``, the list answers a question about those groups: the
        others stay as they are, and those of them left out (the user may not
        see them) are forgotten.
        """
        groups = list(groups)
        with self._tx():
            ids = [g.group for g in groups]
            if only is not None:
                gone = [i for i in only if i not in ids]
                marks = ",".join("?" * len(gone))
                self.conn.execute(f"DELETE FROM groups WHERE id IN ({marks})", gone)
            elif ids:
                marks = ",".join("?" * len(ids))
                self.conn.execute(f"DELETE FROM groups WHERE id NOT IN ({marks})", ids)
            else:
                self.conn.execute("DELETE FROM groups")
            for g in groups:
                self.conn.execute(
                    "INSERT INTO groups (id, name, member, members, parent, visibility, moderator,"
                    " post_policy, chat_policy, comment_policy, description, dm, requested)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(id) DO UPDATE SET known = 1, stale = 0, name = excluded.name,"
                    " member = excluded.member, members = excluded.members,"
                    " parent = excluded.parent, visibility = excluded.visibility,"
                    " moderator = excluded.moderator, post_policy = excluded.post_policy,"
                    " chat_policy = excluded.chat_policy,"
                    " comment_policy = excluded.comment_policy,"
                    " description = excluded.description, dm = excluded.dm,"
                    " requested = excluded.requested",
                    (
                        g.group,
                        g.name,
                        int(g.member),
                        g.members,
                        g.parent,
                        g.visibility,
                        int(g.moderator),
                        g.post_policy,
                        g.chat_policy,
                        g.comment_policy,
                        g.description,
                        g.dm,
                        int(g.requested),
                    ),
                )
                if g.head:  # the group's pins as of its newest event, for every message
                    self._pins_as_of(g.group, g.pins, g.head)
                if fresh and g.member and g.head:
                    # History from before this device arrived is there to read,
                    # not "unread".
                    self.conn.execute(
                        "UPDATE groups SET read_seq = max(read_seq, ?) WHERE id = ?",
                        (g.head, g.group),
                    )
                    for kind in KINDS:
                        self._add_hole(g.group, kind, 0, g.head)

    def put_users(self, users: Iterable[UserInfo]) -> None:
        with self._tx():
            self.conn.executemany(
                "INSERT OR REPLACE INTO users (id, name, title, badge) VALUES (?, ?, ?, ?)",
                [(u.user, u.name, u.title, u.badge) for u in users],
            )

    def put_roles(self, group: int, members: Iterable[int], moderators: Iterable[int]) -> None:
        """A group's members as the server listed them."""
        mods = set(moderators)
        with self._tx():
            self.conn.execute("DELETE FROM roles WHERE grp = ?", (group,))
            self.conn.executemany(
                "INSERT INTO roles (grp, user, role) VALUES (?, ?, ?)",
                [(group, u, "moderator" if u in mods else "member") for u in members],
            )

    def unknown_groups(self, limit: int = 500) -> list[int]:
        """Groups events named before the cache knew their name (or, for a direct
        chat, the other person): not shown until the server has said."""
        rows = self.conn.execute(
            "SELECT id FROM groups WHERE known = 0 OR stale = 1 LIMIT ?", (limit,)
        )
        return [r[0] for r in rows]

    def unknown_users(self, limit: int = 500) -> list[int]:
        rows = self.conn.execute(
            "SELECT DISTINCT m.user FROM messages m LEFT JOIN users u ON u.id = m.user"
            " WHERE u.name IS NULL"
            " UNION SELECT g.dm FROM groups g LEFT JOIN users u ON u.id = g.dm"
            " WHERE g.dm IS NOT NULL AND u.name IS NULL LIMIT ?",
            (limit,),
        )
        return [r[0] for r in rows]

    def user_name(self, user: int) -> str:
        row = self.conn.execute("SELECT name FROM users WHERE id = ?", (user,)).fetchone()
        return row[0] if row and row[0] else f"user{user}"

    # -- holes ---------------------------------------------------------------------

    def _add_hole(self, group: int, kind: str, lo: int, hi: int) -> None:
        if hi > lo:
            self.conn.execute(
                "INSERT INTO holes (grp, kind, lo, hi) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO UPDATE SET hi = max(hi, excluded.hi)",
                (group, kind, lo, hi),
            )

    def add_gap(self, upto: int) -> Changes:
        """The server skipped events up to ``upto`` (too many to replay): every
        group we are in may lack messages, and the messages we hold may have
        been edited, deleted or pinned meanwhile. Their history up to there is
        the server's to tell again, on demand. (Called again once the group
        list is fresh, for the groups we were added to meanwhile.)"""
        changes = Changes()
        with self._tx():
            for (group,) in self.conn.execute("SELECT id FROM groups WHERE member = 1").fetchall():
                self._history_on_server(group, upto, changes)
        return changes

    def hole_below(self, group: int, kind: str, seq: int | None) -> tuple[int, int] | None:
        """The newest hole below ``seq`` (or anywhere, when None): (lo, hi)."""
        row = self.conn.execute(
            "SELECT lo, hi FROM holes WHERE grp = ? AND kind = ? AND lo < ?"
            " ORDER BY hi DESC LIMIT 1",
            (group, kind, seq if seq is not None else 2**62),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def fill_hole(
        self, group: int, kind: str, hole: tuple[int, int], events: list[Event], more: bool
    ) -> Changes:
        """Store a page fetched with ``before = hi + 1`` and shrink the hole to what
        is still missing below it (nothing, when the server has no more)."""
        lo = hole[0]
        changes = Changes()
        me, _ = self._me_and_pattern()
        with self._tx():
            for event in events:
                self._apply_one(event, me, None, changes)
            self.conn.execute(
                "DELETE FROM holes WHERE grp = ? AND kind = ? AND lo = ?", (group, kind, lo)
            )
            oldest = min((e.seq for e in events), default=lo)
            if more and oldest > lo + 1:
                self._add_hole(group, kind, lo, oldest - 1)
        return changes

    def _forget_content(self, group: int, upto: int, changes: Changes) -> None:
        """Out of a group: what it said leaves this device too. Private and secret
        content is for members; and an open group's news (edits, deletions)
        no longer reach those outside, so a copy kept would go stale, and
        keep what its authors or moderators deleted. Its history is a hole
        again: a reader asks the server, which says whether they may. A
        secret group leaves the list."""
        row = self.conn.execute("SELECT visibility FROM groups WHERE id = ?", (group,)).fetchone()
        self._history_on_server(group, upto, changes)
        if row is not None and row[0] == "secret":
            self.conn.execute("UPDATE groups SET known = 0 WHERE id = ? AND dm IS NULL", (group,))

    def _ask_again(self, group: int) -> None:
        """Joined: the group's pins, head and count are asked for (a history page
        does not say which messages are pinned), until the server has answered.
        (Not on a leave: a list asked for then may come back after a rejoin,
        saying we are in before the stream does.)"""
        self.conn.execute("UPDATE groups SET stale = 1 WHERE id = ?", (group,))

    def _history_on_server(self, group: int, upto: int, changes: Changes) -> None:
        """Everything up to ``upto`` is the server's to tell again: a hole."""
        self.conn.execute("DELETE FROM messages WHERE grp = ? AND seq <= ?", (group, upto))
        # What was heard of them goes too: a page fetched later is the server's truth.
        self.conn.execute("DELETE FROM amends WHERE grp = ? AND seq <= ?", (group, upto))
        for kind in KINDS:  # one hole from the start, swallowing those it meets
            top = self.conn.execute(
                "SELECT max(hi) FROM holes WHERE grp = ? AND kind = ? AND lo <= ?",
                (group, kind, upto),
            ).fetchone()[0]
            self.conn.execute(
                "DELETE FROM holes WHERE grp = ? AND kind = ? AND lo <= ?", (group, kind, upto)
            )
            self._add_hole(group, kind, 0, max(upto, top or 0))
        changes.messages.setdefault(group, [])
        changes.forgotten.append(group)

    # -- reading for views -------------------------------------------------------------

    def groups(self) -> list[GroupRow]:
        """The groups to show: those whose name (for a direct chat, the other
        person's) the cache knows."""
        me, _ = self._me_and_pattern()
        rows = self.conn.execute(
            "SELECT g.id, CASE WHEN g.dm IS NOT NULL"
            "  THEN (SELECT name FROM users WHERE id = g.dm) ELSE g.name END AS shown,"
            " g.member, g.members,"
            " (SELECT count(*) FROM messages m WHERE m.grp = g.id AND m.seq > g.read_seq"
            "  AND m.user IS NOT ?),"
            " (SELECT count(*) FROM messages m WHERE m.grp = g.id AND m.seq > g.read_seq"
            "  AND m.user IS NOT ? AND (g.dm IS NOT NULL OR mentions_me(m.text))),"
            " g.parent, g.visibility, g.moderator, g.post_policy, g.chat_policy,"
            " g.comment_policy, g.description, g.dm, g.requested, g.pending,"
            # The last join or leave still in the outbox: it counts already for
            # what is written after it (which goes out after it, in order).
            " (SELECT o.op FROM outbox o WHERE o.grp = g.id AND o.op IN ('join', 'leave')"
            "  AND o.error IS NULL ORDER BY o.n DESC LIMIT 1)"
            " FROM groups g WHERE g.known = 1 AND shown IS NOT NULL"
            " ORDER BY g.name COLLATE NOCASE",
            (me, me),
        ).fetchall()
        return [
            GroupRow(
                group=i,
                name=n,
                member=bool(m),
                members=c,
                unread=u,
                mentions=mu,
                parent=pa,
                visibility=vis,
                moderator=bool(mod),
                post_policy=pp,
                chat_policy=cp,
                comment_policy=cm,
                description=d,
                dm=dm,
                requested=bool(rq),
                pending=pend,
                queued=q,
            )
            for i, n, m, c, u, mu, pa, vis, mod, pp, cp, cm, d, dm, rq, pend, q in rows
        ]

    def group_by_name(self, name: str) -> GroupRow | None:
        """A group by name (case-insensitive) or by ``#ID``; None if unknown.

        Raises LookupError when several groups the user sees share the name.
        """
        wanted = name.strip()
        rows = [r for r in self.groups() if r.dm is None]
        if wanted.startswith("#") and wanted[1:].isascii() and wanted[1:].isdigit():
            return next((r for r in rows if r.group == int(wanted[1:])), None)
        found = [r for r in rows if r.name.casefold() == wanted.casefold()]
        if len(found) > 1:
            ids = ", ".join(f"#{r.group}" for r in found)
            raise LookupError(f"several groups are named {wanted!r}: use {ids}")
        return found[0] if found else None

    def direct_with(self, user: int) -> GroupRow | None:
        return next((r for r in self.groups() if r.dm == user), None)

    def user_by_name(self, name: str) -> int | None:
        row = self.conn.execute(
            "SELECT id FROM users WHERE name = ? COLLATE NOCASE", (name.strip(),)
        ).fetchone()
        return None if row is None else int(row[0])

    # A reply carries the line it answers: "author: text" of the message, when cached.
    _ROWS = (
        "SELECT m.seq, m.grp, m.kind, m.user, coalesce(u.name, 'user' || m.user), m.ts,"
        " m.text, m.pinned, u.badge, m.edited, m.reply,"
        " (SELECT coalesce(ru.name, 'user' || r.user) || ': ' || r.text FROM messages r"
        "  LEFT JOIN users ru ON ru.id = r.user WHERE r.seq = m.reply)"
        " FROM messages m LEFT JOIN users u ON u.id = m.user"
    )

    @staticmethod
    def _message_row(row: tuple[Any, ...]) -> MessageRow:
        seq, grp, kind, user, author, ts, text, pinned, badge, edited, reply, quote = row
        return MessageRow(
            seq,
            grp,
            kind,
            user,
            author,
            ts,
            text,
            pinned=bool(pinned),
            badge=badge,
            edited=edited,
            reply=reply,
            quote=quote,
        )

    def messages(
        self, group: int, kind: str, *, before: int | None = None, limit: int = 200
    ) -> list[MessageRow]:
        """Up to ``limit`` messages before ``before``, oldest first; pending ones last."""
        rows = self.conn.execute(
            f"{self._ROWS} WHERE m.grp = ? AND m.kind = ? AND m.seq < ?"
            " ORDER BY m.seq DESC LIMIT ?",
            (group, kind, before if before is not None else 2**62, limit),
        ).fetchall()
        out = [self._message_row(r) for r in reversed(rows)]
        if before is None:
            out.extend(self.pending_rows(group, kind))
        return out

    def direct_messages(self, seqs: Iterable[int]) -> list[MessageRow]:
        """Of these messages, those others wrote in my direct chats (they alert)."""
        me, _ = self._me_and_pattern()
        wanted = list(seqs)[-500:]
        marks = ",".join("?" * len(wanted))
        rows = self.conn.execute(
            f"{self._ROWS} JOIN groups g ON g.id = m.grp WHERE m.seq IN ({marks})"
            " AND g.dm IS NOT NULL AND m.user IS NOT ? ORDER BY m.seq",
            (*wanted, me),
        ).fetchall()
        return [self._message_row(r) for r in rows]

    def messages_after(self, group: int, kind: str, after: int) -> list[MessageRow]:
        """Stored messages newer than ``after``, oldest first."""
        rows = self.conn.execute(
            f"{self._ROWS} WHERE m.grp = ? AND m.kind = ? AND m.seq > ? ORDER BY m.seq",
            (group, kind, after),
        ).fetchall()
        return [self._message_row(r) for r in rows]

    def tail(self, group: int, kind: str, after: int) -> tuple[list[MessageRow], list[MessageRow]]:
        """Messages newer than ``after`` and the outbox's rows, read together."""
        with self._tx():
            return self.messages_after(group, kind, after), self.pending_rows(group, kind)

    def pending_rows(self, group: int, kind: str) -> list[MessageRow]:
        me, name = self.identity()
        op = "chat" if kind == ChatEvent.TYPE else "post"
        rows = self.conn.execute(
            "SELECT cid, created, text, error FROM outbox WHERE grp = ? AND op = ? ORDER BY n",
            (group, op),
        ).fetchall()
        return [
            MessageRow(None, group, kind, me or 0, name or "me", created, text, cid, error)
            for cid, created, text, error in rows
        ]

    def pending_rows_direct(self, user: int) -> list[MessageRow]:
        """First messages to someone, waiting while the direct chat does not exist yet."""
        me, name = self.identity()
        rows = self.conn.execute(
            "SELECT cid, created, text, error, args FROM outbox WHERE op = 'dm' ORDER BY n"
        ).fetchall()
        return [
            MessageRow(None, 0, ChatEvent.TYPE, me or 0, name or "me", created, text, cid, error)
            for cid, created, text, error, args in rows
            if json.loads(args or "{}").get("user") == user
        ]

    def mark_read(self, group: int) -> int:
        """Mark the group read; returns where the reading stood before (a seq)."""
        before = self.conn.execute("SELECT read_seq FROM groups WHERE id = ?", (group,)).fetchone()
        self.conn.execute(
            "UPDATE groups SET read_seq = max(read_seq, (SELECT coalesce(max(seq), 0)"
            " FROM messages WHERE grp = ?)) WHERE id = ?",
            (group, group),
        )
        return int(before[0]) if before else 0

    # -- drafts ------------------------------------------------------------------------

    def draft(self, group: int) -> str:
        row = self.conn.execute("SELECT text FROM drafts WHERE grp = ?", (group,)).fetchone()
        return row[0] if row else ""

    def save_draft(self, group: int, text: str) -> None:
        if text.strip():
            self.conn.execute(
                "INSERT OR REPLACE INTO drafts (grp, text) VALUES (?, ?)", (group, text)
            )
        else:
            self.conn.execute("DELETE FROM drafts WHERE grp = ?", (group,))

    # -- outbox ------------------------------------------------------------------------

    def enqueue(
        self,
        op: str,
        group: int | None,
        text: str | None,
        args: dict[str, Any] | None = None,
        created: float | None = None,
    ) -> str:
        """Store a write before it is sent (made at ``created``, default now); it
        stays until acknowledged."""
        cid = new_cid()
        self.conn.execute(
            "INSERT INTO outbox (cid, op, grp, text, created, args) VALUES (?, ?, ?, ?, ?, ?)",
            (
                cid,
                op,
                group,
                text,
                time.time() if created is None else created,
                json.dumps(args) if args else None,
            ),
        )
        return cid

    def outbox(self, *, include_failed: bool = False) -> list[OutboxItem]:
        where = "" if include_failed else " WHERE error IS NULL"
        rows = self.conn.execute(f"SELECT {self._OUTBOX} FROM outbox{where} ORDER BY n").fetchall()
        return [OutboxItem(*r) for r in rows]

    _OUTBOX = "cid, op, grp, text, created, attempts, error, args, n"

    def take_outbox(self, after: int, limit: int) -> list[OutboxItem]:
        """The next pending writes after place ``after``, in order, counted as attempted."""
        with self._tx():
            rows = self.conn.execute(
                f"SELECT {self._OUTBOX} FROM outbox WHERE error IS NULL AND n > ?"
                " ORDER BY n LIMIT ?",
                (after, limit),
            ).fetchall()
            if rows:
                self.conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1"
                    " WHERE error IS NULL AND n > ? AND n <= ?",
                    (after, rows[-1][-1]),
                )
        return [OutboxItem(*r) for r in rows]

    def first_pending(self) -> str | None:
        """The client id of the oldest write waiting to be sent, if any."""
        row = self.conn.execute(
            "SELECT cid FROM outbox WHERE error IS NULL ORDER BY n LIMIT 1"
        ).fetchone()
        return None if row is None else str(row[0])

    def outbox_count(self) -> int:
        return int(
            self.conn.execute("SELECT count(*) FROM outbox WHERE error IS NULL").fetchone()[0]
        )

    def acknowledged(self, acks: Iterable[tuple[OutboxItem, WriteOk]]) -> Changes:
        """The server stored these writes: take them out of the outbox and apply them here.

        The server does not echo a write's own events to the connection that
        made it, so the acknowledgement is where the cache learns of it.
        """
        changes = Changes(outbox=True, groups=True)
        with self._tx():
            for item, ok in acks:
                self.conn.execute("DELETE FROM outbox WHERE cid = ?", (item.cid,))
                args: dict[str, Any] = json.loads(item.args) if item.args else {}
                apply = self._ACKS.get(item.op)
                if apply is not None:
                    apply(self, item, ok, args, changes)
            # The cursor stays: only the pushed stream moves it. Pushed events
            # numbered below this write may still wait to be applied, and a
            # cursor past them would skip them after a reconnect. (The write's
            # own event comes again with the next catch-up; storing it twice
            # is a no-op.)
        return changes

    def _ack_message(
        self, item: OutboxItem, ok: WriteOk, args: dict[str, Any], changes: Changes
    ) -> None:
        me, _ = self.identity()
        group = item.group if item.group is not None else ok.group
        if group is None or me is None:
            return
        if item.op == "dm":
            self.conn.execute(
                "INSERT OR IGNORE INTO groups (id, name, member, members, visibility, dm,"
                " post_policy, comment_policy) VALUES (?, 'direct', 1, 2, 'secret', ?,"
                " 'moderators', 'nobody')",
                (group, args.get("user")),
            )
        kind = PostEvent.TYPE if item.op == "post" else ChatEvent.TYPE
        out = self.conn.execute(
            "SELECT 1 FROM groups WHERE id = ? AND member = 0 AND dm IS NULL", (group,)
        ).fetchone()
        if out is not None:
            # Stored before we left (or were removed), answered after: what the
            # group said went with us, this too (the server tells it again, to
            # whoever may read it).
            changes.messages.setdefault(group, []).append(ok.seq)
            return
        self.conn.execute(
            "INSERT OR IGNORE INTO messages (seq, grp, kind, user, ts, text, reply)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                ok.seq,
                group,
                kind,
                me,
                ok.ts or int(time.time()),
                item.text or "",
                args.get("reply"),
            ),
        )
        self._amend(ok.seq)  # deleted, say, before its acknowledgement was read
        changes.messages.setdefault(group, []).append(ok.seq)
        self.conn.execute(
            "UPDATE groups SET read_seq = max(read_seq, ?) WHERE id = ?", (ok.seq, group)
        )

    def _ack_gcreate(
        self, item: OutboxItem, ok: WriteOk, args: dict[str, Any], changes: Changes
    ) -> None:
        if ok.group is None:
            return
        self.conn.execute(
            "INSERT OR REPLACE INTO groups (id, name, member, members, moderator, parent,"
            " visibility, post_policy, chat_policy, comment_policy, description)"
            " VALUES (?, ?, 1, 1, 1, ?, ?, ?, ?, ?, ?)",
            (
                ok.group,
                item.text,
                args.get("parent"),
                args.get("visibility", "open"),
                args.get("post_policy", "everyone"),
                args.get("chat_policy", "everyone"),
                args.get("comment_policy", "everyone"),
                args.get("description", ""),
            ),
        )

    def _ack_gset(
        self, item: OutboxItem, ok: WriteOk, args: dict[str, Any], changes: Changes
    ) -> None:
        allowed = (
            "name",
            "visibility",
            "post_policy",
            "chat_policy",
            "comment_policy",
            "description",
        )
        for key, value in args.items():
            if key in allowed and value is not None:
                self.conn.execute(f"UPDATE groups SET {key} = ? WHERE id = ?", (value, item.group))

    def _ack_join(
        self, item: OutboxItem, ok: WriteOk, args: dict[str, Any], changes: Changes
    ) -> None:
        self.conn.execute(
            "UPDATE groups SET member = 1, members = members + 1, read_seq = max(read_seq, ?)"
            " WHERE id = ? AND member = 0",
            (ok.seq, item.group),
        )
        if item.group is not None:
            self._history_on_server(item.group, ok.seq, changes)
            self._ask_again(item.group)

    def _ack_leave(
        self, item: OutboxItem, ok: WriteOk, args: dict[str, Any], changes: Changes
    ) -> None:
        self.conn.execute(
            "UPDATE groups SET member = 0, moderator = 0, members = max(members - 1, 0)"
            " WHERE id = ? AND member = 1",
            (item.group,),
        )
        if item.group is not None:  # as when told of it by the server
            self._forget_content(item.group, ok.seq, changes)

    def _ack_request(
        self, item: OutboxItem, ok: WriteOk, args: dict[str, Any], changes: Changes
    ) -> None:
        self.conn.execute("UPDATE groups SET requested = 1 WHERE id = ?", (item.group,))

    def _ack_approve(
        self, item: OutboxItem, ok: WriteOk, args: dict[str, Any], changes: Changes
    ) -> None:
        self.conn.execute(
            "UPDATE groups SET pending = max(pending - 1, 0), members = members + 1 WHERE id = ?",
            (item.group,),
        )

    def _ack_delete(
        self, item: OutboxItem, ok: WriteOk, args: dict[str, Any], changes: Changes
    ) -> None:
        target = args.get("target")
        row = self.conn.execute("SELECT grp FROM messages WHERE seq = ?", (target,)).fetchone()
        if target is not None:
            self._delete(target, row[0] if row else None)
        if row is not None and target is not None:
            changes.messages.setdefault(row[0], []).append(target)
            changes.deleted.append(target)

    def _ack_pin(
        self, item: OutboxItem, ok: WriteOk, args: dict[str, Any], changes: Changes
    ) -> None:
        target = args.get("target")
        row = self.conn.execute("SELECT grp FROM messages WHERE seq = ?", (target,)).fetchone()
        if target is not None:
            self._pin(target, bool(args.get("on", True)), ok.seq, row[0] if row else None)
        if row is not None and target is not None:
            changes.messages.setdefault(row[0], []).append(target)
            changes.edited.append(target)

    def _ack_edit(
        self, item: OutboxItem, ok: WriteOk, args: dict[str, Any], changes: Changes
    ) -> None:
        target = args.get("target")
        row = self.conn.execute("SELECT grp FROM messages WHERE seq = ?", (target,)).fetchone()
        if target is not None:
            when = ok.ts or int(time.time())
            self._edit(target, item.text or "", when, ok.seq, row[0] if row else None)
        if row is not None and target is not None:
            changes.messages.setdefault(row[0], []).append(target)
            changes.edited.append(target)

    _ACKS: dict[str, Callable[[Cache, OutboxItem, WriteOk, dict[str, Any], Changes], None]] = {
        "del": _ack_delete,
        "pin": _ack_pin,
        "edit": _ack_edit,
        "chat": _ack_message,
        "post": _ack_message,
        "dm": _ack_message,
        "gcreate": _ack_gcreate,
        "gset": _ack_gset,
        "join": _ack_join,
        "leave": _ack_leave,
        "greq": _ack_request,
        "gapprove": _ack_approve,
    }

    def failed(self, cid: str, error: str) -> None:
        self.conn.execute("UPDATE outbox SET error = ? WHERE cid = ?", (error, cid))

    def discard(self, cid: str) -> None:
        self.conn.execute("DELETE FROM outbox WHERE cid = ?", (cid,))


class _Tx:
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


class CacheWorker:
    """Runs Cache methods on one dedicated thread, so the event loop never waits."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rse-cache")

    async def __call__(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        self._pool.submit(self.cache.close).result()
        self._pool.shutdown(wait=True)
