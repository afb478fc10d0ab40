"""Every SQL statement the server runs, behind an async facade.

The plain functions take a ``sqlite3.Connection`` and run inside whatever
transaction the caller holds: the writer thread's batch for writes, a read
transaction for reads, or a short one of their own from the ``rse-server``
command line. :class:`Storage` wraps them for the event loop.

Writes that change what users see append to ``events``; the sequence number
of that row is the change's server-wide number. Writes that carry a client id
record their first result in ``receipts`` in the same transaction, so a resend
returns that result and stores nothing new.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rse_tui.protocol import (
    ChatEvent,
    ErrorCode,
    Event,
    GroupEvent,
    GroupInfo,
    JoinEvent,
    LeaveEvent,
    PostEvent,
    ProtocolError,
    TokenInfo,
    UserInfo,
)

from .database import Outcome


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a write answers: its sequence number, time and new group id."""

    seq: int
    ts: int | None = None
    group: int | None = None


@dataclass(frozen=True, slots=True)
class TokenRow:
    user: int
    name: str
    hash: bytes
    admin: bool


@dataclass(frozen=True, slots=True)
class CatchUp:
    head: int
    events: list[Event]
    gap_upto: int | None  # events in (since, gap_upto] were skipped


class NotFound(ProtocolError):
    def __init__(self, what: str) -> None:
        super().__init__(ErrorCode.NOT_FOUND, f"unknown {what}")


_EVENT_COLUMNS = "seq, kind, grp, user, ts, body"


def _event(row: tuple[int, str, int | None, int, int, str | None]) -> Event:
    seq, kind, grp, user, ts, body = row
    assert grp is not None
    if kind == ChatEvent.TYPE:
        return ChatEvent(seq=seq, group=grp, user=user, ts=ts, text=body or "")
    if kind == PostEvent.TYPE:
        return PostEvent(seq=seq, group=grp, user=user, ts=ts, text=body or "")
    if kind == GroupEvent.TYPE:
        return GroupEvent(seq=seq, group=grp, user=user, ts=ts, name=body or "")
    if kind == JoinEvent.TYPE:
        return JoinEvent(seq=seq, group=grp, user=user)
    if kind == LeaveEvent.TYPE:
        return LeaveEvent(seq=seq, group=grp, user=user)
    raise ValueError(f"unknown event kind {kind!r} at seq {seq}")


