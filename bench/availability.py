"""Availability figures 11 and 13: idle sockets that never sign in, and wrong passwords.

    python -m bench.availability [--runs 3] [--only idle|guess] [--guess-seconds 4]

Each server runs in its own process with its default settings (durable
writes, scrypt at 128 MiB, every limit as shipped) unless a line says
otherwise; each flood runs in another process (``bench.availability_clients``)
from loopback addresses: Linux routes all of 127.0.0.0/8, so a socket bound
to 127.0.0.2, 127.0.0.3... reaches the server from that address (the figure
says how many distinct addresses the server's sockets showed, read from
``/proc/net/tcp``). The legitimate user runs in this process, from
127.0.0.1. Server memory is its RSS and its open files the entries of
``/proc/PID/fd``, sampled every 0.1 s; times are on the shared monotonic
clock. A run takes about 40 s; most of it is the 10 s the server gives a
connection to sign in, twice.

11. Idle connections: 1,000 WebSocket connections that never sign in, from
    one address; 1,000 from 100 addresses (10 each) to a second server,
    opened once the first flood is in (the ten seconds both wait overlap;
    the user's reconnects to the first server pause while it opens). The
    figure is how many the server lets in and refuses, how long until it
    has closed those let in (10 s to sign in), its memory and open files at
    the peak, and meanwhile a signed-in user who reconnects every 0.2 s
    (hello and sync in the handshake, with a token): p50/p95 of the time to
    the end of the catch-up, against the same without a flood. Then 2,000
    from 100 addresses against a server whose open-file limit is a
    service's usual 1,024 (soft and hard, so it cannot raise it), held 2 s.
13. Wrong passwords: from 50 addresses, one connection each sends ``login``
    with a wrong password as fast as the server allows, over 40 names, half
    of them existing accounts (the user's own among them); each guess takes
    the next name not waiting after its failures, so the per-name wait
    seldom applies and the per-address rate binds. Meanwhile the user logs
    in with the right password once a second, each time on a new
    connection: the time to its token (or to the failure), against the same
    without the flood; and the passwords the server hashes a second (its
    CPU time over the CPU time of one login measured before the flood).
    Passwords use the default scrypt parameters: the figure is the real
    cost of a login.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rse_tui.protocol import Login
from rse_tui.sync.connection import Connection
from server import auth
from server.admin import open_db

from .load import cpu_seconds, percentile
from .population import populate

CLIENTS = "bench.availability_clients"
PASSWORD = "the right one, at last"
RECONNECT_EVERY = 0.2
SERVICE_FILES = 1024


def _loopback(first: int, count: int, prefix: str = "127.0") -> list[str]:
    """``count`` loopback addresses from ``prefix.x.y`` numbered from ``first``."""
    return [f"{prefix}.{(first + k) // 250}.{(first + k) % 250 + 2}" for k in range(count)]


class Server:
    """``rse-server serve`` in its own process; ``open_files`` caps its file limit."""

    def __init__(self, db: Path, open_files: int | None = None) -> None:
        self.db = db
        self.open_files = open_files
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self.banner = ""
        self.log = db.with_suffix(".log")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _limit_files(self) -> None:
        if self.open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))

    async def __aenter__(self) -> Server:
        with self.log.open("w") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "server.cli", "serve", "--db", str(self.db), "--port", "0"),
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                preexec_fn=self._limit_files,
            )
        assert self.proc.stdout is not None
        while "listening on" not in self.banner:
            self.banner = (await self.proc.stdout.readline()).decode()
            if not self.banner:
                raise RuntimeError(f"rse-server did not start: {self.log.read_text()}")
        self.port = int(self.banner.split("listening on ")[1].split()[0].rsplit(":", 1)[1][:-1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            await self.proc.wait()

    def usage(self) -> tuple[float, int]:
        """Resident memory (MiB) and open files now."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        rss = next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:")
        return rss / 1024, len(os.listdir(f"/proc/{self.pid}/fd"))

    def peers(self) -> set[str]:
        """The distinct remote addresses of the server's established TCP connections."""
        found = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if state == "01" and int(local.split(":")[1], 16) == self.port:
                found.add(socket.inet_ntoa(bytes.fromhex(remote.split(":")[0])[::-1]))
        return found


