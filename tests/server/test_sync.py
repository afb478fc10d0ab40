"""Resume after a disconnect, the gap marker, and idempotent writes."""

from __future__ import annotations

import asyncio
import dataclasses
import json

from rse_tui.protocol import (
    Batch,
    ChatEvent,
    CreateGroup,
    Gap,
    History,
    JoinEvent,
    JoinGroup,
    SendChat,
    SendPost,
    Sync,
)
from rse_tui.sync.connection import Connection
from server.app import RseServer

from ..helpers import Pushes, config, new_user, reconnect


async def _resume(server: RseServer, token: str, since: int) -> tuple[Connection, Pushes, int]:
    """Reconnect, sync from ``since``; return the connection, its pushes, the new head."""
    pushes = Pushes()
    conn = await Connection.open(server.url, token=token, on_push=pushes)
    done = await conn.call(Sync, since=since)
    return conn, pushes, done.head


def _events(pushes: Pushes) -> list:
    return [e for f in pushes.frames if isinstance(f, Batch) for e in f.events]


def _all_seqs(pushes: Pushes) -> list[int]:
    """Sequence numbers in arrival order, replayed and live."""
    out: list[int] = []
    for f in pushes.frames:
        if isinstance(f, Batch):
            out.extend(e.seq for e in f.events)
        elif hasattr(f, "seq"):
            out.append(f.seq)
    return out


def _chat(seq: int):
    return lambda f: isinstance(f, ChatEvent) and f.seq == seq


