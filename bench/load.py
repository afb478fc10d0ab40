"""Figures 5 and 6: fan-out to 1,000 members, and durable writes from 50 writers.

    python -m bench.load [--fanout-members 1000] [--messages 40]
                         [--writers 50] [--rate 2000] [--seconds 10] [--runs 3]

The server runs in its own process with its default (durable) settings; the
members run as real client connections in two other processes
(``bench.load_clients``), which is all a 2-core machine can give them.
Times are taken on the shared monotonic clock; server CPU is read from
``/proc/<pid>/stat`` (user + system, all threads).

5. One member sends a chat line to a group of 1,000 connected members and
   waits for its acknowledgement; the figure is each recipient's receipt time
   minus the send time (p99 over every recipient of every message) and the
   time to the last receipt. Messages go one at a time.
6. 50 writers in 5 groups of 10 each send at a fixed rate (open loop, 2,100
   a second together, a little above the target) for 10 seconds; every message is acknowledged only
   after its commit is on disk and reaches the 9 other members of its group.
   The figure is the acknowledged rate and the p99 acknowledgement time; the
   run fails if any message is not acknowledged or not delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rse_tui.protocol import SendChat
from rse_tui.sync.cache import new_cid
from rse_tui.sync.connection import Connection

from .corpus import lines
from .population import populate
from .wire import RseServer

CLIENTS = "bench.load_clients"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process, every thread included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Clients:
    """One load process: its members go in on stdin, its reports come out on stdout."""

    def __init__(
        self, role: str, url: str, members: list[str], *args: str, module: str = CLIENTS
    ) -> None:
        self.argv = [sys.executable, "-m", module, role, url, *args]
        self.members = members
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**26,  # a report carries every latency
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(("\n".join(self.members) + "\n\n").encode())
        await self.proc.stdin.drain()

    async def line(self, within: float = 120.0) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        async with asyncio.timeout(within):
            text = (await self.proc.stdout.readline()).decode()
        if not text:
            raise RuntimeError(f"load clients ended early: {self.argv[3]}")
        return text

    async def ready(self) -> None:
        text = await self.line()
        if text.strip() != "ready":
            raise RuntimeError(f"load clients failed to connect: {text!r}")

    def say(self, text: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(text.encode())

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            async with asyncio.timeout(30):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def _halves(items: list[str]) -> list[list[str]]:
    mid = len(items) // 2
    return [items[:mid], items[mid:]]


async def fan_out(members: int, messages: int) -> dict[str, Any]:
    """Figure 5."""
    with tempfile.TemporaryDirectory() as tmp:
        server = RseServer(Path(tmp))
        (group,), tokens = populate(Path(tmp) / "rse.db", [members + 1])
        async with server:
            assert server.proc is not None
            crowd = [Clients("receive", server.url(), part) for part in _halves(tokens[1:])]
            for clients in crowd:
                await clients.start()
            for clients in crowd:
                await clients.ready()
            sender = await Connection.open(server.url(), token=tokens[0], since=0)
            assert sender.sync is not None
            await sender.sync
            receipts: dict[int, list[float]] = {}
            arrived = asyncio.Event()

            async def collect(clients: Clients) -> None:
                while True:
                    report = json.loads(await clients.line(within=600))
                    receipts.setdefault(report["seq"], []).extend(report["t"])
                    arrived.set()

            readers = [asyncio.create_task(collect(c)) for c in crowd]
            latencies: list[float] = []
            to_last: list[float] = []
            user0, system0 = cpu_times(server.proc.pid)
            for text in lines(messages, seed=77):
                sent = time.monotonic()
                ack = await sender.call(SendChat, group=group, text=text, cid=new_cid())
                async with asyncio.timeout(30):
                    while len(receipts.get(ack.seq, ())) < members:
                        arrived.clear()
                        await arrived.wait()
                times = receipts.pop(ack.seq)
                latencies.extend(t - sent for t in times)
                to_last.append(max(times) - sent)
                await asyncio.sleep(0.05)
            user1, system1 = cpu_times(server.proc.pid)
            cpu = user1 - user0 + system1 - system0
            for task in readers:
                task.cancel()
            await sender.close()
            for clients in crowd:
                await clients.stop()
    return {
        "members": members,
        "messages": messages,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "to_last_median_ms": statistics.median(to_last) * 1000,
        "to_last_max_ms": max(to_last) * 1000,
        "slowest": sorted(((round(t * 1000), i) for i, t in enumerate(to_last)), reverse=True)[:5],
        "server_cpu_us_per_recipient": cpu / (messages * members) * 1e6,
        "server_system_us_per_recipient": (system1 - system0) / (messages * members) * 1e6,
    }


async def writes(writers: int, group_size: int, rate: float, seconds: float) -> dict[str, Any]:
    """Figure 6."""
    groups = writers // group_size
    with tempfile.TemporaryDirectory() as tmp:
        server = RseServer(Path(tmp))
        group_ids, tokens = populate(Path(tmp) / "rse.db", [group_size] * groups)
        members = [f"{token} {group_ids[k // group_size]}" for k, token in enumerate(tokens)]
        per_writer = rate / writers
        async with server:
            assert server.proc is not None
            crowd = [
                Clients("write", server.url(), part, str(per_writer), str(seconds))
                for part in _halves(members)
            ]
            for clients in crowd:
                await clients.start()
            for clients in crowd:
                await clients.ready()
            start = time.monotonic() + 0.5
            cpu0 = cpu_seconds(server.proc.pid)
            for clients in crowd:
                clients.say(f"go {start}\n")
            reports = [json.loads(await c.line(within=seconds + 120)) for c in crowd]
            cpu = cpu_seconds(server.proc.pid) - cpu0
            for clients in crowd:
                await clients.stop()
    sent = sum(r["sent"] for r in reports)
    acked = sum(r["acked"] for r in reports)
    latencies = [x for r in reports for x in r["latencies"]]
    end = max(r["last_ack"] for r in reports)
    expected_deliveries = sent * (group_size - 1)
    received = sum(r["received"] for r in reports)
    return {
        "writers": writers,
        "group_size": group_size,
        "offered_per_s": rate,
        "sent": sent,
        "acked": acked,
        "errors": sum(r["error_count"] for r in reports),
        "error_sample": [e for r in reports for e in r["errors"]][:3],
        "acked_per_s": acked / (end - start),
        "p50_ack_ms": percentile(latencies, 0.50) * 1000 if latencies else None,
        "p99_ack_ms": percentile(latencies, 0.99) * 1000 if latencies else None,
        "delivered": received,
        "expected_deliveries": expected_deliveries,
        "server_cpu_s": cpu,
    }


def _median_of(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def _each(runs: list[dict[str, Any]], fmt: str) -> str:
    return ", ".join(fmt.format(**r) for r in runs)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fanout-members", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--group-size", type=int, default=10)
    # Offered a little above the target: an open loop cannot ack more than it offers.
    parser.add_argument("--rate", type=float, default=2100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["fanout", "writes"])
    args = parser.parse_args(argv)
    out: dict[str, Any] = {}
    if args.only != "writes":
        runs = [asyncio.run(fan_out(args.fanout_members, args.messages)) for _ in range(args.runs)]
        p99 = _median_of(runs, "p99_ms")
        cpu = _median_of(runs, "server_cpu_us_per_recipient")
        print(
            f"5 fan-out to {args.fanout_members}: p99 {p99:.1f} ms (target < 100),"
            f" last receipt median {_median_of(runs, 'to_last_median_ms'):.1f} ms,"
            f" server CPU {cpu:.1f} us a recipient (target <= 20)"
            f"  [runs: {_each(runs, '{p99_ms:.1f}')} ms]"
        )
        out["fanout"] = {"runs": runs, "p99_ms": p99, "cpu_us_per_recipient": cpu}
    if args.only != "fanout":
        runs = [
            asyncio.run(writes(args.writers, args.group_size, args.rate, args.seconds))
            for _ in range(args.runs)
        ]
        for r in runs:
            if r["acked"] != r["sent"] or r["delivered"] != r["expected_deliveries"]:
                print(
                    f"6 LOST: {r['sent']} sent, {r['acked']} acked, {r['delivered']}"
                    f" of {r['expected_deliveries']} delivered, {r['error_sample']}"
                )
        rate = _median_of(runs, "acked_per_s")
        p99 = _median_of(runs, "p99_ack_ms")
        print(
            f"6 durable writes from {args.writers} writers: {rate:.0f} msg/s acked"
            f" (target >= 2000), p99 ack {p99:.1f} ms (target < 100)"
            f"  [runs: {_each(runs, '{acked_per_s:.0f}/s {p99_ack_ms:.0f} ms')}]"
        )
        out["writes"] = {"runs": runs, "acked_per_s": rate, "p99_ack_ms": p99}
    return out


if __name__ == "__main__":
    main()
