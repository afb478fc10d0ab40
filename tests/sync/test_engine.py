"""The sync engine against a real server, through a bad link (bench/linkproxy.py)."""

from __future__ import annotations

import asyncio
import random
import sqlite3

from bench.linkproxy import LinkProxy
from rse_tui.protocol import (
    AddMember,
    ChatEvent,
    CreateGroup,
    EditMessage,
    JoinGroup,
    LeaveGroup,
    ListGroups,
    RequestJoin,
    Revoke,
    SendChat,
    Sync,
)
from rse_tui.sync.cache import Cache
from rse_tui.sync.client import Client
from rse_tui.sync.engine import Backoff, Engine
from rse_tui.sync.models import Changes, Link
from server.app import RseServer

from ..helpers import config, new_user


async def _engine(tmp_path, url: str, token: str, name: str = "cache") -> tuple[Engine, list]:
    changes: list[Changes] = []
    engine = Engine(
        Cache(tmp_path / f"{name}.db"),
        url=url,
        token=token,
        on_change=changes.append,
        backoff=Backoff(first=0.05, cap=0.3),
        open_timeout=3,
    )
    return engine, changes


def _stored(db_path, text: str) -> int:
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT count(*) FROM events WHERE body = ?", (text,)).fetchone()[0]
    finally:
        db.close()


async def test_lost_acknowledgement_is_resent_and_stored_once(server, tmp_path):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    await bob.conn.call(JoinGroup, group=g, cid="j")
    await bob.conn.call(Sync, since=0)
    link = await LinkProxy(server.port, latency_ms=600).start()
    engine, _ = await _engine(tmp_path, link.url, ana.auth.token)
    runner = asyncio.create_task(engine.run())
    await engine.wait_online()
    await Client(engine).send_chat(g, "acked into the void")
    # The server has it (bob sees it) while the ack is still crossing the link.
    seen = await bob.pushes.next(ChatEvent)
    link.cut()
    assert seen.text == "acked into the void"
    assert await engine.worker(engine.cache.outbox_count) == 1  # no ack reached the client
    # The engine reconnects, resends with the same id, gets the original ack.
    async with asyncio.timeout(20):
        while await engine.worker(engine.cache.outbox_count):
            await engine.wait_idle()
    rows = await engine.worker(engine.cache.messages, g, "c")
    assert [(r.seq, r.text) for r in rows] == [(seen.seq, "acked into the void")]
    assert _stored(server.config.db_path, "acked into the void") == 1
    assert link.cuts >= 1 and link.connections >= 2
    await engine.stop()
    await runner
    engine.close()
    await link.stop()
    await ana.close()
    await bob.close()


async def test_link_down_queues_then_delivers_in_order_once(server, tmp_path):
    ana = await new_user(server, "ana")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    link = await LinkProxy(server.port, latency_ms=50).start()
    engine, _ = await _engine(tmp_path, link.url, ana.auth.token)
    runner = asyncio.create_task(engine.run())
    await engine.wait_online()
    dropped = asyncio.Event()
    engine.listen(on_status=lambda st: st.link is Link.RECONNECTING and dropped.set())
    link.set_down(True)
    async with asyncio.timeout(10):
        await dropped.wait()
    texts = [f"outage note {n}" for n in range(20)]
    for text in texts:
        await Client(engine).send_chat(g, text)
    assert await engine.worker(engine.cache.outbox_count) == 20
    assert engine.status.link in (Link.RECONNECTING, Link.CONNECTING)
    link.set_down(False)
    async with asyncio.timeout(20):
        await engine.wait_idle()
    assert [r.text for r in await engine.worker(engine.cache.messages, g, "c")] == texts
    for text in texts:
        assert _stored(server.config.db_path, text) == 1
    await engine.stop()
    await runner
    engine.close()
    await link.stop()
    await ana.close()