class Peak:
    """The server's largest memory and open-file count while it runs."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.rss, self.files = server.usage()
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            rss, files = self.server.usage()
            self.rss, self.files = max(self.rss, rss), max(self.files, files)
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        self._task.cancel()


class Flood:
    """A ``bench.availability_clients`` process; its reports are JSON lines."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Flood:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", CLIENTS, *self.args),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return self

    async def report(self, within: float = 120.0) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        async with asyncio.timeout(within):
            line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"flood ended early: {self.args[0]}")
        result: dict[str, Any] = json.loads(line)
        return result

    def stop(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(b"stop\n")

    async def wait(self) -> None:
        assert self.proc is not None
        if self.proc.returncode is None and self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            async with asyncio.timeout(30):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class Reconnects:
    """A signed-in user reconnecting (hello and sync in the handshake) every 0.2 s.

    ``pause()`` stops the attempts until ``resume()``; an attempt under way
    when it pauses is not counted."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.times: list[float] = []
        self.failures: Counter[str] = Counter()
        self._running = asyncio.Event()
        self._running.set()
        self._pauses = 0
        self._task = asyncio.create_task(self._run())

    def pause(self) -> None:
        self._pauses += 1
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    async def _run(self) -> None:
        since = 0
        while True:
            await self._running.wait()
            pauses = self._pauses
            started = time.monotonic()
            try:
                conn = await Connection.open(self.url, token=self.token, since=since)
                assert conn.sync is not None
                since = (await conn.sync).head
                if pauses == self._pauses:
                    self.times.append(time.monotonic() - started)
                conn.close_soon()
            except Exception as exc:  # refused, reset: counted, and tried again
                self.failures[type(exc).__name__] += 1
            await asyncio.sleep(max(0.0, started + RECONNECT_EVERY - time.monotonic()))

    async def stop(self) -> dict[str, Any]:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return {
            "p50_ms": percentile(self.times, 0.5) * 1000 if self.times else None,
            "p95_ms": percentile(self.times, 0.95) * 1000 if self.times else None,
            "count": len(self.times),
            "failures": dict(self.failures),
        }


async def reconnect_baseline(server: Server, token: str, seconds: float) -> dict[str, Any]:
    await _warm_up(server, token)
    user = Reconnects(server.url, token)
    await asyncio.sleep(seconds)
    return await user.stop()


async def _warm_up(server: Server, token: str) -> None:
    """A first reconnect, not counted: it pays for the server's first catch-up."""
    conn = await Connection.open(server.url, token=token, since=0)
    assert conn.sync is not None
    await conn.sync
    await conn.close()


class IdleFlood:
    """Figure 11: ``n`` idle connections from ``addresses`` while the user reconnects.

    ``open()`` returns once every connection is let in or refused; ``finish()``
    once the server has closed them all (or, with ``hold``, once the flood
    has held them that many seconds and closed them itself)."""

    def __init__(
        self, server: Server, token: str, n: int, addresses: list[str], hold: float | None = None
    ) -> None:
        self.server = server
        self.token = token
        self.n = n
        self.addresses = addresses
        self.hold = hold
        self.flood = Flood("idle", server.url, str(n), *addresses)

    async def open(self) -> None:
        self.peak = Peak(self.server)
        self.before = self.peak.rss, self.peak.files
        self.cpu = cpu_seconds(self.server.pid)
        await self.flood.start()
        self.user = Reconnects(self.server.url, self.token)
        self.opened = await self.flood.report()
        self.seen = self.server.peers() - {"127.0.0.1"}

    async def finish(self) -> dict[str, Any]:
        if self.hold is not None:
            await asyncio.sleep(self.hold)
            self.flood.stop()
        closed = await self.flood.report()
        during = await self.user.stop()
        await self.flood.wait()
        self.peak.stop()
        opened, lifetimes = self.opened, closed["lifetimes"]
        return {
            "connections": self.n,
            "addresses": len(self.addresses),
            "addresses_seen": len(self.seen),
            "accepted": opened.get("accepted", 0),
            "refused_429": opened.get("429", 0),
            "refused_503": opened.get("503", 0),
            "other": {k: v for k, v in opened.items() if k[0].isupper()},
            "answered_s": opened["answered"] - opened["started"],
            "closed_by_server": closed["closed_by_server"],
            "all_closed_s": closed["last_closed"] - opened["started"],
            "lifetime_p50_s": statistics.median(lifetimes) if lifetimes else None,
            "lifetime_max_s": max(lifetimes, default=None),
            "close_codes": closed["codes"],
            "rss_before_mib": self.before[0],
            "rss_peak_mib": self.peak.rss,
            "files_before": self.before[1],
            "files_peak": self.peak.files,
            "server_cpu_s": cpu_seconds(self.server.pid) - self.cpu,
            "user": during,
        }


async def _login(url: str, name: str) -> tuple[float, str | None]:
    """The time to a token, and what went wrong if none came."""
    started = time.monotonic()
    try:
        conn = await Connection.open(url, hello=False)
    except Exception as exc:
        return time.monotonic() - started, type(exc).__name__
    try:
        await conn.call(Login, name=name, password=PASSWORD)
        return time.monotonic() - started, None
    except Exception as exc:
        return time.monotonic() - started, getattr(exc, "message", None) or type(exc).__name__
    finally:
        conn.close_soon()


async def _logins(url: str, name: str, count: int, first: float) -> list[tuple[float, str | None]]:
    """``count`` logins, one a second from ``first`` (each on its own connection,
    whether or not the one before has finished)."""

    async def at(k: int) -> tuple[float, str | None]:
        await asyncio.sleep(max(0.0, first + k - time.monotonic()))
        return await _login(url, name)

    return list(await asyncio.gather(*(at(k) for k in range(count))))


async def guessing(
    server: Server, user: str, names: list[str], addresses: list[str], seconds: float
) -> dict[str, Any]:
    """Figure 13."""
    cpu0 = cpu_seconds(server.pid)
    quiet = [await _login(server.url, user) for _ in range(3)]
    cpu_per_hash = (cpu_seconds(server.pid) - cpu0) / len(quiet)
    flood = await Flood("guess", server.url, str(seconds), *addresses, "--", *names).start()
    cpu0 = cpu_seconds(server.pid)
    tries = await _logins(server.url, user, int(seconds), time.monotonic() + 0.5)
    attack = await flood.report()
    await flood.wait()
    cores = (cpu_seconds(server.pid) - cpu0) / (time.monotonic() - attack["started"])
    answers = attack.pop("answers")
    steady = (len(answers) - 1) / (answers[-1] - answers[0]) if len(answers) > 1 else 0.0
    return {
        "addresses": len(addresses),
        "names": len(names),
        "quiet_p50_ms": percentile([t for t, _ in quiet], 0.5) * 1000,
        "quiet_failed": sum(error is not None for _, error in quiet),
        "tries": [(round(t * 1000), error) for t, error in tries],
        "signed_in": sum(error is None for _, error in tries),
        "p50_ms": percentile([t for t, _ in tries], 0.5) * 1000,
        "p95_ms": percentile([t for t, _ in tries], 0.95) * 1000,
        "attack": attack,
        "wrong_answered_per_s": steady,
        "server_cores": cores,
        "hashes_per_s": cores / cpu_per_hash,
        "cpu_per_hash_s": cpu_per_hash,
    }


def _prepare(db: Path, *, password: bool) -> tuple[str, str, list[str]]:
    """Twenty accounts; with ``password``, the first has one (default scrypt).
    Returns its name and token, and the forty names the guesses go over."""
    _, tokens = populate(db, [20], prefix="user")
    conn = open_db(db)
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM users ORDER BY id")]
        if password:
            with conn:
                conn.execute(
                    "UPDATE users SET pw = ? WHERE name = ?",
                    (auth.hash_password(PASSWORD, auth.ScryptParams()), names[0]),
                )
    finally:
        conn.close()
    return names[0], tokens[0], names + [f"nobody{k}" for k in range(len(names))]


async def one_run(only: str | None, guess_seconds: float) -> dict[str, Any]:
    """One run of every figure. The two floods of figure 11 at default settings
    go to two servers, the second flood opening once the first is let in: their
    ten seconds of waiting overlap. The user's reconnects to the first server
    pause while the second flood opens (the machine has two cores)."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db, other, limited = (Path(tmp) / name for name in ("rse.db", "other.db", "limited.db"))
        user, token, names = _prepare(db, password=only != "idle")
        _, token2, _ = _prepare(other, password=False)
        _, token3, _ = _prepare(limited, password=False)
        async with Server(db) as server, Server(other) as server2:
            if only != "guess":
                out["quiet"] = await reconnect_baseline(server, token, 3.0)
                one = IdleFlood(server, token, 1000, _loopback(0, 1))
                many = IdleFlood(server2, token2, 1000, _loopback(1, 100))
                await one.open()
                one.user.pause()
                await many.open()
                one.user.resume()
                out["one_address"] = await one.finish()
                out["many_addresses"] = await many.finish()
            if only != "idle":
                out["guess"] = await guessing(
                    server, user, names, _loopback(0, 50, "127.1"), guess_seconds
                )
        if only != "guess":
            async with Server(limited, open_files=SERVICE_FILES) as server:
                out["limited_banner"] = server.banner.split("(", 1)[1].strip().rstrip(")")
                flood = IdleFlood(server, token3, 2000, _loopback(1, 100), hold=2.0)
                await flood.open()
                out["limited"] = await flood.finish()
                out["limited_log"] = [
                    line for line in server.log.read_text().splitlines() if "accept" in line
                ]
    return out


class Medians:
    """Medians over runs of the values at a path (``m("guess", "p50_ms")``)."""

    def __init__(self, runs: list[dict[str, Any]]) -> None:
        self.runs = runs

    def __call__(self, *path: str) -> float:
        def get(run: dict[str, Any]) -> float:
            value: Any = run
            for key in path:
                value = value[key]
            return float(value)

        return float(statistics.median(get(r) for r in self.runs))


def _idle_rows(m: Medians, key: str, label: str, quiet: tuple[float, float]) -> list[str]:
    first = m.runs[0][key]
    let_in = m(key, "accepted")
    grown = (m(key, "rss_peak_mib") - m(key, "rss_before_mib")) * 1024 / max(1.0, let_in)
    p50, p95 = m(key, "user", "p50_ms"), m(key, "user", "p95_ms")
    refused = sum(sum(run[key]["user"]["failures"].values()) for run in m.runs)
    closing = (
        f"all closed {m(key, 'all_closed_s'):.1f} s after the first"
        f" (each after {m(key, 'lifetime_p50_s'):.1f} s, code {','.join(first['close_codes'])})"
        if first["closed_by_server"]
        else f"held {m(key, 'lifetime_p50_s'):.1f} s, then closed by the flood"
    )
    return [
        f"11 {first['connections']:,} idle from {first['addresses']} address"
        f"{'es' * (first['addresses'] > 1)} ({first['addresses_seen']} seen by the server)"
        f"{label}: {let_in:.0f} let in, {m(key, 'refused_429'):.0f} refused 429,"
        f" {m(key, 'refused_503'):.0f} refused 503{', other ' if first['other'] else ''}"
        f"{first['other'] or ''}; {closing}",
        f"   server peak {m(key, 'rss_peak_mib'):.0f} MiB (+{grown:.1f} KiB a connection let"
        f" in), {m(key, 'files_peak'):.0f} open files;"
        f" the user's reconnect p50 {p50:.1f} ms ({p50 / quiet[0]:.2f}x),"
        f" p95 {p95:.1f} ms ({p95 / quiet[1]:.2f}x), {refused} refused",
    ]


def _guess_rows(m: Medians) -> list[str]:
    first = m.runs[0]["guess"]
    quiet = m("guess", "quiet_p50_ms")
    p50, p95 = m("guess", "p50_ms"), m("guess", "p95_ms")
    tries = [t for run in m.runs for t in run["guess"]["tries"]]
    failed = Counter(error for _, error in tries if error is not None)
    why = ", ".join(f"{n} {error}" for error, n in failed.items())
    return [
        f"13 logins during wrong passwords from {first['addresses']} addresses:"
        f" {len(tries) - sum(failed.values())} of {len(tries)} signed in"
        f"{f' ({why})' if why else ''}; time to the token (or the failure)"
        f" p50 {p50 / 1000:.2f} s ({p50 / quiet:.1f}x), p95 {p95 / 1000:.2f} s"
        f" ({p95 / quiet:.1f}x), against {quiet / 1000:.2f} s without",
        f"   server hashing {m('guess', 'hashes_per_s'):.1f} passwords/s"
        f" ({m('guess', 'server_cores'):.2f} cores at {m('guess', 'cpu_per_hash_s'):.2f} s"
        f" CPU a hash); {m('guess', 'wrong_answered_per_s'):.1f} wrong passwords answered/s",
    ]


def report(runs: list[dict[str, Any]]) -> dict[str, Any]:
    m = Medians(runs)
    lines: list[str] = []
    if "quiet" in runs[0]:
        quiet = m("quiet", "p50_ms"), m("quiet", "p95_ms")
        lines.append(
            f"11 a signed-in user's reconnect (hello and sync), no flood:"
            f" p50 {quiet[0]:.1f} ms, p95 {quiet[1]:.1f} ms"
        )
        lines += _idle_rows(m, "one_address", "", quiet)
        lines += _idle_rows(m, "many_addresses", "", quiet)
        logged = sum(len(run["limited_log"]) for run in runs)
        lines += _idle_rows(m, "limited", f" at {SERVICE_FILES:,} open files", quiet)
        lines.append(f"   {runs[0]['limited_banner']}; accept failures logged: {logged}")
    if "guess" in runs[0]:
        lines += _guess_rows(m)
    print("\n".join(lines))
    return {"runs": runs, "lines": lines}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["idle", "guess"])
    parser.add_argument("--guess-seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    runs = [asyncio.run(one_run(args.only, args.guess_seconds)) for _ in range(args.runs)]
    out = report(runs)
    print(f"(runs: {args.runs}, {time.monotonic() - started:.0f} s)")
    return out


if __name__ == "__main__":
    main()
