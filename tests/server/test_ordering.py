"""One connection's writes are stored in the order they were sent, whatever is refused."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from rse_tui.protocol import (
    AcceptCharter,
    CreateGroup,
    ErrorCode,
    ProtocolError,
    SendChat,
    WriteOk,
)
from rse_tui.sync.connection import Connection, await_reply
from server import storage
from server.app import RseServer

from ..helpers import config, new_user


def _stored(db_path) -> list[str]:
    db = sqlite3.connect(db_path)
    try:
        return [r[0] for r in db.execute("SELECT body FROM events WHERE kind = 'c' ORDER BY seq")]
    finally:
        db.close()


async def _pipelined(
    conn: Connection, group: int, texts: list[str]
) -> list[WriteOk | BaseException]:
    """Send every write at once, then collect the answers."""
    futures = [
        await conn.submit(SendChat(request_id=conn.next_id(), group=group, text=t, cid=f"w-{t}"))
        for t in texts
    ]
    return await asyncio.gather(*(await_reply(f) for f in futures), return_exceptions=True)


async def test_a_flood_over_the_rate_is_slowed_down_not_refused(tmp_path):
    async with RseServer(config(tmp_path / "s.db", rate_burst=5, rate_per_second=50)) as srv:
        ana = await new_user(srv, "ana")
        g = (await ana.conn.call(CreateGroup, name="G", cid="g")).group
        texts = [str(n) for n in range(60)]
        started = time.monotonic()
        answers = await _pipelined(ana.conn, g, texts)
        took = time.monotonic() - started
        assert all(isinstance(a, WriteOk) for a in answers), answers
        assert took >= (60 - 5) / 50 * 0.9  # the rate holds: the writer waited its turn
        assert _stored(srv.config.db_path) == texts
        await ana.close()


async def test_a_write_refused_for_now_is_not_overtaken(tmp_path):
    # Three requests at once, then one every 50 ms; a longer wait is refused.
    cfg = config(tmp_path / "s.db", rate_burst=3, rate_per_second=20, rate_max_delay=0.01)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        g = (await ana.conn.call(CreateGroup, name="G", cid="g")).group
        answers = await _pipelined(ana.conn, g, ["a", "b", "c", "d"])
        first = answers[0]
        assert isinstance(first, WriteOk) and isinstance(answers[1], WriteOk)
        refused = answers[2]
        assert isinstance(refused, ProtocolError) and refused.code is ErrorCode.RATE_LIMITED
        await asyncio.sleep(0.3)  # the bucket is full again, but "c" is still owed
        with pytest.raises(ProtocolError) as held:
            await ana.conn.call(SendChat, group=g, text="d", cid="w-d")
        assert held.value.code is ErrorCode.RATE_LIMITED and held.value.retry_after
        assert "w-c" in held.value.message
        # A resend of a stored write is answered as ever: it stores nothing.
        again = await ana.conn.call(SendChat, group=g, text="a", cid="w-a")
        assert (again.seq, again.ts) == (first.seq, first.ts)
        await asyncio.sleep(0.3)
        for text in ("c", "d"):  # the client resends the tail, in order
            await ana.conn.call(SendChat, group=g, text=text, cid=f"w-{text}")
        assert _stored(srv.config.db_path) == ["a", "b", "c", "d"]
        await ana.close()


async def test_a_charter_accepted_elsewhere_mid_stream_keeps_the_order(server):
    ana = await new_user(server, "ana")
    g = (await ana.conn.call(CreateGroup, name="G", cid="g")).group
    db = sqlite3.connect(server.config.db_path, isolation_level=None)
    with storage.transaction(db):
        storage.publish_charter(db, "# Charter\nBe kind.", 1)
    db.close()
    with pytest.raises(ProtocolError) as first:
        await ana.conn.call(SendChat, group=g, text="one", cid="w-one")
    assert first.value.code is ErrorCode.CHARTER
    other = await Connection.open(server.url, token=ana.auth.token)
    await other.call(AcceptCharter, version=1)  # another device of ana's
    with pytest.raises(ProtocolError) as held:
        await ana.conn.call(SendChat, group=g, text="two", cid="w-two")
    assert held.value.code is ErrorCode.CHARTER
    for text in ("one", "two"):
        await ana.conn.call(SendChat, group=g, text=text, cid=f"w-{text}")
    assert _stored(server.config.db_path) == ["one", "two"]
    await other.close()
    await ana.close()


async def test_a_held_write_stored_by_another_connection_frees_the_next(tmp_path):
    cfg = config(tmp_path / "s.db", rate_burst=2, rate_per_second=20, rate_max_delay=0.01)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        g = (await ana.conn.call(CreateGroup, name="G", cid="g")).group
        answers = await _pipelined(ana.conn, g, ["a", "b"])
        assert isinstance(answers[0], WriteOk) and isinstance(answers[1], ProtocolError)
        await asyncio.sleep(0.3)
        other = await Connection.open(srv.url, token=ana.auth.token)
        await other.call(SendChat, group=g, text="b", cid="w-b")  # another process sent it
        await ana.conn.call(SendChat, group=g, text="c", cid="w-c")
        assert _stored(srv.config.db_path) == ["a", "b", "c"]
        await other.close()
        await ana.close()


async def test_a_write_refused_for_good_stays_refused_when_sent_again(server):
    """Found by the soak: a removal refused (the person was not in the group),
    its answer lost with the link, was sent again after a later write of the
    same client had added that person, and was stored then: after writes made
    after it. A write refused for good keeps its refusal as its answer."""
    from rse_tui.protocol import AddMember, RemoveMember

    boss = await new_user(server, "boss")
    ana = await new_user(server, "ana")
    g = (await boss.conn.call(CreateGroup, name="Ops", cid="g")).group
    with pytest.raises(ProtocolError) as first:
        await boss.conn.call(RemoveMember, group=g, user=ana.user, cid="rm")
    assert first.value.code is ErrorCode.NOT_FOUND
    await boss.conn.call(AddMember, group=g, user=ana.user, cid="add")  # made after it
    with pytest.raises(ProtocolError) as again:  # the removal again, as after a lost answer
        await boss.conn.call(RemoveMember, group=g, user=ana.user, cid="rm")
    assert (again.value.code, again.value.message) == (first.value.code, first.value.message)
    db = sqlite3.connect(server.config.db_path)
    left = db.execute("SELECT count(*) FROM events WHERE kind = 'l'").fetchone()[0]
    db.close()
    assert left == 0  # ana is still in: the removal was never stored
    for c in (boss, ana):
        await c.close()
