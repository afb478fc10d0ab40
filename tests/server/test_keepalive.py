"""One task pings every session: silent clients are cut off, live ones stay."""

from __future__ import annotations

import asyncio
import dataclasses

from rse_tui.protocol import ListGroups
from rse_tui.sync.connection import Connection, Traffic
from server.app import RseServer

from ..helpers import config, new_user


async def test_a_client_that_stops_answering_pings_is_cut_off(tmp_path):
    # A pong may take longer than the interval: pings keep their own pace.
    cfg = dataclasses.replace(config(tmp_path / "rse.db"), ping_interval=0.2, ping_timeout=0.5)
    async with RseServer(cfg) as server:
        alive_user = await new_user(server, "alive")
        mute_user = await new_user(server, "mute")
        traffic = Traffic()
        alive = await Connection.open(
            server.url, token=alive_user.auth.token, since=0, traffic=traffic
        )
        mute = await Connection.open(server.url, token=mute_user.auth.token, since=0)
        await alive_user.close()
        await mute_user.close()
        # The mute client's socket stops being read: pings go unanswered.
        mute.ws.transport.pause_reading()
        for _ in range(100):  # up to 5 s; it takes under a second
            if len(list(server.hub.peers())) == 1:
                break
            await asyncio.sleep(0.05)
        [left] = server.hub.peers()
        assert left.user == alive_user.user
        before = traffic.received
        await asyncio.sleep(1.0)  # five rounds: the live client stays, pinged each time
        assert traffic.received - before >= 4 * 6  # a ping frame is 6 bytes
        assert (await alive.call(ListGroups)).groups is not None
        assert [p.user for p in server.hub.peers()] == [alive_user.user]
        await alive.close()
        mute.ws.transport.abort()