async def test_gap_leaves_holes_that_fill_on_demand(tmp_path):
    cfg = config(tmp_path / "s.db", catch_up_bound=30, batch_size=10)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        bob = await new_user(srv, "bob")
        g = (await bob.conn.call(CreateGroup, name="Flood", cid="g")).group
        await ana.conn.call(JoinGroup, group=g, cid="j")
        engine, _ = await _engine(tmp_path, srv.url, ana.auth.token)
        runner = asyncio.create_task(engine.run())
        await engine.wait_online()
        await engine.stop()
        await runner
        acks = [
            await bob.conn.call(SendChat, group=g, text=f"m{n}", cid=f"m{n}") for n in range(100)
        ]
        engine2 = Engine(
            engine.cache, url=srv.url, token=ana.auth.token, backoff=Backoff(first=0.05, cap=0.2)
        )
        runner = asyncio.create_task(engine2.run())
        await engine2.wait_online()
        cached = [r.seq for r in engine2.cache.messages(g, "c", limit=1000)]
        assert cached == [a.seq for a in acks[-30:]]
        assert engine2.cache.hole_below(g, "c", cached[0]) is not None
        while await engine2.load_older(g, "c", engine2.cache.messages(g, "c", limit=1)[0].seq):
            pass
        everything = [r.seq for r in engine2.cache.messages(g, "c", limit=1000)]
        assert everything == [a.seq for a in acks]
        assert engine2.cache.hole_below(g, "c", everything[0]) is None
        await engine2.stop()
        await runner
        engine2.close()
        await ana.close()
        await bob.close()


async def test_revoked_token_ends_in_logged_out(server, tmp_path):
    ana = await new_user(server, "ana")
    engine, _ = await _engine(tmp_path, server.url, ana.auth.token)
    runner = asyncio.create_task(engine.run())
    await engine.wait_online()
    token_id = int(ana.auth.token.split(".")[0])
    await ana.conn.call(Revoke, token_id=token_id)
    async with asyncio.timeout(10):
        await runner  # run() returns: there is nothing to retry with
    assert engine.status.link is Link.LOGGED_OUT
    engine.close()


def test_backoff_grows_with_jitter_up_to_the_cap():
    backoff = Backoff(first=0.5, factor=2, cap=30, rng=random.Random(4))
    delays = [backoff.next() for _ in range(12)]
    tops = [min(30, 0.5 * 2**n) for n in range(12)]
    assert all(0.5 <= d <= t for d, t in zip(delays, tops, strict=True))
    assert max(delays) <= 30 and len(set(delays)) == len(delays)  # jittered
    backoff.reset()
    assert backoff.next() <= 0.5


async def test_member_counts_follow_the_server_whatever_the_cache_knew(server, tmp_path):
    """A role change is not a new member, even for a client that never saw the
    member join; every event that changes membership carries the count."""
    carol = await new_user(server, "carol")
    bob = await new_user(server, "bob")
    ana = await new_user(server, "ana")
    g = (await carol.conn.call(CreateGroup, name="Ops", cid="g")).group
    await bob.conn.call(JoinGroup, group=g, cid="j")
    engine, _ = await _engine(tmp_path, server.url, ana.auth.token)
    runner = asyncio.create_task(engine.run())
    await engine.wait_online()
    await Client(engine).join(g)
    await engine.wait_idle()

    async def counts() -> tuple[int, int]:
        mine = next(r for r in await engine.worker(engine.cache.groups) if r.group == g)
        theirs = next(x for x in (await carol.conn.call(ListGroups)).groups if x.group == g)
        return mine.members, theirs.members

    await carol.conn.call(AddMember, group=g, user=bob.user, moderator=True, cid="promote")
    await carol.conn.call(AddMember, group=g, user=bob.user, moderator=False, cid="demote")
    await carol.conn.call(LeaveGroup, group=g, cid="bye")
    await bob.conn.call(SendChat, group=g, text="last one", cid="m")
    for _ in range(500):  # up to 10 s for bob's message, the last event, to arrive
        if await engine.worker(engine.cache.messages, g, "c"):
            break
        await asyncio.sleep(0.02)
    assert await counts() == (2, 2)
    await engine.stop()
    await runner
    engine.close()


