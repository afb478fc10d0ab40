"""Messages: chat and feed posts, direct messages, history pages, catch-up after a reconnect."""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from itertools import islice
from typing import Any

from rse_tui.protocol import (
    AckEvent,
    ChatEvent,
    CommentEvent,
    DeleteEvent,
    EditEvent,
    ErrorCode,
    Event,
    FeatureEvent,
    Kind,
    PinEvent,
    Poll,
    PostEvent,
    ProtocolError,
    ReactEvent,
    Reaction,
    ReactionInfo,
    ThreadInfo,
    UserInfo,
    VoteEvent,
)

from .. import policy
from ..database import Outcome
from .accounts import users
from .base import (
    EVENT_COLUMNS,
    CatchUp,
    Receipt,
    append,
    event_from_row,
    keep_receipt,
    post_meta,
)
from .groups import access, bring_back, direct_chat
from .search import index_message, unindex


def append_message(
    conn: sqlite3.Connection,
    user: int,
    group: int,
    kind: str,
    text: str,
    cid: str,
    now: int,
    reply: int | None = None,
    *,
    title: str | None = None,
    ack: bool = False,
    poll: Poll | None = None,
) -> Outcome[Receipt]:
    """Store a chat message or feed post, if the group's rules let ``user`` write.

    ``reply``: a chat message of the same group this one answers. Any other
    message (of another group, deleted, missing, a post) is "unknown
    message", the answer the group's rules give for a message one may not see.
    A post may have a ``title``, ask for acknowledgement (``ack``), carry a
    ``poll`` (checked by the handler; its results start at nothing).
    """
    a = policy.require_write(access(conn, user, group), kind)
    # In a direct chat the other person left, the message brings them back first.
    back = bring_back(conn, group, user, now) if a.facts.dm else []
    answered = live_message(conn, reply) if reply is not None else None
    if reply is not None and (
        kind != Kind.CHAT or answered is None or answered[:2] != (group, Kind.CHAT)
    ):
        raise policy.NotFound("message")
    if poll is not None:
        poll = replace(poll, counts=[0] * len(poll.options), voters=0, version=0)
    meta = post_meta(title, ack, poll) if kind == Kind.POST else None
    seq = append(conn, kind, group, user, now, text, ref=reply, meta=meta)
    index_message(conn, seq, text, title if kind == Kind.POST else None)
    result = Receipt(seq=seq, ts=now)
    keep_receipt(conn, user, cid, result)
    if kind == Kind.CHAT:
        event: Event = ChatEvent(seq=seq, group=group, user=user, ts=now, text=text, reply=reply)
    else:
        event = PostEvent(
            seq=seq, group=group, user=user, ts=now, text=text, title=title or None, ack=ack,
            poll=poll,
        )  # fmt: skip
    return Outcome(result, [*back, event])


def comment(
    conn: sqlite3.Connection, user: int, post: int, text: str, cid: str, now: int
) -> Outcome[Receipt]:
    """A comment on a feed post, where the group's comment policy lets ``user``."""
    a, kind, _ = message_access(conn, user, post)
    if kind != Kind.POST:
        raise policy.NotFound("post")
    policy.require_write(a, Kind.COMMENT)
    group = a.facts.group
    seq = append(conn, Kind.COMMENT, group, user, now, text, ref=post)
    index_message(conn, seq, text, None)
    result = Receipt(seq=seq, ts=now)
    keep_receipt(conn, user, cid, result)
    event = CommentEvent(seq=seq, group=group, user=user, ts=now, text=text, post=post)
    return Outcome(result, [event])


def live_message(conn: sqlite3.Connection, target: int) -> tuple[int, str, int] | None:
    """(group, kind, author) of a live chat message, post or comment; None otherwise."""
    row = conn.execute(
        "SELECT grp, kind, user FROM events WHERE seq = ? AND kind IN (?, ?, ?) AND deleted = 0",
        (target, Kind.CHAT, Kind.POST, Kind.COMMENT),
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]), int(row[2]))


def message_access(
    conn: sqlite3.Connection, user: int, target: int
) -> tuple[policy.Access, str, int]:
    """(the user's access to its group, kind, author) of a live message.

    A missing message and one in a group the user may not see or read are
    both "unknown message", after the same statements (the group's facts and the
    user's role are read for a missing one too): neither answer nor time
    tells them apart.
    """
    found = live_message(conn, target)
    try:
        a = policy.require_visible(access(conn, user, found[0] if found else 0))
    except policy.NotFound:
        raise policy.NotFound("message") from None
    if found is None:  # group 0 never exists: access() raised above
        raise policy.NotFound("message")
    if not policy.readable(a) and found[2] != user:
        # A private group's message, to one who may not read it: as a
        # missing one too (a refusal would tell which numbers are its
        # messages, and which of them posts). Its author, who left, is told
        # why instead: they know it is there.
        raise policy.NotFound("message")
    return a, found[1], found[2]


