"""Figure 7: server memory per idle connection, with 2,000 clients connected.

    python -m bench.memory [--clients 2000]

The server runs in its own process; the clients (authenticated, synced, then
idle) run in another. The figure is the growth of the server's resident set
divided by the number of connections, once they have been quiet long enough
to give back their compressors (``--compressor-idle``, 5 s here so the run
stays short; 30 s by default, which only changes when the figure is reached).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from rse_tui.protocol import Sync

from .wire import RseServer

CLIENT = "bench.memory_clients"
IDLE = 5.0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def measure(clients: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        server = RseServer(Path(tmp))
        server.extra = [
            "--max-connections-per-user",
            str(clients + 10),
            "--compressor-idle",
            str(IDLE),
        ]
        async with server:
            assert server.proc is not None
            first, token = await server.user("crowd")
            await first.call(Sync, since=0)
            await asyncio.sleep(1)
            before = rss_kib(server.proc.pid)
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                CLIENT,
                server.url(),
                token,
                str(clients),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            assert proc.stdout is not None and proc.stdin is not None
            line = (await proc.stdout.readline()).decode()
            if not line.startswith("connected"):
                raise RuntimeError(f"clients failed: {line!r}")
            await asyncio.sleep(2 * IDLE + 1)  # quiet: compressors are given back
            after = rss_kib(server.proc.pid)
            proc.stdin.close()
            await proc.wait()
            await first.close()
    per = (after - before) / clients
    return {
        "clients": clients,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_connection": round(per, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=2000)
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.clients))
    print(
        f"memory per idle connection at {args.clients} connections:"
        f" {result['kib_per_connection']} KiB (target 20 KiB)"
    )
    return result


if __name__ == "__main__":
    main()
