"""The feed's interactions: polls and votes, acknowledgements, read markers,
featured posts; threads and the home portal (reads).

Anonymous polls keep no link between a voter and a choice: the results are
counts in the post's ``meta``; who voted is a key in ``voted`` (no time, no
order, no choice); the vote's event carries no voter and the poll's own
time; its receipt carries no sequence number; each vote's event replaces
the last (the log does not keep one ballot's difference from the next).
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from itertools import islice

from rse_tui.protocol import (
    AckEvent,
    Ballot,
    ErrorCode,
    Event,
    FeatureEvent,
    Kind,
    PostEvent,
    ProtocolError,
    ReactionInfo,
    ReadEvent,
    ThreadInfo,
    UserInfo,
    Visibility,
    VoteEvent,
)

from .. import policy
from ..database import Outcome
from .accounts import users
from .base import EVENT_COLUMNS, Receipt, append, event_from_row, keep_receipt
from .groups import access
from .timeline import MAX_REPLY_TEXT, message_access, page_extras


def _post(conn: sqlite3.Connection, target: int) -> PostEvent:
    row = conn.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE seq = ?", (target,)).fetchone()
    event = event_from_row(row)
    assert isinstance(event, PostEvent)
    return event


def _post_access(
    conn: sqlite3.Connection, user: int, target: int, what: str
) -> tuple[policy.Access, PostEvent]:
    """The user's access to the group of live post ``target``, and the post.
    Any other message is "unknown ``what``", as a missing one is."""
    a, kind, _ = message_access(conn, user, target)
    if kind != Kind.POST:
        raise policy.NotFound(what)
    return a, _post(conn, target)


def vote(
    conn: sqlite3.Connection, user: int, target: int, choices: list[int], cid: str, now: int
) -> Outcome[Receipt]:
    a, post = _post_access(conn, user, target, "poll")
    policy.require_member(a, "vote")  # before saying anything of the post
    poll = post.poll
    if poll is None:
        raise policy.NotFound("poll")
    if poll.closes is not None and now >= poll.closes:
        raise policy.forbidden("this poll is closed")
    if not choices or len(set(choices)) != len(choices):
        raise ProtocolError(ErrorCode.BAD_FIELD, "'c' names one or more different options")
    if not poll.multiple and len(choices) != 1:
        raise ProtocolError(ErrorCode.BAD_FIELD, "this poll takes one choice")
    if any(c >= len(poll.options) for c in choices):
        raise ProtocolError(ErrorCode.BAD_FIELD, f"the options are 0 to {len(poll.options) - 1}")
    counts, voters = list(poll.counts), poll.voters
    if poll.anonymous:
        done = conn.execute(
            "SELECT 1 FROM voted WHERE poll = ? AND user = ?", (target, user)
        ).fetchone()
        if done:
            raise policy.forbidden("you voted in this poll already (an anonymous vote is final)")
        conn.execute("INSERT INTO voted (poll, user) VALUES (?, ?)", (target, user))
        voters += 1
    else:
        row = conn.execute(
            "SELECT choices FROM ballots WHERE poll = ? AND user = ?", (target, user)
        ).fetchone()
        if row is None:
            voters += 1
        else:
            for c in json.loads(row[0]):
                counts[c] -= 1
        conn.execute(
            "INSERT INTO ballots (poll, user, choices) VALUES (?, ?, ?)"
            " ON CONFLICT (poll, user) DO UPDATE SET choices = excluded.choices",
            (target, user, json.dumps(sorted(choices))),
        )
    for c in choices:
        counts[c] += 1
    # The newest results replace the last vote's event: the log keeps no
    # trace of one ballot's difference from the next.
    conn.execute(
        "UPDATE events SET body = NULL, deleted = 1 WHERE ref = ? AND kind = ?",
        (target, VoteEvent.TYPE),
    )
    named = not poll.anonymous
    body = {"n": counts, "vt": voters, "c": sorted(choices) if named else None}
    seq = append(
        conn, VoteEvent.TYPE, a.facts.group, user if named else 0, now if named else post.ts,
        body, ref=target,
    )  # fmt: skip
    conn.execute(
        "UPDATE events SET meta = json_set(meta, '$.po.n', json(?), '$.po.vt', ?, '$.po.v', ?)"
        " WHERE seq = ?",
        (json.dumps(counts), voters, seq, target),
    )
    result = Receipt(seq=seq if named else 0)  # an anonymous vote's receipt says nothing
    keep_receipt(conn, user, cid, result)
    event = VoteEvent(
        seq=seq,
        group=a.facts.group,
        target=target,
        counts=counts,
        voters=voters,
        user=user if named else None,
        choices=sorted(choices) if named else None,
    )
    return Outcome(result, [event])


def acknowledge(
    conn: sqlite3.Connection, user: int, target: int, cid: str, now: int
) -> Outcome[Receipt]:
    a, post = _post_access(conn, user, target, "announcement")
    policy.require_member(a, "acknowledge")  # before saying anything of the post
    if not post.ack:
        raise ProtocolError(ErrorCode.BAD_FIELD, "this post does not ask for acknowledgement")
    added = conn.execute(
        "INSERT OR IGNORE INTO acks (post, user) VALUES (?, ?)", (target, user)
    ).rowcount
    if not added:  # acknowledged before (another device): nothing new
        result = Receipt(seq=0)
        keep_receipt(conn, user, cid, result)
        return Outcome(result)
    seq = append(conn, AckEvent.TYPE, a.facts.group, user, now, None, ref=target)
    result = Receipt(seq=seq, ts=now)
    keep_receipt(conn, user, cid, result)
    return Outcome(result, [AckEvent(seq=seq, group=a.facts.group, user=user, target=target)])


def ack_status(conn: sqlite3.Connection, user: int, target: int) -> tuple[list[int], list[int]]:
    """Who acknowledged announcement ``target``, and which members have not
    yet (its author aside): for its author and the group's moderators."""
    a, post = _post_access(conn, user, target, "announcement")
    policy.require_readable(a)
    if not post.ack:
        raise ProtocolError(ErrorCode.BAD_FIELD, "this post does not ask for acknowledgement")
    if post.user != user and not policy.moderates(a):
        raise policy.forbidden("only its author and the group's moderators see who acknowledged")
    done = [
        r[0] for r in conn.execute("SELECT user FROM acks WHERE post = ? ORDER BY user", (target,))
    ]
    waiting = [
        r[0]
        for r in conn.execute(
            "SELECT user FROM members WHERE grp = ? AND user != ?"
            " AND user NOT IN (SELECT user FROM acks WHERE post = ?) ORDER BY user",
            (a.facts.group, post.user, target),
        )
    ]
    return done, waiting


