"""The feed's writes through the engine: written offline, delivered once and
in the order made after the server comes back; what a writing device makes
of its own acknowledged writes is what its user's other device makes of the
events, live, after a catch-up, and after a gap."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from bench.linkproxy import LinkProxy
from rse_tui.protocol import CreateGroup, JoinGroup, Poll, SendPost, Sync
from rse_tui.sync.cache import Cache
from rse_tui.sync.client import Client
from rse_tui.sync.engine import Backoff, Engine
from rse_tui.sync.models import Link
from server.app import RseServer

from ..helpers import config, new_user

MESSAGES = (
    "SELECT seq, grp, kind, user, text, edited, reply, title, ack, poll FROM messages ORDER BY seq"
)
POLLS = "SELECT target, counts, voters FROM polls ORDER BY target"
THREADS = "SELECT target, count FROM threads WHERE count > 0 ORDER BY target"
ACKED = "SELECT target FROM mine WHERE acked = 1 ORDER BY target"


def _state(path: Path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(path)
    try:
        return {q: db.execute(q).fetchall() for q in (MESSAGES, POLLS, THREADS, ACKED)}
    finally:
        db.close()


def _engine(path: Path, url: str, token: str, user: int, name: str) -> Engine:
    cache = Cache(path)
    cache.set_identity(user, name)
    return Engine(cache, url=url, token=token, backoff=Backoff(first=0.05, cap=0.3))


async def _stop(engine: Engine, runner: asyncio.Task[None]) -> None:
    await engine.stop()
    await runner
    engine.close()


async def test_feed_writes_made_offline_are_delivered_once_in_order(tmp_path):
    cfg = config(tmp_path / "s.db")
    srv = RseServer(cfg)
    await srv.start()
    link = await LinkProxy(srv.port).start()
    ana = await new_user(srv, "ana")
    bob = await new_user(srv, "bob")
    g = (await bob.conn.call(CreateGroup, name="Ops", cid="g")).group
    await ana.conn.call(JoinGroup, group=g, cid="j")
    post = (
        await bob.conn.call(
            SendPost, group=g, text="q", poll=Poll(options=["a", "b"]), ack=True, cid="p"
        )
    ).seq
    anon = (
        await bob.conn.call(
            SendPost, group=g, text="r", poll=Poll(options=["x", "y"], anonymous=True), cid="q"
        )
    ).seq
    await ana.close()
    await bob.close()
    engine = _engine(tmp_path / "c.db", link.url, ana.auth.token, ana.user, "ana")
    runner = asyncio.create_task(engine.run())
    await engine.wait_online()
    await engine.wait_idle()
    await srv.stop()
    dropped = asyncio.Event()
    engine.listen(on_status=lambda st: st.link is Link.RECONNECTING and dropped.set())
    async with asyncio.timeout(10):
        await dropped.wait()
    client = Client(engine)
    cids = [
        await client.comment(post, "offline comment"),
        await client.vote(post, [1]),
        await client.vote(anon, [0]),
        await client.acknowledge(post),
        await client.send_post(g, "offline post", title="Offline"),
        await client.edit(post, "not mine"),  # refused: shown to its author
        await client.comment(post, "second comment"),
    ]
    await client.mark_read(g)
    shared = await client.share_read(g)
    assert shared is not None
    cids.append(shared)
    # Sent again after a restart of the client too: nothing twice.
    await _stop(engine, runner)
    srv = RseServer(cfg)
    await srv.start()
    link.target_port = srv.port
    engine = _engine(tmp_path / "c.db", link.url, ana.auth.token, ana.user, "ana")
    runner = asyncio.create_task(engine.run())
    try:
        async with asyncio.timeout(30):
            while await engine.worker(engine.cache.outbox_count):
                await engine.wait_idle()
        db = sqlite3.connect(cfg.db_path)
        rows = [
            db.execute(
                "SELECT result FROM receipts WHERE user = ? AND cid = ?", (ana.user, cid)
            ).fetchone()
            for cid in cids
        ]
        results = [json.loads(r[0]) if r else {} for r in rows]
        # The refusal kept as its answer; the others stored in the order made
        # (an anonymous vote keeps no receipt: nothing says where it went).
        assert rows[2] is None
        assert "e" in results[5] and "only its author" in results[5]["m"]
        stored = [r["s"] for n, r in enumerate(results) if n not in (2, 5)]
        assert stored == sorted(stored) and 0 not in stored
        counts = dict(
            db.execute(
                "SELECT kind, count(*) FROM events WHERE user = ? GROUP BY kind", (ana.user,)
            ).fetchall()
        )
        assert (counts["m"], counts["p"], counts["a"], counts["rd"]) == (2, 1, 1, 1)
        (listed,) = db.execute("SELECT voters FROM anon_voters WHERE poll = ?", (anon,)).fetchone()
        assert [v[0] for v in json.loads(listed)] == [ana.user]
        db.close()
        refused = [i for i in await Client(engine).outbox(include_failed=True) if i.error]
        assert [i.cid for i in refused] == [cids[5]]
        thread = await Client(engine).thread(post)
        assert thread is not None
        assert [r.text for r in thread.replies] == ["offline comment", "second comment"]
        assert thread.root.acked and thread.root.poll is not None
        assert thread.root.poll.mine == (1,) and thread.root.poll.counts == (0, 1)
    finally:
        await _stop(engine, runner)
        await srv.stop()
        await link.stop()


@pytest.mark.parametrize("gap", [False, True], ids=["catch-up", "gap"])
async def test_a_writer_and_its_other_device_end_with_the_same_feed(tmp_path, gap):
    cfg = config(tmp_path / "s.db", catch_up_bound=3 if gap else 2_000)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        bob = await new_user(srv, "bob")
        await bob.conn.call(Sync, since=0)
        url = srv.url
        writer = _engine(tmp_path / "w.db", url, ana.auth.token, ana.user, "ana")
        reader = _engine(tmp_path / "r.db", url, ana.auth.token, ana.user, "ana")
        w_task = asyncio.create_task(writer.run())
        r_task = asyncio.create_task(reader.run())
        try:
            async with asyncio.timeout(40):
                await writer.wait_online()
                await reader.wait_online()
                write = Client(writer)
                await write.create_group("Ops")
                await writer.wait_idle()
                [ops] = [g.group for g in await write.groups() if g.name == "Ops"]
                await reader.wait_idle()
                await _stop(reader, r_task)  # the other device goes away
                await write.send_post(ops, "# Plan", title="Plan", ack=True)
                await write.send_post(ops, "when?", poll=Poll(options=["a", "b"], multiple=True))
                await writer.wait_idle()
                plan, when = [r.seq for r in await write.messages(ops, "p")]
                await write.comment(plan, "first")
                await write.comment(plan, "second")
                await write.vote(when, [0, 1])
                await write.vote(when, [1])
                await write.acknowledge(plan)
                await write.edit(plan, "# Plan v2", title="Plan B")
                await write.send_chat(ops, "hi")
                await writer.wait_idle()
                [hi] = [r.seq for r in await write.messages(ops, "c")]
                await write.send_chat(ops, "answer", reply=hi)
                await writer.wait_idle()
                reader = _engine(tmp_path / "r.db", url, ana.auth.token, ana.user, "ana")
                r_task = asyncio.create_task(reader.run())
                await reader.wait_online()
                read = Client(reader)
                while True:
                    await reader.wait_idle()
                    for target in (plan, when, hi):  # a thread opened: its replies and state
                        await read.thread(target)
                    await write.thread(plan)
                    w, r = _state(writer.cache.path), _state(reader.cache.path)
                    if w == r:
                        break
                    await asyncio.sleep(0.05)
            db = sqlite3.connect(reader.cache.path)
            top = db.execute("SELECT max(hi) FROM holes WHERE grp = ?", (ops,)).fetchone()[0]
            db.close()
            assert (top >= plan) is gap  # the gap variant did skip the feed's events
            assert [m[7] for m in w[MESSAGES] if m[2] == "p"] == ["Plan B", None]
            assert w[POLLS] == [(when, "[0, 1]", 1)]
            assert w[THREADS] == [(plan, 2), (hi, 1)]
            assert w[ACKED] == [(plan,)]
            poll = next(r for r in await read.messages(ops, "p") if r.poll is not None).poll
            assert poll is not None and poll.mine == (1,)
        finally:
            await _stop(writer, w_task)
            if not r_task.done():
                await _stop(reader, r_task)
            await ana.close()
            await bob.close()
