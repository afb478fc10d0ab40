"""The reducer's feed handlers: comments and replies counted per thread,
polls' results, my votes and acknowledgements, read markers, featured posts.

Each piece of state carries the sequence number of the news that set it
(``version``): newer news wins, in whatever order pages, the stream and
acknowledgements bring it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from rse_tui.protocol import (
    AckEvent,
    Event,
    FeatureEvent,
    Poll,
    PostEvent,
    ReadEvent,
    ThreadInfo,
    VoteEvent,
    to_wire,
)

from .base import CacheBase


@dataclass(frozen=True, slots=True)
class MyVote:
    """A fact only the voter's device knows at once: I chose ``choices`` in
    poll ``target`` (``seq`` 0: an anonymous poll's vote, which has none)."""

    target: int
    choices: list[int]
    seq: int = 0


def poll_definition(poll: Poll) -> str:
    """What the messages table keeps of a poll: its options and rules (the
    results live in ``polls``, as of the news that told them)."""
    return json.dumps(
        {k: v for k, v in to_wire(poll).items() if k in ("o", "mu", "an", "cl")},
        separators=(",", ":"),
    )


class FeedReducer(CacheBase):
    """State of threads, polls, acknowledgements, read markers, features."""

    def _thread_count(self, target: int, group: int, count: int, version: int) -> None:
        self.conn.execute(
            "INSERT INTO threads (target, grp, count, version) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET count = excluded.count, version = excluded.version"
            " WHERE excluded.version > threads.version",
            (target, group, count, version),
        )

    def _thread_bump(self, target: int, group: int, delta: int, version: int) -> None:
        """One comment or reply more (or fewer), told by news ``version``: counted
        unless the count is as of that news already."""
        self.conn.execute(
            "INSERT INTO threads (target, grp, count, version) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET count = max(threads.count + ?, 0),"
            " version = excluded.version WHERE excluded.version > threads.version",
            (target, group, max(delta, 0), version, delta),
        )

    def _page_threads(self, group: int, targets: Iterable[int], threads: list[ThreadInfo],
                      as_of: int) -> None:  # fmt: skip
        """A page's counts, true as of event ``as_of``: a message it leaves out has none."""
        counts = {t.target: t.count for t in threads}
        for target in targets:
            self._thread_count(target, group, counts.get(target, 0), as_of)

    def _poll_results(
        self, target: int, group: int, counts: list[int], voters: int, version: int
    ) -> None:
        self.conn.execute(
            "INSERT INTO polls (target, grp, counts, voters, version) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET counts = excluded.counts, voters = excluded.voters,"
            " version = excluded.version WHERE excluded.version > polls.version",
            (target, group, json.dumps(counts), voters, version),
        )

    def _mine(self, target: int, *, acked: bool = False, voted: list[int] | None = None) -> None:
        self.conn.execute(
            "INSERT INTO mine (target, acked, voted) VALUES (?, ?, ?)"
            " ON CONFLICT DO UPDATE SET acked = max(mine.acked, excluded.acked),"
            " voted = coalesce(excluded.voted, mine.voted)",
            (target, int(acked), None if voted is None else json.dumps(sorted(voted))),
        )

    def _post_extras(self, event: PostEvent) -> None:
        if event.poll is not None:
            poll = event.poll
            counts = poll.counts or [0] * len(poll.options)
            self._poll_results(event.seq, event.group, counts, poll.voters, poll.version)

    # -- handlers ------------------------------------------------------------------------

    def _on_vote(self, event: VoteEvent, me: int | None) -> int:
        self._poll_results(event.target, event.group, event.counts, event.voters, event.seq)
        if event.user is not None and event.user == me and event.choices is not None:
            self._mine(event.target, voted=event.choices)
        return event.target

    def _on_my_vote(self, fact: MyVote) -> int | None:
        """My vote, acknowledged: what I chose (the results come as the vote's
        event, which the server sends the voter too)."""
        self._mine(fact.target, voted=fact.choices)
        row = self.conn.execute("SELECT grp FROM messages WHERE seq = ?", (fact.target,)).fetchone()
        return None if row is None else int(row[0])

    def _on_ack(self, event: AckEvent, me: int | None) -> None:
        if event.user == me:
            self._mine(event.target, acked=True)

    def _on_read(self, event: ReadEvent, me: int | None) -> None:
        if event.user != me:
            return
        self._shared(event.group, event.upto)
        if event.group:
            self.conn.execute(
                "UPDATE groups SET read_seq = max(read_seq, ?) WHERE id = ?",
                (event.upto, event.group),
            )
        else:
            self.set("inbox_read", max(int(self.get("inbox_read", "0") or 0), event.upto))

    def _shared(self, group: int, upto: int) -> int:
        """The server knows ``group`` is read up to ``upto``: returns how far it
        knew before."""
        key = f"shared_read.{group}"
        before = int(self.get(key, "0") or 0)
        self.set(key, max(before, upto))
        return before

    def read_to_share(self, group: int) -> int | None:
        """How far ``group`` (0: the inbox) is read here, if further than the
        server knows (which this then counts as told)."""
        with self._tx():
            if group:
                row = self.conn.execute(
                    "SELECT read_seq FROM groups WHERE id = ? AND known = 1", (group,)
                ).fetchone()
                here = int(row[0]) if row else 0
            else:
                here = int(self.get("inbox_read", "0") or 0)
            return here if here > self._shared(group, here) else None

    def unnamed(self, users: list[int]) -> list[int]:
        """Of ``users``, those the cache has no name for."""
        return [
            u
            for u in users
            if not self.conn.execute("SELECT 1 FROM users WHERE id = ?", (u,)).fetchone()
        ]

    def _on_feature(self, event: FeatureEvent) -> None:
        self._feature(event.target, event.group, event.on, event.seq)

    def _feature(self, target: int, group: int, on: bool, version: int) -> None:
        self.conn.execute(
            "INSERT INTO featured (target, grp, present, version) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET present = excluded.present, version = excluded.version"
            " WHERE excluded.version > featured.version",
            (target, group, int(on), version),
        )

    def put_featured(self, events: list[Event], featured: list[int], as_of: int) -> None:
        """The server's list of posts featured for everyone, true as of ``as_of``."""
        groups = {e.seq: getattr(e, "group", 0) for e in events}
        listed = set(featured)
        held = [r[0] for r in self.conn.execute("SELECT target FROM featured WHERE present = 1")]
        for target in held:
            if target not in listed:
                self._feature(target, 0, False, as_of)
        for target in listed:
            self._feature(target, groups.get(target, 0), True, as_of)