def mark_read(
    conn: sqlite3.Connection, user: int, group: int, upto: int, cid: str, now: int
) -> Outcome[Receipt]:
    """``user`` read ``group`` (0: the inbox) up to event ``upto``: markers only
    move forward, and never past the log's head."""
    if group:
        policy.require_readable(access(conn, user, group))
    top = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
    upto = min(upto, top)
    row = conn.execute(
        "SELECT upto FROM reads WHERE user = ? AND grp = ?", (user, group)
    ).fetchone()
    if row is not None and row[0] >= upto:
        result = Receipt(seq=0)
        keep_receipt(conn, user, cid, result)
        return Outcome(result)
    conn.execute(
        "INSERT INTO reads (user, grp, upto) VALUES (?, ?, ?)"
        " ON CONFLICT (user, grp) DO UPDATE SET upto = excluded.upto",
        (user, group, upto),
    )
    # One marker per group in the log: the newest.
    conn.execute(
        "UPDATE events SET body = NULL, deleted = 1 WHERE user = ? AND kind = ? AND grp = ?",
        (user, ReadEvent.TYPE, group),
    )
    seq = append(conn, ReadEvent.TYPE, group, user, now, {"up": upto})
    result = Receipt(seq=seq, ts=now)
    keep_receipt(conn, user, cid, result)
    return Outcome(result, [ReadEvent(seq=seq, group=group, user=user, upto=upto)])


def read_markers(conn: sqlite3.Connection, user: int) -> dict[int, int]:
    return dict(conn.execute("SELECT grp, upto FROM reads WHERE user = ?", (user,)).fetchall())


def feature(
    conn: sqlite3.Connection, user: int, target: int, on: bool, cid: str, now: int
) -> Outcome[Receipt]:
    """A site admin features a post of an open group for everyone (or stops)."""
    a, _ = _post_access(conn, user, target, "post")
    policy.require_admin(a)
    if on and a.facts.visibility != Visibility.OPEN:
        raise policy.forbidden(
            "only posts of open groups are featured for everyone (a moderator pins the others)"
        )
    group = a.facts.group
    if on:
        conn.execute(
            "INSERT OR IGNORE INTO featured (seq, grp, ts) VALUES (?, ?, ?)", (target, group, now)
        )
    else:
        conn.execute("DELETE FROM featured WHERE seq = ?", (target,))
    seq = append(conn, FeatureEvent.TYPE, group, user, now, {"on": int(on)}, ref=target)
    result = Receipt(seq=seq, ts=now)
    keep_receipt(conn, user, cid, result)
    return Outcome(result, [FeatureEvent(seq=seq, group=group, user=user, target=target, on=on)])


# -- reads ----------------------------------------------------------------------------


def _events(conn: sqlite3.Connection, seqs: list[int]) -> list[Event]:
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE seq IN (SELECT value FROM json_each(?))"
        " ORDER BY seq",
        (json.dumps(seqs),),
    ).fetchall()
    return [event_from_row(r) for r in rows]


def _within(events: list[Event], budget: int) -> list[Event]:
    """The first of ``events`` whose text fits in ``budget`` characters (at least one)."""
    total = 0
    for n, event in enumerate(events):
        total += len(getattr(event, "text", "") or "")
        if total > budget and n:
            return events[:n]
    return events