async def test_reconnect_gets_exactly_the_missed_events(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    other = (await ana.conn.call(CreateGroup, name="Private-ish", cid="g2")).group
    await bob.conn.call(JoinGroup, group=g, cid="j")
    done = await bob.conn.call(Sync, since=0)
    cursor = done.head
    # Bob applied everything up to here, then his link drops.
    await bob.close()

    missed = []
    for n in range(30):
        missed.append(await ana.conn.call(SendChat, group=g, text=f"m{n}", cid=f"m{n}"))
    post = await ana.conn.call(SendPost, group=g, text="status page", cid="p")
    await ana.conn.call(SendChat, group=other, text="not for bob", cid="x")

    conn, frames, head = await _resume(server, bob.auth.token, cursor)
    events = _events(frames)
    assert [e.seq for e in events] == [a.seq for a in missed] + [post.seq]
    assert [e.text for e in events[:3]] == ["m0", "m1", "m2"]
    assert not any(isinstance(f, Gap) for f in frames.frames)
    assert head >= post.seq
    # Live events follow the catch-up, none repeated.
    live = await ana.conn.call(SendChat, group=g, text="live", cid="live")
    pushed = await frames.until(_chat(live.seq))
    assert pushed.text == "live"
    seqs = _all_seqs(frames)
    assert seqs == sorted(set(seqs)) and seqs[-1] == live.seq
    # Nothing missed: an immediate resume from the head brings nothing.
    conn2, frames2, _ = await _resume(server, bob.auth.token, live.seq)
    assert _events(frames2) == []
    for c in (conn, conn2):
        await c.close()
    await ana.close()


async def test_events_during_catch_up_are_neither_lost_nor_repeated(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await ana.conn.call(CreateGroup, name="Busy", cid="g")).group
    await bob.conn.call(JoinGroup, group=g, cid="j")
    cursor = (await bob.conn.call(Sync, since=0)).head
    await bob.close()
    for n in range(200):
        await ana.conn.call(SendChat, group=g, text=f"old {n}", cid=f"o{n}")
    frames = Pushes()
    conn = await Connection.open(server.url, token=bob.auth.token, on_push=frames)
    # Writes race the catch-up: they must arrive once, after it, in order.
    sync = asyncio.create_task(conn.call(Sync, since=cursor))
    acks = [await ana.conn.call(SendChat, group=g, text=f"new {n}", cid=f"n{n}") for n in range(50)]
    await sync
    await frames.until(_chat(acks[-1].seq))
    seqs = _all_seqs(frames)
    assert seqs == sorted(set(seqs))
    assert len(seqs) == 250
    await conn.close()
    await ana.close()


async def test_gap_marker_past_the_bound_then_history_on_demand(tmp_path):
    cfg = config(tmp_path / "rse.db", catch_up_bound=40, batch_size=16)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        bob = await new_user(srv, "bob")
        g = (await ana.conn.call(CreateGroup, name="Flood", cid="g")).group
        await bob.conn.call(JoinGroup, group=g, cid="j")
        cursor = (await bob.conn.call(Sync, since=0)).head
        await bob.close()
        acks = [
            await ana.conn.call(SendChat, group=g, text=f"m{n}", cid=f"m{n}") for n in range(100)
        ]
        conn, frames, _ = await _resume(srv, bob.auth.token, cursor)
        [gap] = [f for f in frames.frames if isinstance(f, Gap)]
        events = _events(frames)
        assert [e.seq for e in events] == [a.seq for a in acks[-40:]]
        assert (gap.since, gap.upto) == (cursor, events[0].seq - 1)
        assert max(len(f.events) for f in frames.frames if isinstance(f, Batch)) == 16
        # The skipped part comes back page by page with hist.
        page = await conn.call(History, group=g, kind="c", before=events[0].seq, limit=60)
        assert [e.seq for e in page.events] == [a.seq for a in acks[:60]]
        await conn.close()
        await ana.close()


async def test_resend_with_same_client_id_stores_nothing_new(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await ana.conn.call(CreateGroup, name="Once", cid="g")).group
    await bob.conn.call(JoinGroup, group=g, cid="j")
    await bob.conn.call(Sync, since=0)
    first = await ana.conn.call(SendChat, group=g, text="exactly once", cid="01HZX")
    await bob.pushes.next(ChatEvent)
    # The same write resent: same connection, then a new one.
    again = await ana.conn.call(SendChat, group=g, text="exactly once", cid="01HZX")
    conn, _ = await reconnect(server, ana.auth.token)
    third = await conn.call(SendChat, group=g, text="exactly once", cid="01HZX")
    assert first == dataclasses.replace(again, request_id=first.request_id)
    assert (third.seq, third.ts) == (first.seq, first.ts)
    # Group creation and joins are idempotent the same way.
    assert (await conn.call(CreateGroup, name="Once", cid="g")).group == g
    page = await conn.call(History, group=g, kind="c", limit=50)
    assert [e.text for e in page.events] == ["exactly once"]
    # Bob saw it once: the next thing he sees is the next message.
    nxt = await ana.conn.call(SendChat, group=g, text="next", cid="01HZY")
    assert (await bob.pushes.next(ChatEvent)).seq == nxt.seq
    await conn.close()
    await ana.close()
    await bob.close()


async def test_resend_after_server_restart(tmp_path):
    cfg = config(tmp_path / "rse.db")
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        g = (await ana.conn.call(CreateGroup, name="Durable", cid="g")).group
        first = await ana.conn.call(SendPost, group=g, text="announcement", cid="post-1")
        token = ana.auth.token
        await ana.close()
    async with RseServer(cfg) as srv:
        conn, _ = await reconnect(srv, token)
        again = await conn.call(SendPost, group=g, text="announcement", cid="post-1")
        assert (again.seq, again.ts) == (first.seq, first.ts)
        page = await conn.call(History, group=g, kind="p", limit=10)
        assert [e.text for e in page.events] == ["announcement"]
        await conn.close()


async def test_a_fresh_member_is_pushed_join_events(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await ana.conn.call(CreateGroup, name="J", cid="g")).group
    await ana.conn.call(Sync, since=0)
    await bob.conn.call(Sync, since=0)
    ana.pushes.drain()  # the catch-up; what follows is live
    ack = await bob.conn.call(JoinGroup, group=g, cid="j")
    ev = await ana.pushes.next(JoinEvent)
    assert (ev.seq, ev.user) == (ack.seq, bob.user)
    await ana.close()
    await bob.close()


async def test_hello_and_sync_in_the_handshake_answer_at_once(server):
    """A token in ``Authorization`` and ``?s=`` in the path are hello and sync, ids 1 and 2."""
    from websockets.asyncio.client import connect

    ana = await new_user(server, "ana")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    sent = await ana.conn.call(SendChat, group=g, text="while you were away", cid="m")
    async with connect(
        server.url + f"?s={sent.seq - 1}",
        additional_headers={"Authorization": f"Bearer {ana.auth.token}"},
    ) as ws:
        frames = [json.loads(await ws.recv()) for _ in range(3)]
    assert [f["t"] for f in frames] == ["r", "b", "r"]
    assert frames[0]["i"] == 1 and frames[0]["u"] == ana.user
    assert [e["x"] for e in frames[1]["e"]] == ["while you were away"]
    assert frames[2]["i"] == 2 and frames[2]["h"] == sent.seq
    # A malformed cursor is a typed error for request 2, and the session goes on.
    async with connect(
        server.url + "?s=yesterday",
        additional_headers={"Authorization": f"Bearer {ana.auth.token}"},
    ) as ws:
        welcome, refused = [json.loads(await ws.recv()) for _ in range(2)]
        assert welcome["i"] == 1 and refused["t"] == "err" and refused["i"] == 2
        await ws.send(json.dumps({"t": "groups", "i": 3}))
        assert json.loads(await ws.recv())["i"] == 3
    # A wrong token, a bare token without "Bearer", another scheme: each refused
    # like any wrong token.
    for header in ("Bearer 1.nope", ana.auth.token, f"Basic {ana.auth.token}"):
        async with connect(server.url, additional_headers={"Authorization": header}) as ws:
            refused = json.loads(await ws.recv())
            assert refused["t"] == "err" and refused["i"] == 1, header
            assert refused["e"] == "auth_failed", header
    # Tokens in Unicode digits (a header cannot carry them; a hello can).
    for token in ("¹." + "x" * 32, "٣." + "x" * 32):
        async with connect(server.url) as ws:
            await ws.send(json.dumps({"t": "hello", "i": 5, "v": 1, "tok": token}))
            refused = json.loads(await ws.recv())
            assert (refused["e"], refused["i"]) == ("auth_failed", 5), token
    await ana.close()


async def test_the_token_rides_in_a_header_never_in_the_url(server):
    ana = await new_user(server, "ana")
    conn = await Connection.open(server.url, token=ana.auth.token, since=0)
    assert conn.ws.request is not None
    assert conn.ws.request.path == "/?s=0"
    assert ana.auth.token not in conn.ws.request.path
    assert conn.ws.request.headers["Authorization"] == f"Bearer {ana.auth.token}"
    assert conn.welcome is not None and conn.welcome.user == ana.user
    assert conn.sync is not None and (await conn.sync).head >= 0
    await conn.close()
    await ana.close()


async def test_events_another_process_stores_are_pushed_in_their_place(tmp_path):
    """`rse-server charter set` while the server runs: the charter event is
    pushed, before the server's own next event, and even if none follows."""
    import dataclasses
    import sqlite3 as _sqlite3

    from rse_tui.protocol import AcceptCharter, CharterEvent
    from server import storage as _storage
    from server.app import RseServer

    from ..helpers import config

    cfg = dataclasses.replace(config(tmp_path / "rse.db"), look_every=0.2)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
        await ana.conn.call(Sync, since=0)
        raw = _sqlite3.connect(cfg.db_path, isolation_level=None)
        with _storage.transaction(raw):
            _storage.publish_charter(raw, "# Be kind", 1)
        charter = await ana.pushes.next(CharterEvent, within=5)  # nothing else happened
        with _storage.transaction(raw):
            _storage.publish_charter(raw, "# Be kinder", 2)
        raw.close()
        bob = await new_user(srv, "bob")
        await bob.conn.call(AcceptCharter, version=2)
        await bob.conn.call(JoinGroup, group=g, cid="j")  # the server's own write, right after
        second = await ana.pushes.next(CharterEvent, within=5)
        assert (charter.version, second.version) == (1, 2)
        joined = await ana.pushes.next(JoinEvent)
        assert second.seq < joined.seq  # in its place
        for c in (ana, bob):
            await c.close()
