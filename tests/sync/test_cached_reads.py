"""The feed's reads that a view shows at once (``cached=True``) never wait on
the server: they answer from the cache, online or not, and say so."""

from __future__ import annotations

import asyncio

from rse_tui.protocol import CreateGroup, JoinGroup, SendComment, SendPost
from rse_tui.sync.cache import Cache
from rse_tui.sync.client import Client
from rse_tui.sync.engine import Backoff, Engine

from ..helpers import new_user


async def test_home_and_thread_from_the_cache_alone(server, tmp_path):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="Ops", cid="g")).group
    await ana.conn.call(JoinGroup, group=g, cid="j")
    post = (await bob.conn.call(SendPost, group=g, text="runbook", title="VPN", cid="p")).seq
    cache = Cache(tmp_path / "ana.db")
    cache.set_identity(ana.user, "ana")
    engine = Engine(
        cache,
        url=f"ws://127.0.0.1:{server.port}/ws",
        token=ana.auth.token,
        backoff=Backoff(first=0.05, cap=0.3),
        open_timeout=3,
    )
    client = Client(engine)
    task = asyncio.create_task(engine.run())
    try:
        async with asyncio.timeout(30):
            await engine.wait_idle()
            # Nothing asked yet: the cache knows the group, not the post.
            assert (await client.thread(post, cached=True)) is None
            home = await client.home(cached=True)
            assert home.online is False and home.posts == []
            # Asked online, stored; then the cache alone has it too.
            asked = await client.home()
            assert asked.online and [r.title for r in asked.posts] == ["VPN"]
            await bob.conn.call(SendComment, post=post, text="done", cid="c")
            thread = await client.thread(post)
            assert thread is not None and thread.online
            assert [r.text for r in thread.replies] == ["done"]
            again = await client.thread(post, cached=True)
            assert again is not None and not again.online
            assert (again.root.title, [r.text for r in again.replies]) == ("VPN", ["done"])
            assert [r.seq for r in (await client.home(cached=True)).posts] == [post]
    finally:
        await engine.stop()
        await task
        engine.close()
        await ana.close()
        await bob.close()


async def test_mark_read_up_to_what_a_view_shows(server, tmp_path):
    """A message cached after a view read its rows stays unread (the rest of a
    catch-up, under the view's "new" line)."""
    from rse_tui.protocol import SendChat

    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="Ops", cid="g")).group
    await ana.conn.call(JoinGroup, group=g, cid="j")
    cache = Cache(tmp_path / "ana.db")
    cache.set_identity(ana.user, "ana")
    engine = Engine(
        cache,
        url=f"ws://127.0.0.1:{server.port}/ws",
        token=ana.auth.token,
        backoff=Backoff(first=0.05, cap=0.3),
        open_timeout=3,
    )
    client = Client(engine)
    task = asyncio.create_task(engine.run())
    try:
        async with asyncio.timeout(30):
            await engine.wait_idle()
            seqs = []
            for n in range(3):
                seqs.append((await bob.conn.call(SendChat, group=g, text=f"m{n}", cid=f"c{n}")).seq)
            for _ in range(500):  # pushed to ana's device
                if len(await client.messages(g, "c")) == 3:
                    break
                await asyncio.sleep(0.02)
            before = await client.mark_read(g, upto=seqs[0])
            assert before < seqs[0]
            [ops] = [r for r in await client.groups() if r.group == g]
            assert ops.unread == 2
            assert await client.mark_read(g, upto=seqs[0] - 1) == seqs[0]  # never back
            await client.mark_read(g)  # everything cached
            [ops] = [r for r in await client.groups() if r.group == g]
            assert ops.unread == 0
    finally:
        await engine.stop()
        await task
        engine.close()
        await ana.close()
        await bob.close()