async def test_edits_and_replies_reach_the_cache_live_and_on_catch_up(server, tmp_path):
    bob = await new_user(server, "bob")
    ana = await new_user(server, "ana")
    g = (await bob.conn.call(CreateGroup, name="Ops", cid="g")).group
    await ana.conn.call(JoinGroup, group=g, cid="j")
    asked = (await bob.conn.call(SendChat, group=g, text="who is on call?", cid="q")).seq
    engine, _ = await _engine(tmp_path, server.url, ana.auth.token)
    runner = asyncio.create_task(engine.run())
    await engine.wait_online()
    await engine.load_older(g, "c", None)
    await Client(engine).send_chat(g, "me", reply=asked)
    await engine.wait_idle()
    await bob.conn.call(EditMessage, target=asked, text="who is on call tonight?", cid="e1")

    async def texts() -> list[tuple[str, str | None, bool]]:
        rows = await engine.worker(engine.cache.messages, g, "c")
        return [(r.text, r.quote, r.edited is not None) for r in rows]

    want = [
        ("who is on call tonight?", None, True),
        ("me", "bob: who is on call tonight?", False),
    ]
    for _ in range(500):
        if await texts() == want:
            break
        await asyncio.sleep(0.02)
    assert await texts() == want
    await engine.stop()
    await runner
    engine.close()
    # Offline meanwhile: the next edit arrives with the catch-up.
    await bob.conn.call(EditMessage, target=asked, text="on call: ana", cid="e2")
    engine, _ = await _engine(tmp_path, server.url, ana.auth.token)
    runner = asyncio.create_task(engine.run())
    await engine.wait_online()
    await engine.wait_idle()
    assert (await texts())[0] == ("on call: ana", None, True)
    await engine.stop()
    await runner
    engine.close()


async def test_the_writer_of_a_membership_change_shows_the_servers_count(server, tmp_path):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    carol = await new_user(server, "carol")
    g = (await ana.conn.call(CreateGroup, name="PrivX", visibility="private", cid="p")).group
    for who in (bob, carol):
        await who.conn.call(RequestJoin, group=g, cid="r")
    engine, _ = await _engine(tmp_path, server.url, ana.auth.token)
    runner = asyncio.create_task(engine.run())
    await engine.wait_online()
    await Client(engine).approve(g, bob.user)
    await Client(engine).approve(g, carol.user)
    await Client(engine).remove_member(g, bob.user)
    await engine.wait_idle()
    mine = next(r for r in await engine.worker(engine.cache.groups) if r.group == g)
    theirs = next(x for x in (await ana.conn.call(ListGroups)).groups if x.group == g)
    assert (mine.members, mine.pending) == (theirs.members, 0) == (2, 0)
    await engine.stop()
    await runner
    engine.close()


async def test_leaving_a_secret_group_oneself_forgets_it_as_removal_does(server, tmp_path):
    """Found by the soak: the server's leave event made the cache forget a
    private or secret group's messages, but one's own acknowledged leave (no
    event comes back for it) did not."""
    boss = await new_user(server, "boss")
    ana = await new_user(server, "ana")
    g = (await boss.conn.call(CreateGroup, name="Board", visibility="secret", cid="g")).group
    await boss.conn.call(AddMember, group=g, user=ana.user, cid="a")
    await boss.conn.call(SendChat, group=g, text="board only", cid="m")
    engine, _ = await _engine(tmp_path, server.url, ana.auth.token)
    runner = asyncio.create_task(engine.run())
    try:
        await engine.wait_online()
        await engine.load_older(g, "c", None)
        assert [r.text for r in await engine.worker(engine.cache.messages, g, "c")] == [
            "board only"
        ]
        await Client(engine).leave(g)
        await asyncio.wait_for(engine.wait_idle(), 10)
        assert await engine.worker(engine.cache.messages, g, "c") == []
        assert g not in [r.group for r in await engine.worker(engine.cache.groups)]
    finally:
        await engine.stop()
        runner.cancel()
        await ana.close()
        await boss.close()


