"""The feed's interactions: polls and votes, acknowledgements, read markers,
featured posts; threads and the home portal (reads).

Anonymous polls keep no link between a voter and a choice. Who voted is one
sorted list per poll (``anon_voters``: no time, no order, no choice; each
entry keeps its write id, so that a vote sent again is answered, not
refused). A vote adds its choices to the poll's pending sum and stores
nothing else: no event, no receipt. Every ``tally_every`` seconds
:func:`publish_tallies` adds the pending sums to the results in the post and
publishes one vote event per poll (no voter, the poll's own time),
replacing the last: a batch of votes moves the results together, and what
they were before is gone. The server's connections zero what they delete
(``secure_delete``) and the writer empties its write-ahead log after such a
write (``Outcome.forget``).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import sqlite3
from collections.abc import Callable
from itertools import islice
from typing import Any

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
    conn: sqlite3.Connection,
    user: int,
    target: int,
    what: str,
    check: Callable[[policy.Access], object],
) -> tuple[policy.Access, PostEvent]:
    """The user's access to the group of live post ``target``, and the post.
    ``check`` (a policy rule) runs first: one refused learns nothing of the
    message, not even that it is a post. Any other message is "unknown
    ``what``", as a missing one is."""
    a, kind, _ = message_access(conn, user, target)
    check(a)
    if kind != Kind.POST:
        raise policy.NotFound(what)
    return a, _post(conn, target)


def _member_to(doing: str) -> Callable[[policy.Access], object]:
    return lambda a: policy.require_member(a, doing)


def vote(
    conn: sqlite3.Connection, user: int, target: int, choices: list[int], cid: str, now: int
) -> Outcome[Receipt]:
    a, post = _post_access(conn, user, target, "poll", _member_to("vote"))
    poll = post.poll
    if poll is None:
        raise policy.NotFound("poll")
    if poll.closes is not None and now >= poll.closes:
        raise policy.forbidden("this poll is closed")
    if not choices or len(set(choices)) != len(choices):
        raise ProtocolError(ErrorCode.BAD_FIELD, "'ch' names one or more different options")
    if not poll.multiple and len(choices) != 1:
        raise ProtocolError(ErrorCode.BAD_FIELD, "this poll takes one choice")
    if any(c >= len(poll.options) for c in choices):
        raise ProtocolError(ErrorCode.BAD_FIELD, f"the options are 0 to {len(poll.options) - 1}")
    counts, voters = list(poll.counts), poll.voters
    if poll.anonymous:
        return _vote_anonymously(conn, user, target, len(poll.options), choices, cid)
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
    # The voter's new vote replaces their last one in the log (each voter's
    # newest stays, for devices catching up; the newest of all has the results).
    conn.execute(
        "UPDATE events SET body = NULL, deleted = 1 WHERE ref = ? AND kind = ? AND user = ?",
        (target, VoteEvent.TYPE, user),
    )
    body = {"n": counts, "vt": voters, "c": sorted(choices)}
    seq = append(conn, VoteEvent.TYPE, a.facts.group, user, now, body, ref=target)
    _set_results(conn, target, counts, voters, seq)
    result = Receipt(seq=seq, ts=now)
    keep_receipt(conn, user, cid, result)
    event = VoteEvent(
        seq=seq,
        group=a.facts.group,
        target=target,
        counts=counts,
        voters=voters,
        user=user,
        choices=sorted(choices),
    )
    return Outcome(result, [event])


def _set_results(
    conn: sqlite3.Connection, target: int, counts: list[int], voters: int, version: int
) -> None:
    conn.execute(
        "UPDATE events SET meta = json_set(meta, '$.po.n', json(?), '$.po.vt', ?, '$.po.v', ?)"
        " WHERE seq = ?",
        (json.dumps(counts), voters, version, target),
    )


def write_mark(cid: str) -> str:
    """What an anonymous vote keeps of its client write id: enough to answer
    the same vote sent again, and nothing a client could have put in the id
    (a time, a counter: an attacker found that a raw id could carry one)."""
    return hashlib.sha256(cid.encode()).hexdigest()[:24]


