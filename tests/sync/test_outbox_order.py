"""The engine stores a client's writes in the order they were made: live,
through link cuts under a tight rate limit, and replayed after a restart."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bench.linkproxy import LinkProxy
from rse_tui.protocol import CreateGroup
from rse_tui.sync.cache import Cache
from rse_tui.sync.client import Client
from rse_tui.sync.engine import Backoff, Engine
from rse_tui.sync.models import Link
from server.app import RseServer

from ..helpers import config, new_user


def _stored(db_path: Path) -> list[str]:
    db = sqlite3.connect(db_path)
    try:
        return [r[0] for r in db.execute("SELECT body FROM events WHERE kind = 'c' ORDER BY seq")]
    finally:
        db.close()


def _engine(path: Path, url: str, token: str) -> Engine:
    return Engine(Cache(path), url=url, token=token, backoff=Backoff(first=0.05, cap=0.3))


async def _stop(engine: Engine, runner: asyncio.Task[None]) -> None:
    await engine.stop()
    await runner
    engine.close()


async def test_submits_through_link_cuts_and_a_rate_limit_are_stored_in_order(tmp_path):
    cfg = config(tmp_path / "s.db", rate_burst=10, rate_per_second=200)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        g = (await ana.conn.call(CreateGroup, name="G", cid="g")).group
        link = await LinkProxy(srv.port, latency_ms=10).start()
        engine = _engine(tmp_path / "cache.db", link.url, ana.auth.token)
        runner = asyncio.create_task(engine.run())
        await engine.wait_online()
        texts = [f"m{n}" for n in range(300)]
        for n, text in enumerate(texts):
            await Client(engine).send_chat(g, text)
            if n % 60 == 59:
                await asyncio.sleep(0.05)
                link.cut()
        async with asyncio.timeout(30):
            while await engine.worker(engine.cache.outbox_count):
                await engine.wait_idle()
        assert link.cuts >= 5
        assert _stored(cfg.db_path) == texts
        assert [
            r.text for r in await engine.worker(engine.cache.messages, g, "c", limit=500)
        ] == texts
        await _stop(engine, runner)
        await link.stop()
        await ana.close()


async def test_the_outbox_is_replayed_in_order_after_a_restart(tmp_path):
    cfg = config(tmp_path / "s.db", rate_burst=5, rate_per_second=100)
    srv = RseServer(cfg)
    await srv.start()
    link = await LinkProxy(srv.port).start()
    ana = await new_user(srv, "ana")
    g = (await ana.conn.call(CreateGroup, name="G", cid="g")).group
    await ana.close()
    engine = _engine(tmp_path / "cache.db", link.url, ana.auth.token)
    runner = asyncio.create_task(engine.run())
    await engine.wait_online()
    await srv.stop()  # the server goes away...
    dropped = asyncio.Event()
    engine.listen(on_status=lambda st: st.link is Link.RECONNECTING and dropped.set())
    async with asyncio.timeout(10):
        await dropped.wait()
    texts = [f"offline {n}" for n in range(120)]
    for text in texts:
        await Client(engine).send_chat(g, text)
    await _stop(engine, runner)  # ...and the client exits with its outbox full
    srv = RseServer(cfg)
    await srv.start()
    link.target_port = srv.port
    again = _engine(tmp_path / "cache.db", link.url, ana.auth.token)
    assert await again.worker(again.cache.outbox_count) == 120
    runner = asyncio.create_task(again.run())
    try:
        async with asyncio.timeout(30):
            await again.wait_idle()
        assert _stored(cfg.db_path) == texts
    finally:
        await _stop(again, runner)
        await srv.stop()
        await link.stop()


async def test_a_refusal_from_before_the_charter_was_accepted_does_not_stick(server, tmp_path):
    """The write leaves, the charter is accepted, then the write's refusal (sent
    before the acceptance) is taken in: it is sent again, not held for ever.
    (The answer is held back until the acceptance, the order a busy link gave.)"""
    from rse_tui.protocol import History, SendChat
    from rse_tui.sync.connection import Connection
    from server import storage

    ana = await new_user(server, "ana")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    raw = sqlite3.connect(server.config.db_path, isolation_level=None)
    with storage.transaction(raw):
        storage.publish_charter(raw, "# Be kind", 1)
    raw.close()
    accepted = asyncio.Event()
    handing: set[asyncio.Future[None]] = set()

    async def connect(*args, **kwargs) -> Connection:
        conn = await Connection.open(*args, **kwargs)
        submit = conn.submit

        async def late_answer(request):
            future = await submit(request)
            if not isinstance(request, SendChat) or accepted.is_set():
                return future
            held = asyncio.get_running_loop().create_future()

            async def hand_over() -> None:
                await asyncio.wait([future])
                await accepted.wait()
                if future.exception() is not None:
                    held.set_exception(future.exception())
                else:
                    held.set_result(future.result())

            handing.add(asyncio.ensure_future(hand_over()))
            return held

        conn.submit = late_answer  # type: ignore[method-assign]
        return conn

    engine = Engine(
        Cache(tmp_path / "cache.db"),
        url=server.url,
        token=ana.auth.token,
        backoff=Backoff(first=0.05, cap=0.2),
        connect=connect,
        open_timeout=3,
    )
    runner = asyncio.create_task(engine.run())
    await engine.wait_online()
    await Client(engine).send_chat(g, "written before accepting")
    await asyncio.sleep(0.3)  # refused by now, the answer not yet taken in
    await engine.accept_charter(1)
    accepted.set()
    for _ in range(200):
        if not await engine.worker(engine.cache.outbox_count):
            break
        await asyncio.sleep(0.05)
    assert not engine.charter_required
    page = await ana.conn.call(History, group=g, kind="c")
    assert [e.text for e in page.events] == ["written before accepting"]
    await engine.stop()
    await runner
    engine.close()
    await ana.close()