def _append(
    conn: sqlite3.Connection, kind: str, grp: int, user: int, ts: int, body: str | None
) -> int:
    cur = conn.execute(
        "INSERT INTO events (kind, grp, user, ts, body) VALUES (?, ?, ?, ?, ?)",
        (kind, grp, user, ts, body),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction of its own, for callers outside the writer thread."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# -- idempotency -------------------------------------------------------------


def receipt(conn: sqlite3.Connection, user: int, cid: str) -> Receipt | None:
    row = conn.execute(
        "SELECT result FROM receipts WHERE user = ? AND cid = ?", (user, cid)
    ).fetchone()
    if row is None:
        return None
    data = json.loads(row[0])
    return Receipt(seq=data["s"], ts=data.get("ts"), group=data.get("g"))


def _keep_receipt(conn: sqlite3.Connection, user: int, cid: str, result: Receipt) -> None:
    data = {"s": result.seq, "ts": result.ts, "g": result.group}
    conn.execute(
        "INSERT INTO receipts (user, cid, result) VALUES (?, ?, ?)",
        (user, cid, json.dumps({k: v for k, v in data.items() if v is not None})),
    )


# -- accounts ----------------------------------------------------------------


def create_invite(
    conn: sqlite3.Connection, code_hash: bytes, *, admin: bool, now: int, expires: int
) -> int:
    cur = conn.execute(
        "INSERT INTO invites (hash, admin, created, expires) VALUES (?, ?, ?, ?)",
        (code_hash, int(admin), now, expires),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def redeem_invite(
    conn: sqlite3.Connection, code_hash: bytes, name: str, pw_hash: str, now: int
) -> int:
    """Use an invitation to create an account; return the new user's id."""
    row = conn.execute(
        "SELECT id, admin FROM invites WHERE hash = ? AND used_by IS NULL AND expires > ?",
        (code_hash, now),
    ).fetchone()
    if row is None:
        raise ProtocolError(ErrorCode.INVITE_INVALID, "invitation is unknown, used or expired")
    invite_id, admin = row
    if conn.execute("SELECT 1 FROM users WHERE name = ? COLLATE NOCASE", (name,)).fetchone():
        raise ProtocolError(ErrorCode.NAME_TAKEN, f"the name {name!r} is taken")
    cur = conn.execute(
        "INSERT INTO users (name, pw, created, admin) VALUES (?, ?, ?, ?)",
        (name, pw_hash, now, admin),
    )
    user = cur.lastrowid
    assert user is not None
    conn.execute("UPDATE invites SET used_by = ? WHERE id = ?", (user, invite_id))
    return user


def user_login_row(conn: sqlite3.Connection, name: str) -> tuple[int, str, str] | None:
    """(id, name, password hash) of a user by case-insensitive name."""
    row = conn.execute(
        "SELECT id, name, pw FROM users WHERE name = ? COLLATE NOCASE", (name,)
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def add_token(conn: sqlite3.Connection, user: int, token_hash: bytes, now: int) -> int:
    cur = conn.execute(
        "INSERT INTO tokens (user, hash, created) VALUES (?, ?, ?)", (user, token_hash, now)
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def token_row(conn: sqlite3.Connection, token_id: int) -> TokenRow | None:
    row = conn.execute(
        "SELECT t.user, u.name, t.hash, u.admin FROM tokens t JOIN users u ON u.id = t.user"
        " WHERE t.id = ?",
        (token_id,),
    ).fetchone()
    return None if row is None else TokenRow(row[0], row[1], row[2], bool(row[3]))


def touch_token(conn: sqlite3.Connection, token_id: int, now: int) -> None:
    conn.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (now, token_id))


def revoke_token(conn: sqlite3.Connection, user: int, token_id: int) -> bool:
    cur = conn.execute("DELETE FROM tokens WHERE id = ? AND user = ?", (token_id, user))
    return cur.rowcount > 0


def list_tokens(conn: sqlite3.Connection, user: int, current: int | None) -> list[TokenInfo]:
    rows = conn.execute(
        "SELECT id, created, last_used FROM tokens WHERE user = ? ORDER BY id", (user,)
    ).fetchall()
    return [
        TokenInfo(token_id=i, created=c, last_used=lu, current=i == current) for i, c, lu in rows
    ]


def users(conn: sqlite3.Connection, ids: Iterable[int]) -> list[UserInfo]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    marks = ",".join("?" * len(wanted))
    rows = conn.execute(f"SELECT id, name FROM users WHERE id IN ({marks})", wanted).fetchall()
    return [UserInfo(user=i, name=n) for i, n in rows]


def user_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM users").fetchone()[0])


# -- groups ------------------------------------------------------------------


def _group_exists(conn: sqlite3.Connection, group: int) -> bool:
    return conn.execute("SELECT 1 FROM groups WHERE id = ?", (group,)).fetchone() is not None


def _is_member(conn: sqlite3.Connection, group: int, user: int) -> bool:
    return (
        conn.execute("SELECT 1 FROM members WHERE grp = ? AND user = ?", (group, user)).fetchone()
        is not None
    )


def create_group(
    conn: sqlite3.Connection, user: int, name: str, cid: str, now: int
) -> Outcome[Receipt]:
    done = receipt(conn, user, cid)
    if done is not None:
        return Outcome(done)
    if conn.execute("SELECT 1 FROM groups WHERE name = ? COLLATE NOCASE", (name,)).fetchone():
        raise ProtocolError(ErrorCode.NAME_TAKEN, f"a group named {name!r} exists")
    cur = conn.execute(
        "INSERT INTO groups (name, creator, created) VALUES (?, ?, ?)", (name, user, now)
    )
    group = cur.lastrowid
    assert group is not None
    created = _append(conn, GroupEvent.TYPE, group, user, now, name)
    joined = _append(conn, JoinEvent.TYPE, group, user, now, None)
    conn.execute("INSERT INTO members (grp, user, joined) VALUES (?, ?, ?)", (group, user, joined))
    result = Receipt(seq=joined, ts=now, group=group)
    _keep_receipt(conn, user, cid, result)
    events: list[Event] = [
        GroupEvent(seq=created, group=group, user=user, ts=now, name=name),
        JoinEvent(seq=joined, group=group, user=user),
    ]
    return Outcome(result, events)


def join_group(
    conn: sqlite3.Connection, user: int, group: int, cid: str, now: int
) -> Outcome[Receipt]:
    done = receipt(conn, user, cid)
    if done is not None:
        return Outcome(done)
    if not _group_exists(conn, group):
        raise NotFound("group")
    row = conn.execute(
        "SELECT joined FROM members WHERE grp = ? AND user = ?", (group, user)
    ).fetchone()
    if row is not None:  # already a member: nothing changes
        result = Receipt(seq=row[0])
        _keep_receipt(conn, user, cid, result)
        return Outcome(result)
    seq = _append(conn, JoinEvent.TYPE, group, user, now, None)
    conn.execute("INSERT INTO members (grp, user, joined) VALUES (?, ?, ?)", (group, user, seq))
    result = Receipt(seq=seq, ts=now)
    _keep_receipt(conn, user, cid, result)
    return Outcome(result, [JoinEvent(seq=seq, group=group, user=user)])


def leave_group(
    conn: sqlite3.Connection, user: int, group: int, cid: str, now: int
) -> Outcome[Receipt]:
    done = receipt(conn, user, cid)
    if done is not None:
        return Outcome(done)
    if not _group_exists(conn, group):
        raise NotFound("group")
    if not _is_member(conn, group, user):
        raise ProtocolError(ErrorCode.FORBIDDEN, "you are not a member of this group")
    seq = _append(conn, LeaveEvent.TYPE, group, user, now, None)
    conn.execute("DELETE FROM members WHERE grp = ? AND user = ?", (group, user))
    result = Receipt(seq=seq, ts=now)
    _keep_receipt(conn, user, cid, result)
    return Outcome(result, [LeaveEvent(seq=seq, group=group, user=user)])


def append_message(
    conn: sqlite3.Connection, user: int, group: int, kind: str, text: str, cid: str, now: int
) -> Outcome[Receipt]:
    """Store a chat message or feed post from a member of ``group``."""
    done = receipt(conn, user, cid)
    if done is not None:
        return Outcome(done)
    if not _group_exists(conn, group):
        raise NotFound("group")
    if not _is_member(conn, group, user):
        raise ProtocolError(ErrorCode.FORBIDDEN, "join the group before writing to it")
    seq = _append(conn, kind, group, user, now, text)
    result = Receipt(seq=seq, ts=now)
    _keep_receipt(conn, user, cid, result)
    cls = ChatEvent if kind == ChatEvent.TYPE else PostEvent
    return Outcome(result, [cls(seq=seq, group=group, user=user, ts=now, text=text)])


def list_groups(conn: sqlite3.Connection, user: int) -> list[GroupInfo]:
    rows = conn.execute(
        "SELECT g.id, g.name,"
        " EXISTS (SELECT 1 FROM members m WHERE m.grp = g.id AND m.user = ?),"
        " (SELECT count(*) FROM members m WHERE m.grp = g.id),"
        " (SELECT max(seq) FROM events e WHERE e.grp = g.id)"
        " FROM groups g ORDER BY g.name COLLATE NOCASE",
        (user,),
    ).fetchall()
    return [
        GroupInfo(group=g, name=n, member=bool(m), members=c, head=h or 0) for g, n, m, c, h in rows
    ]


def members(conn: sqlite3.Connection, group: int) -> list[int]:
    if not _group_exists(conn, group):
        raise NotFound("group")
    rows = conn.execute("SELECT user FROM members WHERE grp = ? ORDER BY user", (group,))
    return [r[0] for r in rows]


def memberships(conn: sqlite3.Connection) -> dict[int, set[int]]:
    """Every group's member ids, for the hub's fan-out table."""
    table: dict[int, set[int]] = {}
    for grp, user in conn.execute("SELECT grp, user FROM members"):
        table.setdefault(grp, set()).add(user)
    return table


def group_ids(conn: sqlite3.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM groups")]


# -- history and catch-up ----------------------------------------------------


def history(
    conn: sqlite3.Connection, group: int, kind: str, before: int | None, limit: int
) -> tuple[list[Event], bool]:
    """Up to ``limit`` events of ``kind`` in ``group`` before ``before``, oldest first."""
    if not _group_exists(conn, group):
        raise NotFound("group")
    rows = conn.execute(
        f"SELECT {_EVENT_COLUMNS} FROM events WHERE grp = ? AND kind = ? AND seq < ?"
        " ORDER BY seq DESC LIMIT ?",
        (group, kind, before if before is not None else 2**63 - 1, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    return [_event(r) for r in reversed(rows[:limit])], more


# What a user may see of the event log: group creations, everything in the
# groups they belong to now, and their own joins and leaves.
_VISIBLE = (
    "(kind = 'g' OR grp IN (SELECT grp FROM members WHERE user = :u)"
    " OR (kind IN ('j', 'l') AND user = :u))"
)


def head(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(seq) FROM events").fetchone()
    return int(row[0] or 0)


def catch_up(conn: sqlite3.Connection, user: int, since: int, bound: int) -> CatchUp:
    """The events ``user`` missed after ``since``, or the newest ``bound`` and a gap."""
    top = head(conn)
    params = {"u": user, "since": since, "top": top, "n": bound + 1}
    rows = conn.execute(
        f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > :since AND seq <= :top"
        f" AND {_VISIBLE} ORDER BY seq LIMIT :n",
        params,
    ).fetchall()
    if len(rows) <= bound:
        return CatchUp(top, [_event(r) for r in rows], None)
    params["n"] = bound
    newest = conn.execute(
        f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > :since AND seq <= :top"
        f" AND {_VISIBLE} ORDER BY seq DESC LIMIT :n",
        params,
    ).fetchall()
    newest.reverse()
    return CatchUp(top, [_event(r) for r in newest], newest[0][0] - 1)