def _vote_anonymously(
    conn: sqlite3.Connection, user: int, target: int, options: int, choices: list[int], cid: str
) -> Outcome[Receipt]:
    """Note that ``user`` voted, add the choices to the pending sum: nothing
    else (see the module's docstring)."""
    row = conn.execute(
        "SELECT voters, pending FROM anon_voters WHERE poll = ?", (target,)
    ).fetchone()
    voters: list[list[int | str]] = json.loads(row[0]) if row else []
    before = [v for v in voters if v[0] == user]
    mark = write_mark(cid)
    if before:
        if before[0][1] == mark:  # sent again: the same answer
            return Outcome(Receipt(seq=0), replayed=True)
        raise policy.forbidden("you voted in this poll already (an anonymous vote is final)")
    voters = sorted([*voters, [user, mark]], key=lambda v: (v[0], str(v[1])))
    pending: dict[str, Any] = json.loads(row[1]) if row and row[1] else {"n": [0] * options, "b": 0}
    for c in choices:
        pending["n"][c] += 1
    pending["b"] += 1
    conn.execute(
        "INSERT INTO anon_voters (poll, voters, pending) VALUES (?, ?, ?)"
        " ON CONFLICT (poll) DO UPDATE SET voters = excluded.voters, pending = excluded.pending",
        (target, json.dumps(voters, separators=(",", ":")), json.dumps(pending)),
    )
    return Outcome(Receipt(seq=0), forget=True)


def publish_tallies(conn: sqlite3.Connection) -> Outcome[int]:
    """Count the anonymous votes waiting in each poll and publish the results,
    one event per poll replacing the last (see the module's docstring)."""
    events: list[Event] = []
    for poll, pending_text in conn.execute(
        "SELECT poll, pending FROM anon_voters WHERE pending IS NOT NULL ORDER BY poll"
    ).fetchall():
        pending = json.loads(pending_text)
        conn.execute("UPDATE anon_voters SET pending = NULL WHERE poll = ?", (poll,))
        found = conn.execute(
            "SELECT grp, deleted FROM events WHERE seq = ? AND kind = ?", (poll, Kind.POST)
        ).fetchone()
        if found is None or found[1]:
            continue  # deleted meanwhile
        post = _post(conn, poll)
        assert post.poll is not None
        counts = [a + b for a, b in zip(post.poll.counts, pending["n"], strict=False)]
        voters = post.poll.voters + pending["b"]
        conn.execute("DELETE FROM events WHERE ref = ? AND kind = ?", (poll, VoteEvent.TYPE))
        seq = append(conn, VoteEvent.TYPE, post.group, 0, post.ts, {"n": counts, "vt": voters},
                     ref=poll)  # fmt: skip
        _set_results(conn, poll, counts, voters, seq)
        events.append(
            VoteEvent(seq=seq, group=post.group, target=poll, counts=counts, voters=voters)
        )
    return Outcome(len(events), events, forget=bool(events))


def acknowledge(
    conn: sqlite3.Connection, user: int, target: int, cid: str, now: int
) -> Outcome[Receipt]:
    a, post = _post_access(conn, user, target, "announcement", _member_to("acknowledge"))
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
    a, post = _post_access(conn, user, target, "announcement", policy.require_readable)
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
    a, _ = _post_access(conn, user, target, "post", policy.require_admin)
    if on and a.facts.visibility != Visibility.OPEN:
        raise policy.forbidden(
            "only posts of open groups are featured for everyone (a moderator pins the others)"
        )
    group = a.facts.group
    featured = conn.execute("SELECT 1 FROM featured WHERE seq = ?", (target,)).fetchone()
    if not on and not featured:  # nothing to tell anyone
        raise ProtocolError(ErrorCode.BAD_FIELD, "this post is not featured")
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
    reactions, counts, as_of = page_extras(conn, shown, [a.facts.group], always=True)
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
            row = conn.execute(
                "SELECT voters FROM anon_voters WHERE poll = ?", (target,)
            ).fetchone()
            voted = row is not None and any(v[0] == user for v in json.loads(row[0]))
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
    the list of featured posts is true as of event ``top``. The last value is
    how many groups were read (what the call cost)."""
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
    # True as of the newest event of the groups they come from, or of one's
    # groups (a featured post's group may be none of them), read after.
    involved = {getattr(e, "group", 0) for e in events} | set(groups)
    reactions, threads, top = page_extras(conn, seqs, involved, always=True)
    authors = users(conn, {getattr(e, "user", 0) for e in events})
    return events, featured, authors, reactions, top, threads, len(groups)
