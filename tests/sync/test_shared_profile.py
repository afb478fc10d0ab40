"""Two processes on one profile share its cache file: each sees every message
once, and their views of the outbox converge."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rse_tui.protocol import CreateGroup, JoinGroup, SendChat
from rse_tui.sync.cache import Cache
from rse_tui.sync.engine import Backoff, Engine
from rse_tui.sync.models import Changes

from ..helpers import new_user


class Seen:
    """What one engine told its views."""

    def __init__(self, group: int) -> None:
        self.group = group
        self.seqs: list[int] = []
        self.arrived = asyncio.Event()

    def __call__(self, changes: Changes) -> None:
        self.seqs.extend(changes.messages.get(self.group, []))
        self.arrived.set()

    async def until(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(set(self.seqs)) < count:
                self.arrived.clear()
                await self.arrived.wait()


def _engine(path: Path, url: str, token: str, seen: Seen) -> Engine:
    return Engine(
        Cache(path), url=url, token=token, on_change=seen, backoff=Backoff(first=0.05, cap=0.3)
    )


async def test_two_engines_on_one_cache_each_report_every_message(server, tmp_path):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="Ops", cid="g")).group
    await ana.conn.call(JoinGroup, group=g, cid="j")
    path = tmp_path / "cache.db"  # one profile, two processes: two connections to one file
    seen = [Seen(g), Seen(g)]
    engines = [_engine(path, server.url, ana.auth.token, s) for s in seen]
    runners = [asyncio.create_task(e.run()) for e in engines]
    for engine in engines:
        await engine.wait_online()
    sent = [
        (await bob.conn.call(SendChat, group=g, text=f"m{n}", cid=f"m{n}")).seq for n in range(40)
    ]
    for s in seen:
        await s.until(len(sent))
        assert sorted(set(s.seqs)) == sent
    for engine, runner in zip(engines, runners, strict=True):
        await engine.stop()
        await runner
        engine.close()
    await ana.close()
    await bob.close()