def edit_message(
    conn: sqlite3.Connection,
    user: int,
    target: int,
    text: str,
    limit: int,
    cid: str,
    now: int,
    title: str | None = None,
) -> Outcome[Receipt]:
    """Change the text of one's own message, where one may still write it.

    The message keeps its place; the log gets an edit event for those who
    missed it, and an earlier edit's text leaves the log (as a deletion's does).
    """
    a, kind, author = message_access(conn, user, target)
    group = a.facts.group
    policy.require_edit(a, kind, author, user)
    if kind != Kind.POST and len(text) > limit:  # the handler checked a post's limit
        raise ProtocolError(ErrorCode.TOO_LONG, f"text has at most {limit} characters")
    if title is not None and kind != Kind.POST:
        raise ProtocolError(ErrorCode.BAD_FIELD, "only a post has a title")
    conn.execute("UPDATE events SET body = ?, edited = ? WHERE seq = ?", (text, now, target))
    if title is not None:  # "" takes the title away
        conn.execute(
            "UPDATE events SET meta = CASE WHEN ? = ''"
            " THEN json_remove(coalesce(meta, '{}'), '$.ti')"
            " ELSE json_set(coalesce(meta, '{}'), '$.ti', ?) END WHERE seq = ?",
            (title, title, target),
        )
    if kind == Kind.POST:
        # Each edit of a post says its title: the newest replaces the others
        # in the log, and a device catching up learns the title from it alone.
        found = conn.execute(
            "SELECT json_extract(meta, '$.ti') FROM events WHERE seq = ?", (target,)
        ).fetchone()
        title = (found[0] if found else None) or ""
    conn.execute(
        "UPDATE events SET body = NULL, meta = NULL, deleted = 1 WHERE ref = ? AND kind = ?",
        (target, EditEvent.TYPE),
    )
    index_message(conn, target, text, title if kind == Kind.POST else None)
    seq = append(conn, EditEvent.TYPE, group, user, now, text, ref=target, meta=_title(title))
    result = Receipt(seq=seq, ts=now)
    keep_receipt(conn, user, cid, result)
    event = EditEvent(
        seq=seq, group=group, user=user, target=target, text=text, ts=now, title=title
    )
    return Outcome(result, [event])


def _title(title: str | None) -> str | None:
    return None if title is None else json.dumps({"ti": title}, separators=(",", ":"))


def delete_message(
    conn: sqlite3.Connection, user: int, target: int, cid: str, now: int
) -> Outcome[Receipt]:
    """Remove a message's text for good; its place in the log remains."""
    a, _, author = message_access(conn, user, target)
    group = a.facts.group
    policy.require_delete(a, author, user)
    forget_message(conn, target)
    seq = append(conn, DeleteEvent.TYPE, group, user, now, {"tg": target})
    result = Receipt(seq=seq, ts=now)
    keep_receipt(conn, user, cid, result)
    event = DeleteEvent(seq=seq, group=group, user=user, target=target)
    # The writer empties the WAL: what was removed leaves the disk at once.
    return Outcome(result, [event], forget=True)


#: The events about a message that go with it: its edits, a post's comments,
#: and the votes, acknowledgements, reactions, pins and features on either.
_ABOUT = (EditEvent, CommentEvent, VoteEvent, AckEvent, ReactEvent, PinEvent, FeatureEvent)
_ABOUT_KINDS = ", ".join(f"'{cls.TYPE}'" for cls in _ABOUT)
_DONE_KINDS = ", ".join(
    f"'{cls.TYPE}'" for cls in (VoteEvent, AckEvent, ReactEvent, PinEvent, FeatureEvent)
)


