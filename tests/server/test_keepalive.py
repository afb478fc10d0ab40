"""One task pings every session: silent clients are cut off, live ones stay."""

from __future__ import annotations

import asyncio
import dataclasses

from rse_tui.protocol import ListGroups, Sync
from server.app import RseServer

from ..helpers import config, new_user


async def test_a_client_that_stops_answering_pings_is_cut_off(tmp_path):
    cfg = dataclasses.replace(config(tmp_path / "rse.db"), ping_interval=0.2, ping_timeout=0.3)
    async with RseServer(cfg) as server:
        alive = await new_user(server, "alive")
        mute = await new_user(server, "mute")
        for c in (alive, mute):
            await c.conn.call(Sync, since=0)
        # The mute client's socket stops being read: pings go unanswered.
        mute.conn.ws.transport.pause_reading()
        for _ in range(100):  # up to 5 s; it takes about half a second
            if len(list(server.hub.peers())) == 1:
                break
            await asyncio.sleep(0.05)
        [left] = server.hub.peers()
        assert left.user == alive.user
        await asyncio.sleep(1.0)  # several more rounds: the live client stays
        assert (await alive.conn.call(ListGroups)).groups is not None
        assert [p.user for p in server.hub.peers()] == [alive.user]
        await alive.close()
