"""``python -m bench``: every benchmark, a table of figures, and a JSON file.

    python -m bench [--json bench-results.json] [--runs 3]
    python -m bench --quick      # a few seconds, for CI: catches regressions

The full suite needs ngircd (Debian package ``ngircd``) and the team's
slowlink proxy (``../shared/tools/slowlink.py`` or ``$RSE_SLOWLINK``). The
quick run needs neither: it counts bytes at the client's socket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from rse_tui.sync.connection import Connection, Traffic

from . import availability, catchup, first_paint, laggards, load, memory, slowlink_times, wire
from .corpus import lines, mixed


async def _quick_catch_up(missed: list[int]) -> dict[int, int]:
    """Figure 3 counted at the client's transport (no proxy needed)."""
    out: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with wire.RseServer(Path(tmp)) as server:
            sender, g, token, cursor = await wire.away_from_a_group(server)
            texts = iter(lines(sum(missed), seed=5))
            for n in missed:
                for _ in range(n):
                    await wire.chat(sender, g, next(texts))
                traffic = Traffic()
                conn = await Connection.open(
                    server.url(), token=token, since=cursor, traffic=traffic
                )
                assert conn.sync is not None
                cursor = (await conn.sync).head
                out[n] = traffic.sent + traffic.received
                await conn.close()
            await sender.close()
    return out


async def _quick_catch_up_mixed() -> int:
    """Figure 3 after a missed mixed feed (wire.MIXED), counted the same way."""
    with tempfile.TemporaryDirectory() as tmp:
        async with wire.RseServer(Path(tmp)) as server:
            sender, g, token, cursor = await wire.away_from_a_group(server)
            await wire.write_mixed(sender, g, mixed(**wire.MIXED, seed=5))
            traffic = Traffic()
            conn = await Connection.open(server.url(), token=token, since=cursor, traffic=traffic)
            assert conn.sync is not None
            await conn.sync
            size = traffic.sent + traffic.received
            await conn.close()
            await sender.close()
    return size


def quick() -> int:
    paint = first_paint.main(["--messages", "5000", "--runs", "3"])
    catch = asyncio.run(_quick_catch_up([0, 10, 100]))
    failed = False
    for n, size in catch.items():
        target = 600 + 40 * n
        ok = size <= target
        failed |= not ok
        print(f"catch-up after {n} missed: {size} B (target {target}) {'ok' if ok else 'MISSED'}")
    size = asyncio.run(_quick_catch_up_mixed())
    target = 600 + 40 * sum(wire.MIXED.values())
    print(
        f"catch-up after {sum(wire.MIXED.values())} mixed missed ({wire.mixed_words()}):"
        f" {size} B (target {target}, {size / catch[100]:.2f}x the 100 chat messages)"
        f" {'ok' if size <= target else 'MISSED'}"
    )
    if paint["median_ms"] > 1000:  # a regression guard for a small cache, not the target
        print("first paint from 5,000 messages over 1 s: regression")
        failed = True
    fan = asyncio.run(load.fan_out(200, 10))
    print(
        f"fan-out to 200: p99 {fan['p99_ms']:.1f} ms,"
        f" server CPU {fan['server_cpu_us_per_recipient']:.1f} us a recipient"
    )
    writes = asyncio.run(load.writes(20, 10, 400, 3))
    lost = writes["acked"] != writes["sent"] or writes["delivered"] != writes["expected_deliveries"]
    print(
        f"writes from 20 writers at 400/s: {writes['acked']} of {writes['sent']} acked,"
        f" {writes['delivered']} of {writes['expected_deliveries']} delivered,"
        f" p99 ack {writes['p99_ack_ms']:.1f} ms"
    )
    if lost or fan["p99_ms"] > 1000:
        print("load: a message was lost or fan-out took over 1 s: regression")
        failed = True
    caught = catchup.main(["--events", "200000", "--runs", "3", "--abuse-seconds", "0"])
    if caught["storage_ms"] > 20:  # a filter over the whole log took 45 ms here
        print("catch-up cost grows with the log again: regression")
        failed = True
    deaf = asyncio.run(laggards.run(50, 4000, 8, 20.0))
    each, freed = deaf["peak_kernel_per_laggard"], deaf["freed_s"]
    print(
        f"50 members that stop reading, their group flooded: the server's kernel held at most"
        f" {each / 1024:.0f} KiB for each, all cut off and freed after"
        f" {'over 20' if freed is None else f'{freed:.1f}'} s"
    )
    if each > 512 * 1024 or freed is None:
        print("laggards: over 512 KiB in the kernel for one, or not freed within 20 s: regression")
        failed = True
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
    args = parser.parse_args()
    if args.quick:
        return quick()
    results = {
        "wire": wire.main(["--runs", str(args.runs)]),
        "first_paint": first_paint.main(["--runs", str(max(args.runs, 7)), "--mixed", "50000"]),
        "slow_link": slowlink_times.main(["--runs", str(args.runs)]),
        "memory": memory.main(["--clients", "2000"]),
        "load": load.main(["--runs", str(args.runs)]),
        "catch_up": catchup.main(["--runs", str(max(args.runs, 7))]),
        "laggards": laggards.main(["--runs", str(args.runs)]),
        "availability": availability.main(["--runs", str(args.runs)]),
    }
    args.json.write_text(json.dumps(results, indent=1))
    print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
