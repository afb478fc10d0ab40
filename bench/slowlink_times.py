"""Figure 9: how long things take over a 9.6 kbit/s link with 1 s round trips.

    python -m bench.slowlink_times [--runs 3]

- join: from nothing to a first usable screen: the real ``rse join`` (one
  connection: redeem, group list and live head in one flight, then the
  newest page of the group the app opens first), then the real app started
  on that profile until its first paint shows the group's messages (with no
  network: what the user sees does not wait for the link);
- reconnect: after 100 missed messages, from a new connection to caught up.

The link is the team's slowlink proxy (rate 9.6 kbit/s each way, 1,000 ms RTT).
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rse_tui.protocol import CreateGroup, JoinGroup, SendPost, Sync
from rse_tui.sync.cache import new_cid
from rse_tui.sync.connection import Connection
from server.admin import mint_invite, open_db

from .corpus import lines
from .first_paint import CLOSED, ROOT
from .wire import PASSWORD, Link, RseServer, chat

RATE_KBIT, RTT_MS = 9.6, 1000
KEYRING_NONE = "keyring.backends.fail.Keyring"  # the token goes to the 0600 file


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
            home = tmp / "home"
            started = time.perf_counter()
            await _rse_join(home, server.url(link.port), code)
            joined = time.perf_counter() - started
        profile = next((home / "profiles").iterdir())
        painted, rows = await _first_paint(profile / "cache.db")
        if rows == 0:
            raise RuntimeError("the first screen after joining shows no message")
        joined += painted
        parts = {"rse_join_s": joined - painted, "first_paint_s": painted}
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
    return {"join_s": joined, "reconnect_100_s": reconnected, **parts}


async def _rse_join(home: Path, url: str, code: str) -> None:
    env = {**os.environ, "RSE_HOME": str(home), "PYTHON_KEYRING_BACKEND": KEYRING_NONE}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rse_tui.cli",
        "join",
        url,
        code,
        "--name",
        "newcomer",
        "--password-stdin",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate(f"{PASSWORD}\n".encode())
    if proc.returncode != 0:
        raise RuntimeError(f"rse join failed: {err.decode()}")


async def _first_paint(cache: Path) -> tuple[float, int]:
    """Start the real app on a cache (no network); seconds to its first paint, rows shown."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.paint_child",
        str(cache),
        CLOSED,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = (await proc.stdout.readline()).decode()
    painted = time.perf_counter() - started
    await proc.wait()
    if not line.startswith("painted"):
        raise RuntimeError(f"the app did not paint: {line!r}")
    return painted, int(line.split()[1])


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    for package in ("rse_tui", "bench"):  # as installed (see bench.first_paint)
        compileall.compile_dir(ROOT / package, quiet=1)
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(asyncio.run(one_run(Path(tmp))))
    result = {
        "join_s": round(statistics.median(r["join_s"] for r in runs), 2),
        "reconnect_100_s": round(statistics.median(r["reconnect_100_s"] for r in runs), 2),
        "rse_join_s": round(statistics.median(r["rse_join_s"] for r in runs), 2),
        "first_paint_s": round(statistics.median(r["first_paint_s"] for r in runs), 2),
        "runs": args.runs,
    }
    print(
        f"9.6 kbit/s, 1 s RTT: join to first usable screen {result['join_s']} s (target 5 s:"
        f" rse join {result['rse_join_s']} s + first paint {result['first_paint_s']} s);"
        f" reconnect after 100 missed {result['reconnect_100_s']} s (target 3 s)"
    )
    return result


if __name__ == "__main__":
    main()
