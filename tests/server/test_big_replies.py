"""Big replies: bounded in size, charged by size, and not piled up for a client
that does not read them."""

from __future__ import annotations

import sqlite3

from rse_tui.protocol import (
    CreateGroup,
    ErrorCode,
    History,
    ProtocolError,
    Revoke,
    SendChat,
    Sync,
    Tokens,
)
from rse_tui.sync.connection import Connection
from server.app import RseServer

from ..helpers import config, new_user, reconnect

POST = "x" * 20_000


def _fill(db_path, group: int, user: int, n: int) -> None:
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO events (kind, grp, user, ts, body) VALUES ('p', ?, ?, 1, ?)",
            [(group, user, POST) for _ in range(n)],
        )
        db.execute("COMMIT")
    finally:
        db.close()


async def test_pages_and_catch_ups_stop_at_a_text_budget(tmp_path):
    cfg = config(tmp_path / "rse.db", max_reply_text=100_000)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
        _fill(cfg.db_path, g, ana.user, 50)  # 1,000,000 characters
        page = await ana.conn.call(History, group=g, kind="p", limit=500)
        assert len(page.events) == 5 and page.more  # 5 x 20,000 fit in 100,000
        older = await ana.conn.call(History, group=g, kind="p", before=page.events[0].seq)
        assert len(older.events) == 5 and older.events[-1].seq < page.events[0].seq
        conn, pushes = await reconnect(srv, ana.auth.token)
        done = await conn.call(Sync, since=0)
        gap = next(f for f in pushes.frames if type(f).__name__ == "Gap")
        events = [e for f in pushes.frames for e in getattr(f, "events", [])]
        assert sum(len(getattr(e, "text", "")) for e in events) <= 100_000
        assert events[-1].seq == done.head and gap.upto == events[0].seq - 1
        await conn.close()
        await ana.close()


async def test_a_big_reply_costs_its_size(tmp_path):
    cfg = config(
        tmp_path / "rse.db",
        rate_burst=20,
        rate_per_second=0.1,
        rate_max_delay=0.2,
        bytes_per_token=32 * 1024,
    )
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
        _fill(cfg.db_path, g, ana.user, 50)
        # 20 tokens: gcreate 1, then a 1 MB page costs 1 + 30 (one per 32 KiB).
        await ana.conn.call(History, group=g, kind="p", limit=50)
        try:
            await ana.conn.call(History, group=g, kind="p", limit=1)
        except ProtocolError as exc:
            assert exc.code is ErrorCode.RATE_LIMITED
        else:
            raise AssertionError("a request right after a 1 MB page went through")
        await ana.close()


async def test_a_revoked_session_is_refused_whatever_it_still_sends(server):
    """A session whose token is revoked is refused from that moment, even for
    requests it sent before its replies were read (it used to go on writing
    while its close waited behind its queue)."""
    from rse_tui.protocol import Login

    from ..helpers import PASSWORD, Pushes

    ana = await new_user(server, "ana")
    other = await Connection.open(server.url, on_push=Pushes())
    await other.call(Login, name="ana", password=PASSWORD)
    [current] = [t.token_id for t in (await ana.conn.call(Tokens)).tokens if t.current]
    [peer] = [p for p in server.hub.peers(ana.user) if p.token_id == current]
    await other.call(Revoke, token_id=current)
    assert peer.revoked
    try:
        await ana.conn.call(SendChat, group=1, text="after the revoke", cid="late")
    except Exception as exc:  # refused, or the link is closed: never stored
        assert not isinstance(exc, AssertionError)
    db = sqlite3.connect(server.config.db_path)
    assert db.execute("SELECT count(*) FROM events WHERE kind = 'c'").fetchone()[0] == 0
    db.close()
    await other.close()
