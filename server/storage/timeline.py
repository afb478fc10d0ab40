"""Messages: chat and feed posts, history pages, and catch-up after a reconnect."""

from __future__ import annotations

import sqlite3

from rse_tui.protocol import ChatEvent, Event, PostEvent

from .. import policy
from ..database import Outcome
from .base import EVENT_COLUMNS, CatchUp, Receipt, append, event_from_row, keep_receipt, receipt
from .groups import access


def append_message(
    conn: sqlite3.Connection, user: int, group: int, kind: str, text: str, cid: str, now: int
) -> Outcome[Receipt]:
    """Store a chat message or feed post, if the group's rules let ``user`` write."""
    done = receipt(conn, user, cid)
    if done is not None:
        return Outcome(done)
    policy.require_write(access(conn, user, group), kind)
    seq = append(conn, kind, group, user, now, text)
    result = Receipt(seq=seq, ts=now)
    keep_receipt(conn, user, cid, result)
    cls = ChatEvent if kind == ChatEvent.TYPE else PostEvent
    return Outcome(result, [cls(seq=seq, group=group, user=user, ts=now, text=text)])


def history(
    conn: sqlite3.Connection, user: int, group: int, kind: str, before: int | None, limit: int
) -> tuple[list[Event], bool]:
    """Up to ``limit`` events of ``kind`` in ``group`` before ``before``, oldest first."""
    policy.require_readable(access(conn, user, group))
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE grp = ? AND kind = ? AND seq < ?"
        " ORDER BY seq DESC LIMIT ?",
        (group, kind, before if before is not None else 2**63 - 1, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    return [event_from_row(r) for r in reversed(rows[:limit])], more


def head(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(seq) FROM events").fetchone()
    return int(row[0] or 0)


def catch_up(conn: sqlite3.Connection, user: int, since: int, bound: int) -> CatchUp:
    """The events ``user`` missed after ``since``, or the newest ``bound`` and a gap."""
    top = head(conn)
    params = {"u": user, "since": since, "top": top, "n": bound + 1}
    query = (
        f"SELECT {EVENT_COLUMNS} FROM events WHERE seq > :since AND seq <= :top"
        f" AND {policy.VISIBLE_SQL} ORDER BY seq"
    )
    rows = conn.execute(f"{query} LIMIT :n", params).fetchall()
    if len(rows) <= bound:
        return CatchUp(top, [event_from_row(r) for r in rows], None)
    params["n"] = bound
    newest = conn.execute(f"{query} DESC LIMIT :n", params).fetchall()
    newest.reverse()
    return CatchUp(top, [event_from_row(r) for r in newest], newest[0][0] - 1)
