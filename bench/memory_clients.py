"""Open N authenticated, synced, idle connections; hold them until stdin closes."""

from __future__ import annotations

import asyncio
import sys

from rse_tui.sync.connection import Connection

from .load_clients import loopback_sources


async def main(url: str, token: str, count: int) -> None:
    conns = []
    sources = loopback_sources()  # the server holds at most 256 connections an address
    for start in range(0, count, 100):
        batch = await asyncio.gather(
            *(
                Connection.open(url, token=token, since=0, local_addr=next(sources))
                for _ in range(start, min(count, start + 100))
            )
        )
        for conn in batch:
            assert conn.sync is not None
            await conn.sync
        conns.extend(batch)
    print("connected", len(conns), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await asyncio.gather(*(c.close() for c in conns))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