def thread(
    conn: sqlite3.Connection,
    user: int,
    target: int,
    after: int,
    limit: int,
    max_text: int = MAX_REPLY_TEXT,
) -> tuple[
    list[Event], bool, list[UserInfo], list[ReactionInfo], int, list[ThreadInfo],
    list[Ballot], bool, bool,
]:  # fmt: skip
    """A post with its comments, or a chat message with its replies (a
    comment: its post's thread), oldest first, up to ``limit`` after
    ``after``; with authors, reactions, counts, and for a post its poll's
    ballots (not anonymous) and whether ``user`` voted and acknowledged."""
    a, kind, _ = message_access(conn, user, target)
    policy.require_readable(a)
    if kind == Kind.COMMENT:
        target = conn.execute("SELECT ref FROM events WHERE seq = ?", (target,)).fetchone()[0]
        a, kind, _ = message_access(conn, user, target)
    children = Kind.COMMENT if kind == Kind.POST else Kind.CHAT
    seqs = [
        r[0]
        for r in conn.execute(
            "SELECT seq FROM events WHERE ref = ? AND kind = ? AND deleted = 0 AND seq > ?"
            " ORDER BY seq LIMIT ?",
            (target, children, after, limit + 1),
        )
    ]
    events = _within(_events(conn, [target, *seqs[:limit]]), max_text)
    more = len(seqs) > len(events) - 1
    shown = [e.seq for e in events]
    reactions, counts, as_of = page_extras(conn, shown, always=True)
    authors = users(conn, {getattr(e, "user", 0) for e in events})
    ballots: list[Ballot] = []
    voted = acked = False
    root = events[0]
    if isinstance(root, PostEvent):
        if root.poll is not None and not root.poll.anonymous:
            ballots = [
                Ballot(user=u, choices=json.loads(c))
                for u, c in conn.execute(
                    "SELECT user, choices FROM ballots WHERE poll = ? ORDER BY user", (target,)
                )
            ]
            voted = any(b.user == user for b in ballots)
            authors = users(
                conn, {*(getattr(e, "user", 0) for e in events), *(b.user for b in ballots)}
            )
        elif root.poll is not None:
            voted = bool(
                conn.execute(
                    "SELECT 1 FROM voted WHERE poll = ? AND user = ?", (target, user)
                ).fetchone()
            )
        acked = bool(
            conn.execute(
                "SELECT 1 FROM acks WHERE post = ? AND user = ?", (target, user)
            ).fetchone()
        )
    return events, more, authors, reactions, as_of, counts, ballots, voted, acked


def home(
    conn: sqlite3.Connection, user: int, limit: int, max_text: int = MAX_REPLY_TEXT
) -> tuple[list[Event], list[int], list[UserInfo], list[ReactionInfo], int, list[ThreadInfo], int]:
    """The home portal: featured posts (for everyone, of groups still open;
    pinned in one's groups), then the newest ``limit`` posts of one's groups;
    the list of featured posts is true as of event ``top`` (read first). The
    last value is how many groups were read (what the call cost)."""
    top = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
    featured = [
        r[0]
        for r in conn.execute(
            "SELECT f.seq FROM featured f JOIN groups g ON g.id = f.grp"
            " JOIN events e ON e.seq = f.seq AND e.deleted = 0"
            f" WHERE g.visibility = '{Visibility.OPEN}' ORDER BY f.ts DESC LIMIT ?",
            (limit,),
        )
    ]
    pinned = [
        r[0]
        for r in conn.execute(
            "SELECT p.seq FROM pins p JOIN members m ON m.grp = p.grp AND m.user = ?"
            f" JOIN events e ON e.seq = p.seq AND e.kind = '{Kind.POST}' AND e.deleted = 0"
            " ORDER BY p.ts DESC LIMIT ?",
            (user, limit),
        )
    ]
    groups = [r[0] for r in conn.execute("SELECT grp FROM members WHERE user = ?", (user,))]
    newest = heapq.merge(
        *(
            [
                r[0]
                for r in conn.execute(
                    "SELECT seq FROM events WHERE grp = ? AND kind = ? AND deleted = 0"
                    " ORDER BY seq DESC LIMIT ?",
                    (g, Kind.POST, limit),
                )
            ]
            for g in groups
        ),
        reverse=True,
    )
    ranked = list(dict.fromkeys([*featured, *pinned, *islice(newest, limit)]))
    by_seq = {e.seq: e for e in _events(conn, ranked)}
    # Featured first, then the newest, as long as their text fits.
    kept = _within([by_seq[s] for s in ranked if s in by_seq], max_text)
    events = sorted(kept, key=lambda e: e.seq)
    seqs = [e.seq for e in events]
    featured = [s for s in featured if s in set(seqs)]
    reactions, threads, _ = page_extras(conn, seqs)
    authors = users(conn, {getattr(e, "user", 0) for e in events})
    return events, featured, authors, reactions, top, threads, len(groups)
