"""Check 4 on the frames: nothing a client received belonged to a group its
user could not read at that moment (see tap.py for the moment)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from rse_tui.protocol import (
    AckEvent,
    Batch,
    CharterEvent,
    Directory,
    Event,
    GroupEvent,
    GroupList,
    JoinEvent,
    JoinRequests,
    LeaveEvent,
    MemberList,
    Members,
    Page,
    ReadEvent,
    RequestEvent,
    RequestList,
)

from .tap import Seen


class Membership:
    """Who was in which group when, from the server's log of joins and leaves."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.spans: dict[tuple[int, int], list[list[float]]] = {}
        for seq, kind, grp, user in db.execute(
            "SELECT seq, kind, grp, user FROM events WHERE kind IN ('j', 'l') ORDER BY seq"
        ):
            spans = self.spans.setdefault((user, grp), [])
            if kind == "j" and not (spans and spans[-1][1] == float("inf")):
                spans.append([seq, float("inf")])
            elif kind == "l" and spans and spans[-1][1] == float("inf"):
                spans[-1][1] = seq
        self.visibility: dict[int, str] = dict(db.execute("SELECT id, visibility FROM groups"))

    def during(self, user: int, group: int, lo: float, hi: float) -> bool:
        """Was ``user`` in ``group`` at some point of the log between lo and hi?"""
        return any(a <= hi and lo <= b for a, b in self.spans.get((user, group), ()))

    def readable(self, user: int, group: int, lo: float, hi: float) -> bool:
        return self.visibility.get(group) == "open" or self.during(user, group, lo, hi)


def _events(frame: Any) -> list[Event]:
    if isinstance(frame, Event):
        return [frame]
    if isinstance(frame, Batch | Page):
        return list(frame.events)
    if isinstance(frame, GroupList):
        return list(frame.recent)
    return []


def _event_leak(e: Event, user: int, m: Membership, lo: int, hi: int) -> str | None:
    group = getattr(e, "group", None)
    if group is None or isinstance(e, CharterEvent):
        return None
    if isinstance(e, JoinEvent | LeaveEvent | RequestEvent | AckEvent | ReadEvent) and (
        e.user == user
    ):
        return None  # one's own joins, leaves and requests
    if isinstance(e, GroupEvent) and m.visibility.get(group) != "secret":
        return None  # the settings of groups that are not secret are everyone's
    if m.readable(user, group, max(lo, e.seq), hi):
        return None
    return f"{type(e).__name__} #{e.seq} of {m.visibility.get(group)} group {group}"


def leaks(seen: list[Seen], user: int, m: Membership) -> Iterator[str]:
    """What each frame told ``user`` that they could not read then."""
    for s in seen:
        frame = s.frame
        lo = s.lo
        for e in _events(frame):
            found = _event_leak(e, user, m, lo, s.hi)
            if found:
                yield f"{type(frame).__name__}: {found}"
        if isinstance(frame, GroupList):
            for g in frame.groups:
                vis = m.visibility.get(g.group)
                if vis == "open" or m.during(user, g.group, lo, s.hi):
                    continue
                if vis == "secret":
                    yield f"GroupList: lists secret group {g.group} ({g.name!r})"
                elif g.pins or g.members or g.head:
                    yield f"GroupList: members, head or pins of private group {g.group}"
        elif isinstance(frame, Directory):
            for entry in frame.users:
                for g in entry.groups:
                    if not m.readable(user, g, lo, s.hi):
                        yield f"Directory: {entry.name} is in {m.visibility.get(g)} group {g}"
        elif isinstance(frame, MemberList | RequestList) and isinstance(
            s.request, Members | JoinRequests
        ):
            g = s.request.group
            if not m.readable(user, g, lo, s.hi):
                yield f"{type(frame).__name__} of {m.visibility.get(g)} group {g}"
