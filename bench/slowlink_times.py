"""Figure 9: how long things take over a 9.6 kbit/s link with 1 s round trips.

    python -m bench.slowlink_times [--runs 3]

- join: from nothing to a first usable screen: connect, redeem an invitation,
  first sync (group list, catch-up), and the newest page of the first group;
- reconnect: after 100 missed messages, from a new connection to caught up.

The link is the team's slowlink proxy (rate 9.6 kbit/s each way, 1,000 ms RTT).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from rse_tui.protocol import CreateGroup, JoinGroup, Redeem, SendPost, Sync
from rse_tui.sync.cache import Cache, new_cid
from rse_tui.sync.connection import Connection
from rse_tui.sync.engine import Backoff, Engine
from server.cli import mint_invite, open_db

from .corpus import lines
from .wire import PASSWORD, Link, RseServer, chat

RATE_KBIT, RTT_MS = 9.6, 1000


async def one_run(tmp: Path) -> dict[str, float]:
    async with RseServer(tmp) as server:
        host, _ = await server.user("host")
        g = (await host.call(CreateGroup, name="Incidents", cid=new_cid())).group
        await host.call(
            SendPost, group=g, text="## Runbook\n1. Check the VPN status page", cid=new_cid()
        )
        for text in lines(30, seed=3):
            await chat(host, g, text)
        conn = open_db(server.db)
        try:
            code = mint_invite(conn, admin=False, hours=1, groups=[g])
        finally:
            conn.close()
        async with Link(server.port, tmp, rate_kbit=RATE_KBIT, latency_ms=RTT_MS) as link:
            url = server.url(link.port)
            started = time.perf_counter()
            client = await Connection.open(url)
            auth = await client.call(Redeem, code=code, name="newcomer", password=PASSWORD)
            await client.close()
            cache = Cache(tmp / "cache.db")
            cache.set_identity(auth.user, auth.name)
            engine = Engine(cache, url=url, token=auth.token, backoff=Backoff(first=0.1, cap=1))
            runner = asyncio.create_task(engine.run())
            await engine.wait_online()
            await engine.load_older(g, "c", None)  # the newest page of the open group
            joined = time.perf_counter() - started
            await engine.stop()
            await runner
            engine.close()
        # Reconnect after 100 missed messages.
        reader, token = await server.user("reader")
        await reader.call(JoinGroup, group=g, cid=new_cid())
        cursor = (await reader.call(Sync, since=0)).head
        await reader.close()
        for text in lines(100, seed=4):
            await chat(host, g, text)
        async with Link(server.port, tmp, rate_kbit=RATE_KBIT, latency_ms=RTT_MS) as link:
            started = time.perf_counter()
            conn2 = await Connection.open(server.url(link.port), token=token, since=cursor)
            assert conn2.sync is not None
            await conn2.sync
            reconnected = time.perf_counter() - started
            await conn2.close()
        await host.close()
    return {"join_s": joined, "reconnect_100_s": reconnected}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(asyncio.run(one_run(Path(tmp))))
    result = {
        "join_s": round(statistics.median(r["join_s"] for r in runs), 2),
        "reconnect_100_s": round(statistics.median(r["reconnect_100_s"] for r in runs), 2),
        "runs": args.runs,
    }
    print(
        f"9.6 kbit/s, 1 s RTT: join to first usable screen {result['join_s']} s (target 5 s);"
        f" reconnect after 100 missed {result['reconnect_100_s']} s (target 3 s)"
    )
    return result


if __name__ == "__main__":
    main()