async def test_added_back_to_a_group_its_old_pins_show_on_the_history_fetched(server, tmp_path):
    """Found by the soak: re-added by a moderator (a pushed join), a user's
    cache fetched the group's history again but never its pins (a page does
    not carry them): the group is now asked about again on such a join."""
    from rse_tui.protocol import PinMessage, RemoveMember

    boss = await new_user(server, "boss")
    ana = await new_user(server, "ana")
    g = (await boss.conn.call(CreateGroup, name="Ops", cid="g")).group
    await boss.conn.call(AddMember, group=g, user=ana.user, cid="a")
    engine, _ = await _engine(tmp_path, server.url, ana.auth.token)
    runner = asyncio.create_task(engine.run())
    try:
        await engine.wait_online()
        await boss.conn.call(RemoveMember, group=g, user=ana.user, cid="r")
        runbook = await boss.conn.call(SendChat, group=g, text="runbook", cid="m")
        await boss.conn.call(PinMessage, target=runbook.seq, cid="p")
        await boss.conn.call(AddMember, group=g, user=ana.user, cid="b")
        for _ in range(100):
            groups = await engine.worker(engine.cache.groups)
            if any(r.group == g and r.member for r in groups):
                break
            await asyncio.sleep(0.05)
        await asyncio.wait_for(engine.wait_idle(), 10)
        await engine.load_older(g, "c", None)
        for _ in range(100):  # the group's listing and its history, in either order
            rows = await engine.worker(engine.cache.messages, g, "c")
            if [(r.text, r.pinned) for r in rows] == [("runbook", True)]:
                break
            await asyncio.sleep(0.05)
        assert [(r.text, r.pinned) for r in rows] == [("runbook", True)]
    finally:
        await engine.stop()
        runner.cancel()
        await ana.close()
        await boss.close()


async def test_a_gap_hides_nothing_of_groups_joined_or_changed_within_it(tmp_path):
    """Found by the soak: after a catch-up too long to replay (a gap), a group
    one was added to within the gap had no hole for what was said there (lost
    without a trace), and a message deleted within it stayed in the cache."""
    from rse_tui.protocol import DeleteMessage

    cfg = config(tmp_path / "s.db", catch_up_bound=30, batch_size=10)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        bob = await new_user(srv, "bob")
        old = (await bob.conn.call(CreateGroup, name="Old", cid="o")).group
        await ana.conn.call(JoinGroup, group=old, cid="j")
        doomed = await bob.conn.call(SendChat, group=old, text="doomed", cid="d")
        engine, _ = await _engine(tmp_path, srv.url, ana.auth.token)
        runner = asyncio.create_task(engine.run())
        await engine.wait_online()
        await engine.load_older(old, "c", None)
        assert [r.text for r in engine.cache.messages(old, "c")] == ["doomed"]
        await engine.stop()
        await runner
        # Offline: a new group ana is added to, said things in; a deletion; a flood.
        new = (await bob.conn.call(CreateGroup, name="New", cid="n")).group
        await bob.conn.call(AddMember, group=new, user=ana.user, cid="a")
        said = await bob.conn.call(SendChat, group=new, text="welcome ana", cid="w")
        await bob.conn.call(DeleteMessage, target=doomed.seq, cid="x")
        for n in range(60):
            await bob.conn.call(SendChat, group=old, text=f"m{n}", cid=f"m{n}")
        engine2 = Engine(
            engine.cache, url=srv.url, token=ana.auth.token, backoff=Backoff(first=0.05, cap=0.2)
        )
        runner = asyncio.create_task(engine2.run())
        await asyncio.wait_for(engine2.wait_idle(), 10)
        assert any(r.group == new and r.member for r in engine2.cache.groups())
        while await engine2.load_older(new, "c", None):
            pass
        assert [r.seq for r in engine2.cache.messages(new, "c")] == [said.seq]
        while await engine2.load_older(old, "c", None):
            pass
        texts = [r.text for r in engine2.cache.messages(old, "c", limit=1000)]
        assert "doomed" not in texts and texts == [f"m{n}" for n in range(60)]
        await engine2.stop()
        await runner
        engine2.close()
        await ana.close()
        await bob.close()