def forget_message(conn: sqlite3.Connection, target: int) -> None:
    """Remove message ``target`` for good, and all that is about it (a post's
    comments, and theirs): from the log (its place remains, empty) and from
    the state it left (reactions, pins, ballots, who voted, acknowledgements,
    features)."""
    gone = [target] + [
        seq
        for (seq,) in conn.execute(
            "SELECT seq FROM events WHERE ref = ? AND kind = ?", (target, Kind.COMMENT)
        )
    ]
    unindex(conn, gone)
    for start in range(0, len(gone), 500):
        chunk = gone[start : start + 500]
        marks = ",".join("?" * len(chunk))
        conn.execute(
            "UPDATE events SET body = NULL, meta = NULL, deleted = 1"
            f" WHERE seq IN ({marks}) OR (ref IN ({marks}) AND kind IN ({_ABOUT_KINDS}))",
            chunk + chunk,
        )
        # Who voted, acknowledged, reacted, pinned or featured it, and when,
        # goes too (found by an attacker: the emptied rows still said it): an
        # emptied place of that kind is nobody's. A comment's or an edit's
        # place keeps its author, as every deleted message's does; and every
        # write keeps its receipt, which answers a resend as the first time.
        conn.execute(
            "UPDATE events SET user = 0, ts = 0, ref = NULL"
            f" WHERE ref IN ({marks}) AND kind IN ({_DONE_KINDS})",
            chunk,
        )
        for table, column in (
            ("reactions", "target"),
            ("pins", "seq"),
            ("ballots", "poll"),
            ("anon_voters", "poll"),
            ("acks", "post"),
            ("featured", "seq"),
        ):
            conn.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk)


def pin_message(
    conn: sqlite3.Connection, user: int, target: int, on: bool, cid: str, now: int
) -> Outcome[Receipt]:
    a, _, _ = message_access(conn, user, target)
    group = a.facts.group
    policy.require_moderator(a)
    if on:
        conn.execute(
            "INSERT OR IGNORE INTO pins (grp, seq, ts) VALUES (?, ?, ?)", (group, target, now)
        )
    else:
        conn.execute("DELETE FROM pins WHERE grp = ? AND seq = ?", (group, target))
    body = {"tg": target, "on": int(on)}
    seq = append(conn, PinEvent.TYPE, group, user, now, body, ref=target)
    result = Receipt(seq=seq, ts=now)
    keep_receipt(conn, user, cid, result)
    return Outcome(result, [PinEvent(seq=seq, group=group, user=user, target=target, on=on)])


def react(
    conn: sqlite3.Connection, user: int, target: int, emoji: str, on: bool, cid: str, now: int
) -> Outcome[Receipt]:
    """Put (or take back) a reaction on a message, where one may comment."""
    a, _, _ = message_access(conn, user, target)
    group = a.facts.group
    policy.require_react(a)
    if not Reaction.knows(emoji):
        raise ProtocolError(
            ErrorCode.BAD_FIELD, f"'e' must be one of {', '.join(Reaction.words())}"
        )
    if on:
        conn.execute(
            "INSERT OR IGNORE INTO reactions (target, user, emoji, grp) VALUES (?, ?, ?, ?)",
            (target, user, emoji, group),
        )
    else:
        conn.execute(
            "DELETE FROM reactions WHERE target = ? AND user = ? AND emoji = ?",
            (target, user, emoji),
        )
    body = {"tg": target, "e": emoji, "on": int(on)}
    seq = append(conn, ReactEvent.TYPE, group, user, now, body, ref=target)
    result = Receipt(seq=seq, ts=now)
    keep_receipt(conn, user, cid, result)
    event = ReactEvent(seq=seq, group=group, user=user, target=target, emoji=emoji, on=on)
    return Outcome(result, [event])


#: Text a history page or a catch-up carries at most (Limits.max_reply_text).
MAX_REPLY_TEXT = 1024 * 1024


def _fit(rows: list[Any], budget: int) -> int:
    """How many of ``rows`` (newest first) fit in ``budget`` characters of text;
    at least one."""
    total = 0
    for n, row in enumerate(rows):
        total += len(row[5] or "")
        if total > budget and n:
            return n
    return len(rows)


def history(
    conn: sqlite3.Connection,
    user: int,
    group: int,
    kind: str,
    before: int | None,
    limit: int,
    max_text: int = MAX_REPLY_TEXT,
) -> tuple[list[Event], bool]:
    """Up to ``limit`` events of ``kind`` in ``group`` before ``before``, oldest
    first, and fewer when their text passes ``max_text`` (``more`` says so)."""
    policy.require_readable(access(conn, user, group))
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE grp = ? AND kind = ? AND seq < ?"
        " AND deleted = 0 ORDER BY seq DESC LIMIT ?",
        (group, kind, before if before is not None else 2**63 - 1, limit + 1),
    ).fetchall()
    kept = min(limit, _fit(rows, max_text))
    return [event_from_row(r) for r in reversed(rows[:kept])], len(rows) > kept


