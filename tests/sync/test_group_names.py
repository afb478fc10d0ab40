"""The cache shows a group only once it knows its name, and a direct chat only
once it knows the other person: it asks the server about groups events name
before it has met them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rse_tui.protocol import AddMember, ChatEvent, CreateGroup, SendDirect
from rse_tui.sync.cache import Cache
from rse_tui.sync.engine import Backoff, Engine
from rse_tui.sync.models import Changes, GroupRow

from ..helpers import new_user


class Shown:
    """Every group list a view would have drawn, one per change the engine reported."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.lists: list[list[GroupRow]] = []
        self.changed = asyncio.Event()
        self._reads: set[asyncio.Task[None]] = set()

    def __call__(self, _changes: Changes) -> None:
        assert self.engine is not None
        read = asyncio.create_task(self._read(self.engine))
        self._reads.add(read)
        read.add_done_callback(self._reads.discard)

    async def _read(self, engine: Engine) -> None:
        self.lists.append(await engine.worker(engine.cache.groups))
        self.changed.set()

    async def until(self, found) -> GroupRow:
        async with asyncio.timeout(10):
            while True:
                for rows in self.lists:
                    for row in rows:
                        if found(row):
                            return row
                self.changed.clear()
                await self.changed.wait()


def _engine(path: Path, url: str, token: str) -> tuple[Engine, Shown]:
    shown = Shown()
    engine = Engine(
        Cache(path), url=url, token=token, on_change=shown, backoff=Backoff(first=0.05, cap=0.3)
    )
    shown.engine = engine
    return engine, shown


def _never_a_placeholder(shown: Shown) -> None:
    for rows in shown.lists:
        for row in rows:
            assert row.name not in ("?", "", "direct") and not row.name.startswith("user"), row


async def test_a_direct_chat_opened_by_someone_else_is_named_after_them(server, tmp_path):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    engine, shown = _engine(tmp_path / "cache.db", server.url, ana.auth.token)
    runner = asyncio.create_task(engine.run())
    await engine.wait_online()
    ok = await bob.conn.call(SendDirect, user=ana.user, text="psst", cid="d")
    direct = await shown.until(lambda r: r.group == ok.group)
    assert (direct.dm, direct.name, direct.label) == (bob.user, "bob", "direct chat with bob")
    _never_a_placeholder(shown)
    [message] = await engine.worker(engine.cache.messages, ok.group, ChatEvent.TYPE)
    assert (message.author, message.text) == ("bob", "psst")
    await engine.stop()
    await runner
    engine.close()
    await ana.close()
    await bob.close()


async def test_groups_met_in_a_catch_up_are_named_before_they_are_shown(server, tmp_path):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    first, _ = _engine(tmp_path / "cache.db", server.url, ana.auth.token)
    runner = asyncio.create_task(first.run())
    await first.wait_online()
    await first.stop()
    await runner
    first.close()
    # While ana is away: a direct chat, and a secret group she is added to.
    ok = await bob.conn.call(SendDirect, user=ana.user, text="psst", cid="d")
    war = (await bob.conn.call(CreateGroup, name="War room", visibility="secret", cid="g")).group
    await bob.conn.call(AddMember, group=war, user=ana.user, cid="a")
    engine, shown = _engine(tmp_path / "cache.db", server.url, ana.auth.token)
    runner = asyncio.create_task(engine.run())
    room = await shown.until(lambda r: r.group == war)
    direct = await shown.until(lambda r: r.group == ok.group)
    assert (room.name, room.label, room.member, room.visibility) == (
        "War room",
        "War room",
        True,
        "secret",
    )
    assert (direct.name, direct.label) == ("bob", "direct chat with bob")
    _never_a_placeholder(shown)
    assert await engine.worker(engine.cache.unknown_groups) == []
    await engine.stop()
    await runner
    engine.close()
    await ana.close()
    await bob.close()
