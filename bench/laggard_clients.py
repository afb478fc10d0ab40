"""Members that stop reading, for ``bench.laggards`` (run in their own process).

    python -m bench.laggard_clients laggards URL   # tokens on stdin, then an empty line

Opens one real client connection per token (from many loopback addresses,
as ``bench.load_clients`` does), catches up, then stops reading the socket
for good (no keepalive of its own either): the kernel's receive buffer
fills and the server's side backs up. Prints ``ready N`` and holds the
sockets until stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

from rse_tui.sync.connection import Connection

from .load_clients import loopback_sources


async def main(url: str) -> None:
    loop = asyncio.get_running_loop()
    tokens = []
    while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
        tokens.append(line)
    sources = loopback_sources()
    conns: list[Connection] = []
    for start in range(0, len(tokens), 50):
        batch = await asyncio.gather(
            *(
                Connection.open(
                    url, token=token, since=0, local_addr=next(sources), ping_interval=None
                )
                for token in tokens[start : start + 50]
            )
        )
        for conn in batch:
            assert conn.sync is not None
            await conn.sync
        conns.extend(batch)
    for conn in conns:
        conn.ws.transport.pause_reading()
    print("ready", len(conns), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    for conn in conns:
        conn.ws.transport.abort()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[2]))