def history_page(
    conn: sqlite3.Connection,
    user: int,
    group: int,
    kind: str,
    before: int | None,
    limit: int,
    max_text: int = MAX_REPLY_TEXT,
) -> tuple[list[Event], bool, list[UserInfo], list[ReactionInfo], int, list[ThreadInfo]]:
    """A history page with its authors' names and titles, the reactions on its
    messages (as of event ``as_of`` or later) and their comment or reply
    counts, from one read."""
    events, more = history(conn, user, group, kind, before, limit, max_text)
    reactions, threads, as_of = page_extras(conn, [e.seq for e in events], [group])
    # Authors are public (the directory lists them).
    authors = users(conn, {getattr(e, "user", 0) for e in events})
    return events, more, authors, reactions, as_of, threads


def page_extras(
    conn: sqlite3.Connection, targets: list[int], groups: Iterable[int], *, always: bool = False
) -> tuple[list[ReactionInfo], list[ThreadInfo], int]:
    """The reactions on ``targets`` (messages of ``groups``) and their comment
    or reply counts, and the event both are true as of at least: their groups'
    head, read first, so a change after it is the stream's to tell too, and
    wins on the client. No reaction and no count, no moment (0, unless
    ``always``): the cache's own come from the stream (and the bytes are saved)."""
    as_of = groups_head(conn, groups)
    reactions = reactions_of(conn, targets)
    threads = threads_of(conn, targets)
    return reactions, threads, as_of if (always or reactions or threads) else 0


def threads_of(conn: sqlite3.Connection, targets: list[int]) -> list[ThreadInfo]:
    """How many live comments (a post's) or replies (a chat message's) each of
    ``targets`` has; those with none are left out."""
    out: list[ThreadInfo] = []
    for start in range(0, len(targets), 500):
        chunk = targets[start : start + 500]
        marks = ",".join("?" * len(chunk))
        out += [
            ThreadInfo(target=ref, count=n)
            for ref, n in conn.execute(
                f"SELECT ref, count(*) FROM events WHERE ref IN ({marks})"
                f" AND kind IN ('{Kind.CHAT}', '{Kind.COMMENT}') AND deleted = 0"
                " GROUP BY ref ORDER BY ref",
                chunk,
            )
        ]
    return out


def groups_head(conn: sqlite3.Connection, groups: Iterable[int]) -> int:
    """The newest event of ``groups`` (groups the caller may read): what a
    page of theirs is true as of. Not the log's head, which would tell anyone
    asking for pages when anything happens anywhere, secret groups included."""
    return max(
        (conn.execute(policy.HEAD_SQL, (g,)).fetchone()[0] for g in set(groups)),
        default=0,
    )


def reactions_of(conn: sqlite3.Connection, targets: list[int]) -> list[ReactionInfo]:
    """The reactions on ``targets`` (messages the caller may read). What they
    are true as of is the caller's to read first (``groups_head``)."""
    found: dict[tuple[int, str], list[int]] = {}
    for start in range(0, len(targets), 500):
        chunk = targets[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for target, emoji, who in conn.execute(
            f"SELECT target, emoji, user FROM reactions WHERE target IN ({marks})"
            " ORDER BY target, emoji, user",
            chunk,
        ):
            found.setdefault((target, emoji), []).append(who)
    return [ReactionInfo(target=t, emoji=e, users=u) for (t, e), u in found.items()]


def recent_chat(
    conn: sqlite3.Connection, user: int, groups: list[int], budget: int
) -> tuple[list[Event], list[UserInfo]]:
    """Up to ``budget`` newest chat messages, filling ``groups`` in order: each
    group takes what the ones before it left (how the client reads it back)."""
    events: list[Event] = []
    for group in groups:
        if budget <= 0:
            break
        page, _ = history(conn, user, group, Kind.CHAT, None, budget)
        events.extend(page)
        budget -= len(page)
    return events, users(conn, {getattr(e, "user", 0) for e in events})


def events_between(conn: sqlite3.Connection, after: int, upto: int) -> list[Event]:
    """The stored events numbered in ``(after, upto]``, oldest first (for the
    server to hand on what another process stored)."""
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE seq > ? AND seq <= ? AND deleted = 0"
        " ORDER BY seq",
        (after, upto),
    ).fetchall()
    return [event_from_row(r) for r in rows]


def head(conn: sqlite3.Connection) -> int:
    """The newest sequence number stored (for the server's own bookkeeping)."""
    row = conn.execute("SELECT max(seq) FROM events").fetchone()
    return int(row[0] or 0)


