"""The sync cursor moves only with what was applied from the pushed stream.

An acknowledgement carries its write's sequence number, which may be above
pushed events still waiting to be applied (the applier may be waiting on a
round trip, for an unknown author's name). If the cursor followed the
acknowledgement and the link dropped then, the waiting events would be
dropped with the link and never asked for again.
"""

from __future__ import annotations

import asyncio

from bench.linkproxy import LinkProxy
from rse_tui.protocol import CreateGroup, GetUsers, JoinGroup, SendChat
from rse_tui.sync.cache import Cache
from rse_tui.sync.client import Client
from rse_tui.sync.connection import Connection
from rse_tui.sync.engine import Backoff, Engine

from ..helpers import new_user


async def test_events_waiting_behind_an_acknowledgement_survive_a_cut(server, tmp_path):
    ana = await new_user(server, "ana")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    link = await LinkProxy(server.port).start()
    armed = asyncio.Event()  # from then on, the first name lookup is held back
    gate = asyncio.Event()
    held = asyncio.Event()
    connections: list[Connection] = []

    async def connect(*args, **kwargs) -> Connection:
        conn = await Connection.open(*args, **kwargs)
        connections.append(conn)
        if len(connections) == 1:
            call = conn.call

            async def gated(request_type, /, **fields):
                if request_type is GetUsers and armed.is_set() and not held.is_set():
                    held.set()
                    await gate.wait()
                return await call(request_type, **fields)

            conn.call = gated  # type: ignore[method-assign]
        return conn

    engine = Engine(
        Cache(tmp_path / "cache.db"),
        url=link.url,
        token=ana.auth.token,
        backoff=Backoff(first=0.05, cap=0.2),
        connect=connect,
        open_timeout=3,
    )
    runner = asyncio.create_task(engine.run())
    await engine.wait_online()
    await engine.wait_idle()
    armed.set()
    # A newcomer the cache has never heard of writes twice: the applier stops
    # at the first line to ask for the name; the second waits in the inbox.
    bob = await new_user(server, "bob")
    await bob.conn.call(JoinGroup, group=g, cid="j")
    await bob.conn.call(SendChat, group=g, text="one", cid="b1")
    await asyncio.wait_for(held.wait(), 10)
    waiting = await bob.conn.call(SendChat, group=g, text="two", cid="b2")
    # Meanwhile our own write is acknowledged, numbered above "two".
    await Client(engine).send_chat(g, "mine")
    for _ in range(500):
        if not await engine.worker(engine.cache.outbox_count):
            break
        await asyncio.sleep(0.01)
    assert await engine.worker(engine.cache.cursor) < waiting.seq  # not moved past "two"
    link.cut()  # the inbox goes with the link
    gate.set()
    for _ in range(1000):
        texts = [r.text for r in await engine.worker(engine.cache.messages, g, "c")]
        if "two" in texts and len(connections) > 1:
            break
        await asyncio.sleep(0.01)
    assert "two" in texts and "one" in texts and "mine" in texts
    await engine.stop()
    await runner
    engine.close()
    await link.stop()
    for c in (ana, bob):
        await c.close()
