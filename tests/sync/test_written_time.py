"""Messages written offline show when they were written, not when they were delivered."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from rse_tui.protocol import CreateGroup, History, JoinGroup
from rse_tui.sync.cache import Cache
from rse_tui.sync.client import Client
from rse_tui.sync.engine import Backoff, Engine
from server.app import RseServer

from ..helpers import config, new_user


class Clock:
    """One clock for the server and the client (they agree, as NTP makes them)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


async def test_an_offline_message_keeps_its_writing_time(tmp_path):
    clock = Clock()
    cfg = dataclasses.replace(config(tmp_path / "s.db"), clock=clock)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        bob = await new_user(srv, "bob")
        g = (await bob.conn.call(CreateGroup, name="Ops", cid="g")).group
        await ana.conn.call(JoinGroup, group=g, cid="j")
        engine = Engine(
            Cache(tmp_path / "cache.db"),
            url=srv.url,
            token=ana.auth.token,
            backoff=Backoff(first=0.05, cap=0.3),
            clock=clock,
        )
        written = int(clock.now)
        await Client(engine).send_chat(g, "written on the train")  # no engine running: offline
        [pending] = await engine.worker(engine.cache.pending_rows, g, "c")
        assert pending.ts == written
        clock.now += 2 * 3600  # delivered two hours later
        runner = asyncio.create_task(engine.run())
        async with asyncio.timeout(10):
            await engine.wait_idle()
        await Client(engine).send_chat(g, "written on arrival")  # sent at once: server time
        async with asyncio.timeout(10):
            while await engine.worker(engine.cache.outbox_count):
                await engine.wait_idle()
        rows = await engine.worker(engine.cache.messages, g, "c")
        assert [(r.text, r.ts) for r in rows] == [
            ("written on the train", written),
            ("written on arrival", written + 2 * 3600),
        ]
        page = await bob.conn.call(History, group=g, kind="c")
        assert [(e.text, e.ts) for e in page.events] == [(r.text, r.ts) for r in rows]
        await engine.stop()
        await runner
        engine.close()
        await ana.close()
        await bob.close()