def _visible(
    conn: sqlite3.Connection, user: int, since: int, top: int, n: int, newest: bool = False
) -> tuple[list[int], int]:
    """The first (or, ``newest``, the last) ``n`` sequence numbers in
    ``(since, top]`` of events ``user`` may see, in ascending order, and how
    many sources were read.

    Each source of policy's catch-up rule is read in order up to ``n`` and the
    sources are merged: the work is bounded by what the user may see.
    """
    order = "DESC" if newest else ""
    params: dict[str, object] = {"u": user, "since": since, "top": top, "n": n}
    sources = [
        [r[0] for r in conn.execute(policy.EVERYONE_SQL.format(order=order), params)],
        [r[0] for r in conn.execute(policy.OWN_SQL.format(order=order), params)],
    ]
    member_sql = policy.MEMBER_SQL.format(order=order)
    for group, moderator in conn.execute(policy.MEMBERSHIPS_SQL, params).fetchall():
        params.update(g=group, moderator=moderator)
        sources.append([r[0] for r in conn.execute(member_sql, params)])
    merged = heapq.merge(*sources, reverse=newest)
    seqs = list(islice(dict.fromkeys(merged), n))  # sources overlap (a member's own join)
    if newest:
        seqs.reverse()
    return seqs, len(sources)


def _events(conn: sqlite3.Connection, seqs: list[int]) -> list[Event]:
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE seq IN (SELECT value FROM json_each(?))"
        " ORDER BY seq",
        (json.dumps(seqs),),
    ).fetchall()
    return [event_from_row(r) for r in rows]


def start_at(conn: sqlite3.Connection, user: int) -> CatchUp:
    """No catch-up: where a connection starts live (``user_head``), as a CatchUp."""
    newest, sources = _visible(conn, user, 0, head(conn), 1, newest=True)
    return CatchUp(newest[0] if newest else 0, [], None, sources)


def user_head(conn: sqlite3.Connection, user: int) -> int:
    """The newest sequence number of an event ``user`` may see: where a new
    connection starts. (Not the log's head: how much happens in groups one
    cannot see is not for an idle connection to watch.)"""
    return start_at(conn, user).head


def catch_up(
    conn: sqlite3.Connection, user: int, since: int, bound: int, max_text: int = MAX_REPLY_TEXT
) -> CatchUp:
    """The events ``user`` missed after ``since``, or the newest ``bound`` (and
    that fit in ``max_text`` characters of text) and a gap.

    The head it answers is the newest event the user may see (see ``user_head``).
    """
    top = head(conn)
    seqs, sources = _visible(conn, user, since, top, bound + 1)
    if len(seqs) <= bound:
        if not seqs:  # nothing new (the usual reconnect): the client's own cursor
            start = since if since <= top else user_head(conn, user)  # (else: a restored log)
            return CatchUp(start, [], None, sources)
        events = _events(conn, seqs)
        if _text(events) <= max_text:
            return CatchUp(seqs[-1], events, None, sources)
    else:
        seqs, more = _visible(conn, user, since, top, bound, newest=True)
        sources += more
        events = _events(conn, seqs)
    kept = _newest_within(events, max_text)
    return CatchUp(seqs[-1], kept, kept[0].seq - 1, sources)


def _text(events: list[Event]) -> int:
    return sum(len(getattr(e, "text", "") or "") for e in events)


def _newest_within(events: list[Event], budget: int) -> list[Event]:
    """The newest of ``events`` whose text fits in ``budget`` (at least one)."""
    total, start = 0, len(events)
    while start > 0:
        total += len(getattr(events[start - 1], "text", "") or "")
        if total > budget and start < len(events):
            break
        start -= 1
    return events[start:]


# -- direct messages -------------------------------------------------------------------


def send_direct(
    conn: sqlite3.Connection,
    user: int,
    target: int,
    text: str,
    cid: str,
    now: int,
    written: int | None = None,
) -> Outcome[Receipt]:
    """A chat message in the two-person chat of ``user`` and ``target`` (made on first use),
    shown as ``written`` (default ``now``)."""
    group, events = direct_chat(conn, user, target, now)
    shown = now if written is None else written
    message = append_message(conn, user, group, Kind.CHAT, text, cid, shown)
    result = Receipt(seq=message.value.seq, ts=message.value.ts, group=group)
    conn.execute(
        "UPDATE receipts SET result = json_set(result, '$.g', ?) WHERE user = ? AND cid = ?",
        (group, user, cid),
    )
    return Outcome(result, events + message.events)
