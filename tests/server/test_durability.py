"""kill -9 right after an acknowledgement loses nothing."""

from __future__ import annotations

import asyncio
import sqlite3

from rse_tui.protocol import (
    CreateGroup,
    History,
    JoinGroup,
    Login,
    Redeem,
    SendChat,
    SendPost,
)
from rse_tui.sync.connection import Connection

from ..helpers import PASSWORD, ServerProcess, invite


async def test_kill_9_after_ack_loses_nothing(tmp_path):
    db = tmp_path / "rse.db"
    server = await ServerProcess(db).start()
    conn = await Connection.open(server.url)
    await conn.call(Redeem, code=invite(db), name="ana", password=PASSWORD)
    g = (await conn.call(CreateGroup, name="Durable", cid="g")).group
    others = [await Connection.open(server.url) for _ in range(3)]
    for n, other in enumerate(others):
        await other.call(Redeem, code=invite(db), name=f"w{n}", password=PASSWORD)
        await other.call(JoinGroup, group=g, cid="j")

    acked: list[tuple[int, str]] = []

    async def writer(c: Connection, tag: str) -> None:
        for n in range(40):
            text = f"{tag}-{n}"
            ack = await c.call(SendChat, group=g, text=text, cid=f"{tag}{n}")
            acked.append((ack.seq, text))

    # Concurrent writers share commits; the last ack is followed at once by kill -9.
    await asyncio.gather(*(writer(c, f"w{n}") for n, c in enumerate(others)))
    last = await conn.call(SendPost, group=g, text="final word", cid="last")
    acked.append((last.seq, "final word"))
    await server.kill()
    assert server.proc is not None and server.proc.returncode == -9

    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
    server = await ServerProcess(db).start()
    conn = await Connection.open(server.url)
    await conn.call(Login, name="ana", password=PASSWORD)
    chat = await conn.call(History, group=g, kind="c", limit=500)
    posts = await conn.call(History, group=g, kind="p", limit=10)
    stored = {(e.seq, e.text) for e in chat.events + posts.events}
    assert set(acked) <= stored
    assert len(stored) == len(acked) == 121
    await conn.close()
    server.proc.terminate()
    assert await server.wait() == 0
