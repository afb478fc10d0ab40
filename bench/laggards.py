"""Figure 14 (availability): members that stop reading while their group is flooded.

    python -m bench.laggards [--laggards 500] [--size 4000] [--runs 3]

The server runs in its own process with its default settings. N members of
one group connect from another process (``bench.laggard_clients``), catch
up, and stop reading their sockets. A further member then sends chat lines
of SIZE random letters and digits (they compress to about three quarters)
into the group, one after another, until the server has cut off every one
of the N, or until ``--deadline``.

Sampled every 0.1 s from ``/proc/net/tcp`` and ``tcp6`` (the ``tx_queue``
of every server-side socket whose peer is one of the N, orphaned sockets
still sending after a close included) and ``/proc/<pid>/status``:

- the peak of the bytes queued in the server's kernel for the N sockets;
- the peak growth of the server's resident set over the flood;
- the time from the first message until none of the N is connected any
  more (cut off), and until the kernel holds nothing more for them (freed).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import string
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rse_tui.sync.connection import Connection

from .load import Clients, cpu_seconds
from .memory import rss_kib
from .population import populate
from .wire import RseServer, chat

CLIENTS = "bench.laggard_clients"
#: /proc/net/tcp states: a connection still open on the server's side.
OPEN_STATES = {"01", "08"}  # ESTABLISHED, CLOSE_WAIT
LISTEN = "0A"
LOOPBACK_HEX = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}
SAMPLE_EVERY = 0.1


@dataclass
class Sample:
    at: float
    open: int
    kernel_bytes: int
    rss_kib: int


def server_side(port: int) -> tuple[int, int]:
    """Laggard sockets still open on the server's side, and the bytes its kernel
    holds for every laggard socket (orphans included).

    Laggards come from addresses on 127/8 other than 127.0.0.1 (the flooder's)."""
    opened = queued = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if state == LISTEN or int(local.rsplit(":", 1)[1], 16) != port:
                continue
            if remote.rsplit(":", 1)[0] in LOOPBACK_HEX:
                continue
            opened += state in OPEN_STATES
            queued += int(fields[4].split(":")[0], 16)
    return opened, queued


def noise(rng: random.Random, size: int) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=size))


async def run(laggards: int, size: int, window: int, deadline: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = RseServer(Path(tmp))
        (group,), tokens = populate(Path(tmp) / "rse.db", [laggards + 1])
        async with server:
            assert server.proc is not None
            pid = server.proc.pid
            crowd = Clients("laggards", server.url(), tokens[1:], module=CLIENTS)
            await crowd.start()
            ready = (await crowd.line(within=300)).split()
            if ready[:1] != ["ready"] or int(ready[1]) != laggards:
                raise RuntimeError(f"laggards failed to connect: {ready}")
            flooder = await Connection.open(server.url(), token=tokens[0], since=0)
            assert flooder.sync is not None
            await flooder.sync
            await asyncio.sleep(0.5)
            rss_before = rss_kib(pid)
            cpu_before = cpu_seconds(pid)
            samples: list[Sample] = []
            start = time.monotonic()

            def sample() -> Sample:
                opened, queued = server_side(server.port)
                item = Sample(time.monotonic() - start, opened, queued, rss_kib(pid))
                samples.append(item)
                return item

            async def watch() -> None:
                while sample().open or samples[-1].kernel_bytes:
                    if samples[-1].at > deadline:
                        return
                    await asyncio.sleep(SAMPLE_EVERY)

            watcher = asyncio.create_task(watch())
            rng = random.Random(10)
            sent = 0

            async def flood() -> None:
                nonlocal sent
                while (samples[-1].open if samples else True) and (
                    time.monotonic() - start < deadline
                ):
                    sent += 1
                    await chat(flooder, group, noise(rng, size))

            await asyncio.gather(*(flood() for _ in range(window)))
            flood_s = time.monotonic() - start
            cpu = cpu_seconds(pid) - cpu_before
            await watcher
            await flooder.close()
            await crowd.stop()
    cut = next((s.at for s in samples if not s.open), None)
    freed = next((s.at for s in samples if not s.open and not s.kernel_bytes), None)
    peak = max(s.kernel_bytes for s in samples)
    return {
        "laggards": laggards,
        "size": size,
        "messages": sent,
        "messages_per_s": sent / flood_s,
        "server_cpu_s": cpu,
        "flood_s": flood_s,
        "peak_kernel_bytes": peak,
        "peak_kernel_per_laggard": peak / laggards,
        "peak_rss_growth_kib": max(s.rss_kib for s in samples) - rss_before,
        "cut_off_s": cut,
        "freed_s": freed,
        "still_open": samples[-1].open,
    }


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs]
    return None if None in values else float(statistics.median(values))


def _seconds(value: float | None, deadline: float) -> str:
    return f"over {deadline:.0f} s" if value is None else f"{value:.1f} s"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--laggards", type=int, default=500)
    parser.add_argument("--size", type=int, default=4000, help="characters a chat line")
    parser.add_argument("--window", type=int, default=8, help="messages in flight")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds a run lasts at most")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    runs = [
        asyncio.run(run(args.laggards, args.size, args.window, args.deadline))
        for _ in range(args.runs)
    ]
    peak = _median(runs, "peak_kernel_bytes") or 0.0
    rss = _median(runs, "peak_rss_growth_kib") or 0.0
    cut, freed = _median(runs, "cut_off_s"), _median(runs, "freed_s")
    each = ", ".join(
        f"{r['peak_kernel_bytes'] / 2**20:.1f} MiB {_seconds(r['freed_s'], args.deadline)}"
        for r in runs
    )
    print(
        f"10 {args.laggards} members stop reading, {args.size}-character lines into their group:"
        f" server kernel holds at most {peak / 2**20:.1f} MiB for them"
        f" ({peak / args.laggards / 1024:.0f} KiB each), server RSS +{rss / 1024:.1f} MiB;"
        f" all cut off after {_seconds(cut, args.deadline)}, kernel freed after"
        f" {_seconds(freed, args.deadline)}; {statistics.median(r['messages'] for r in runs):.0f}"
        f" messages, {statistics.median(r['messages_per_s'] for r in runs):.0f} a second"
        f"  [runs: {each}]"
    )
    return {
        "runs": runs,
        "peak_kernel_bytes": peak,
        "peak_rss_growth_kib": rss,
        "cut_off_s": cut,
        "freed_s": freed,
    }


if __name__ == "__main__":
    main()
