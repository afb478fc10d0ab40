"""Two processes on one profile share its cache file: each sees every message
once, and their views of the outbox converge."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from bench.linkproxy import LinkProxy
from rse_tui.protocol import CreateGroup, JoinGroup, SendChat
from rse_tui.sync.cache import Cache
from rse_tui.sync.client import Client
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


class View:
    """What an app would show of a group: it reads the cache whenever told to."""

    def __init__(self, engine: Engine, group: int) -> None:
        self.engine = engine
        self.group = group
        self.pending: list[str] | None = None
        self.refreshed = asyncio.Event()
        self._reads: set[asyncio.Task[None]] = set()
        engine.listen(on_change=self._changed)

    def _changed(self, _changes: Changes) -> None:
        read = asyncio.create_task(self.refresh())
        self._reads.add(read)
        read.add_done_callback(self._reads.discard)

    async def refresh(self) -> None:
        _, pending = await self.engine.worker(self.engine.cache.tail, self.group, "c", 0)
        self.pending = [r.text for r in pending]
        self.refreshed.set()

    async def until_settled(self, within: float = 3.0) -> list[str] | None:
        """The view once it has been quiet a while (or at the deadline)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while True:
                    self.refreshed.clear()
                    try:
                        async with asyncio.timeout(1.0):
                            await self.refreshed.wait()
                    except TimeoutError:
                        break
        return self.pending


async def _outbox_converges(server, tmp_path, app_url: str) -> None:
    ana = await new_user(server, "ana")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    path = tmp_path / "cache.db"
    app = Engine(Cache(path), url=app_url, token=ana.auth.token, backoff=Backoff(cap=0.3))
    view = View(app, g)
    app_runner = asyncio.create_task(app.run())
    # The other process answers slowly: the app is pushed its writes first.
    link = await LinkProxy(server.port, latency_ms=400).start()
    cli = Engine(Cache(path), url=link.url, token=ana.auth.token)
    cli_runner = asyncio.create_task(cli.run())
    await cli.wait_online()
    for n in range(5):
        await Client(cli).send_chat(g, f"from the command line {n}")
    await view.refresh()
    assert view.pending  # the app shows them waiting...
    async with asyncio.timeout(10):
        await cli.wait_idle()
    assert await cli.worker(cli.cache.outbox_count) == 0
    assert await view.until_settled() == []  # ...and no longer once they are sent
    assert app.status.outbox == 0
    for engine, runner in ((cli, cli_runner), (app, app_runner)):
        await engine.stop()
        await runner
        engine.close()
    await link.stop()
    await ana.close()


async def test_the_outbox_view_converges_across_processes(server, tmp_path):
    await _outbox_converges(server, tmp_path, server.url)


async def test_the_outbox_view_converges_in_a_process_that_is_offline(server, tmp_path):
    await _outbox_converges(server, tmp_path, "ws://127.0.0.1:9/")  # nothing listens there


def test_edits_deletions_and_pins_another_process_applied_are_reported(tmp_path):
    """Found by a new user: `rse sync` run beside the app applied an edit and a
    deletion (moving the shared cursor past them); the app, resuming from
    there, was never told, and showed the old text and the deleted message
    for as long as the group stayed open."""
    from rse_tui.protocol import ChatEvent, DeleteEvent, EditEvent, PinEvent

    path = tmp_path / "cache.db"
    app, cli = Cache(path), Cache(path)
    try:
        for c in (app, cli):
            c.set_identity(1, "ana")
        said = [ChatEvent(seq=s, group=7, user=2, ts=1, text=f"m{s}") for s in (10, 11, 12)]
        app.apply(said, cursor=12)
        mark = app.mark()
        cli.apply(
            [
                EditEvent(seq=13, group=7, user=2, target=10, text="m10 fixed", ts=2),
                DeleteEvent(seq=14, group=7, user=2, target=11),
                PinEvent(seq=15, group=7, user=3, target=12),
            ]
        )
        mark, changes = app.changed_elsewhere(mark)
        assert sorted(changes.edited) == [10, 12] and changes.deleted == [11]
        assert sorted(changes.messages[7]) == [10, 11, 12]
        # Told once: nothing new, nothing said again.
        assert not app.changed_elsewhere(mark)[1]
    finally:
        app.close()
        cli.close()
