"""A message that waited in its client's outbox is shown with the time it was
written, as its client says, within bounds the server sets."""

from __future__ import annotations

import dataclasses
import time

from rse_tui.protocol import (
    CreateGroup,
    History,
    SendChat,
    SendDirect,
    SendPost,
)
from server.app import RseServer

from ..helpers import config, new_user, reconnect

DAY = 86400


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


async def test_the_written_time_is_kept_within_what_is_plausible(tmp_path):
    clock = Clock()
    cfg = dataclasses.replace(config(tmp_path / "s.db"), clock=clock)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")  # this device signs in at t0
        bob = await new_user(srv, "bob")
        t0 = int(clock.now)
        g = (await ana.conn.call(CreateGroup, name="G", cid="g")).group
        clock.now += 3 * 3600
        now = int(clock.now)
        cases = [
            (t0 + 600, t0 + 600),  # written offline, sent hours later
            (None, now),  # sent at once: the server's time
            (t0 - 3600, t0),  # before this device signed in: not plausible
            (now + 500, now),  # a client clock ahead: not in the future
        ]
        acks = []
        for n, (written, shown) in enumerate(cases):
            ack = await ana.conn.call(SendChat, group=g, text=f"c{n}", cid=f"c{n}", written=written)
            assert ack.ts == shown, (written, shown)
            acks.append(ack)
        post = await ana.conn.call(SendPost, group=g, text="p", cid="p", written=t0 + 60)
        direct = await ana.conn.call(SendDirect, user=bob.user, text="d", cid="d", written=t0 + 60)
        assert post.ts == direct.ts == t0 + 60
        # What others read says the same; the order is the server's.
        page = await ana.conn.call(History, group=g, kind="c")
        assert [(e.seq, e.ts) for e in page.events] == [(a.seq, a.ts) for a in acks]
        # Never more than a week back, however long it waited.
        clock.now = t0 + 30 * DAY
        old = await ana.conn.call(SendChat, group=g, text="late", cid="late", written=t0 + 600)
        assert old.ts == int(clock.now) - 7 * DAY
        # A device that resumes with its token signed in when the token was made.
        conn, _ = await reconnect(srv, ana.auth.token)
        clock.now = t0 + 3600
        early = await conn.call(SendChat, group=g, text="early", cid="early", written=t0 - 60)
        assert early.ts == t0
        await conn.close()
        await ana.close()
        await bob.close()
