"""A client's own writes are stored in the order it made them, on every path:
piped lines under a tight rate limit, through link cuts, across a server
restart, around a refused line and a charter to accept."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bench.linkproxy import LinkProxy
from rse_tui.protocol import Batch, JoinGroup, Sync
from server import storage
from server.app import RseServer
from server.config import ServerConfig

from ..helpers import Client, config, group_named, new_user

LINES = [str(n) for n in range(1, 201)]
STDIN = "".join(f"{line}\n" for line in LINES)


def _tight(db_path: Path) -> ServerConfig:
    """Ten requests at once, then a hundred a second."""
    return config(db_path, rate_burst=10, rate_per_second=100)


def _stored(db_path: Path, kind: str = "c") -> list[str]:
    db = sqlite3.connect(db_path)
    try:
        rows = db.execute("SELECT body FROM events WHERE kind = ? ORDER BY seq", (kind,))
        return [r[0] for r in rows]
    finally:
        db.close()


async def _watcher(srv: RseServer) -> Client:
    """Someone in group G (the first group), to tell how far the stream got."""
    bob = await new_user(srv, "bob")
    ops = await group_named(bob.conn, "G")
    await bob.conn.call(JoinGroup, group=ops, cid="j")
    await bob.conn.call(Sync)
    return bob


async def _until_seen(bob: Client, count: int) -> None:
    def far_enough(_frame: object) -> bool:
        frames = bob.pushes.frames
        seen = sum(len(f.events) if isinstance(f, Batch) else 1 for f in frames)
        return seen >= count

    await bob.pushes.until(far_enough, within=30)


async def test_piped_lines_under_a_tight_rate_limit_are_stored_in_order_once(rse, tmp_path):
    async with RseServer(_tight(tmp_path / "s.db")) as srv:
        await rse.join(srv, "ana")
        assert (await rse("group", "create", "G")).code == 0
        sent = await rse("chat", "G", stdin=STDIN)
        assert (sent.code, sent.err) == (0, "")
        assert _stored(srv.config.db_path) == LINES


async def test_piped_lines_through_link_cuts_are_stored_in_order_once(rse, tmp_path):
    async with RseServer(_tight(tmp_path / "s.db")) as srv:
        link = await LinkProxy(srv.port, latency_ms=20).start()
        await rse.join(srv, "ana", url=link.url)
        assert (await rse("group", "create", "G")).code == 0
        bob = await _watcher(srv)
        proc = await rse.start("chat", "G", "--timeout", "30")
        talking = asyncio.create_task(proc.communicate(STDIN.encode()))
        for stored in (30, 80, 140):
            await _until_seen(bob, stored)
            link.cut()  # replies and requests in flight are lost with it
        _, err = await asyncio.wait_for(talking, 60)
        assert (proc.returncode, err) == (0, b""), err.decode()
        assert link.cuts >= 3
        assert _stored(srv.config.db_path) == LINES
        await bob.close()
        await link.stop()


async def test_piped_lines_across_a_server_restart_are_stored_in_order_once(rse, tmp_path):
    cfg = _tight(tmp_path / "s.db")
    srv = RseServer(cfg)
    await srv.start()
    link = await LinkProxy(srv.port).start()  # outlives the server's restart
    try:
        await rse.join(srv, "ana", url=link.url)
        assert (await rse("group", "create", "G")).code == 0
        bob = await _watcher(srv)
        proc = await rse.start("chat", "G", "--timeout", "30")
        talking = asyncio.create_task(proc.communicate(STDIN.encode()))
        await _until_seen(bob, 60)
        await bob.close()
        await srv.stop()
        await asyncio.sleep(0.5)
        srv = RseServer(cfg)
        await srv.start()
        link.target_port = srv.port
        _, err = await asyncio.wait_for(talking, 60)
        assert (proc.returncode, err) == (0, b""), err.decode()
        assert _stored(cfg.db_path) == LINES
    finally:
        await srv.stop()
        await link.stop()


async def test_a_refused_line_is_reported_and_the_next_ones_still_go_in_order(rse, tmp_path):
    async with RseServer(_tight(tmp_path / "s.db")) as srv:
        await rse.join(srv, "ana")
        assert (await rse("group", "create", "G")).code == 0
        lines = [*LINES[:50], "x" * 4001, *LINES[50:100]]  # one line over the chat limit
        sent = await rse("chat", "G", stdin="".join(f"{x}\n" for x in lines))
        assert sent.code == 1
        assert sent.err.count("\n") == 1 and "refused" in sent.err and "4000" in sent.err
        assert _stored(srv.config.db_path) == LINES[:100]
        assert (await rse("sync")).code == 0  # the refused line is not sent again


async def test_direct_messages_from_stdin_keep_their_order(rse, tmp_path):
    async with RseServer(_tight(tmp_path / "s.db")) as srv:
        await rse.join(srv, "ana")
        await rse.join(srv, "bob")  # the current profile is bob's now
        sent = await rse("dm", "ana", stdin=STDIN)
        assert (sent.code, sent.err) == (0, "")
        assert _stored(srv.config.db_path) == LINES


async def test_lines_waiting_for_the_charter_go_in_order_once_it_is_accepted(rse, tmp_path):
    async with RseServer(_tight(tmp_path / "s.db")) as srv:
        await rse.join(srv, "ana")
        assert (await rse("group", "create", "G")).code == 0
        db = sqlite3.connect(srv.config.db_path, isolation_level=None)
        with storage.transaction(db):
            storage.publish_charter(db, "# Charter\nBe kind.", 1)
        db.close()
        waiting = await rse("chat", "G", stdin=STDIN)
        assert waiting.code == 1 and "charter" in waiting.err
        assert _stored(srv.config.db_path) == []
        accepted = await rse("charter", "--accept")
        assert accepted.code == 0, accepted.err
        assert _stored(srv.config.db_path) == LINES


async def test_a_stream_slowed_by_the_rate_limit_outlasts_the_timeout(rse, tmp_path):
    # 120 lines at 40 a second take about 3 s; --timeout counts from the last progress.
    async with RseServer(config(tmp_path / "s.db", rate_burst=5, rate_per_second=40)) as srv:
        await rse.join(srv, "ana")
        assert (await rse("group", "create", "G")).code == 0
        sent = await rse("chat", "G", "--timeout", "1", stdin=STDIN[: STDIN.index("121\n")])
        assert (sent.code, sent.err) == (0, "")
        assert _stored(srv.config.db_path) == LINES[:120]
