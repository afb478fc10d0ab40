"""Bytes on the wire, rse beside IRC (ngircd), measured at the socket.

    python -m bench.wire [--messages 300] [--runs 3] [--json FILE]

Every byte is counted by the team's link simulator (slowlink) placed between
one client and its server; the other client talks to the server directly.
The same corpus of distinct chat lines goes through rse and through ngircd.
Figures (medians over runs; ratios from the same run):

1. bytes per chat message received live (server -> receiver);
2. bytes per chat message sent, acknowledgement included (both ways);
3. bytes to catch up after N missed messages (reconnect included), and
   after 100 missed events of a mixed feed: 50 chat messages, 15 posts
   (titles, Markdown, polls, announcements), 20 comments, 15 reactions;
4. idle cost per hour (keepalive), measured per ping and scaled to the
   server's default interval.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rse_tui.protocol import (
    Batch,
    ChatEvent,
    CreateGroup,
    ErrorCode,
    JoinGroup,
    Poll,
    ProtocolError,
    React,
    Redeem,
    SendChat,
    SendComment,
    SendPost,
    Sync,
    WriteRequest,
)
from rse_tui.sync.cache import new_cid
from rse_tui.sync.connection import Connection
from server.admin import mint_invite, open_db

from .corpus import Item, lines, mixed
from .serverproc import spawn

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password 1"
DEFAULT_PING = 60.0


def slowlink_path() -> Path:
    env = os.environ.get("RSE_SLOWLINK")
    for candidate in ([Path(env)] if env else []) + [
        ROOT.parent / "shared" / "tools" / "slowlink.py",
        ROOT.parent.parent / "shared" / "tools" / "slowlink.py",
    ]:
        if candidate.is_file():
            return candidate
    raise SystemExit("bench: slowlink.py not found; set RSE_SLOWLINK to its path")


class Link:
    """slowlink in front of a server: counts every byte of one client."""

    def __init__(
        self, target_port: int, tmp: Path, rate_kbit: float | None = None, latency_ms: float = 0
    ) -> None:
        self.target_port = target_port
        self.stats_file = tmp / f"link-{target_port}-{id(self)}.json"
        self.rate_kbit = rate_kbit
        self.latency_ms = latency_ms
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0

    async def __aenter__(self) -> Link:
        args = [
            sys.executable,
            str(slowlink_path()),
            "--listen",
            "127.0.0.1:0",
            "--target",
            f"127.0.0.1:{self.target_port}",
            "--stats",
            str(self.stats_file),
            "--latency-ms",
            str(self.latency_ms),
        ]
        if self.rate_kbit:
            args += ["--rate-kbit", str(self.rate_kbit)]
        self.proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
        assert self.proc.stdout is not None
        line = (await self.proc.stdout.readline()).decode()
        self.port = int(line.split()[1].rsplit(":", 1)[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> dict[str, Any]:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await self.proc.wait()
        return self.read()

    def read(self) -> dict[str, Any]:
        return dict(json.loads(self.stats_file.read_text()))

    async def settle(self) -> dict[str, Any]:
        """The counters once in-flight bytes have been written out (every 0.2 s)."""
        await asyncio.sleep(0.5)
        return self.read()


# -- rse -------------------------------------------------------------------------


@dataclass
class RseServer:
    tmp: Path
    ping_interval: float = DEFAULT_PING
    extra: list[str] = field(default_factory=list)
    proc: asyncio.subprocess.Process | None = None
    port: int = 0
    db: Path = field(init=False)

    async def __aenter__(self) -> RseServer:
        self.db = self.tmp / "rse.db"
        self.proc, self.port, _ = await spawn(
            self.db,
            "--ping-interval",
            str(self.ping_interval),
            "--rate-limit",
            "2000",
            *self.extra,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            await self.proc.wait()

    def url(self, port: int | None = None) -> str:
        return f"ws://127.0.0.1:{port or self.port}/"

    async def user(
        self, name: str, port: int | None = None, pushes: list | None = None
    ) -> tuple[Connection, str]:
        conn = open_db(self.db)
        try:
            code = mint_invite(conn, admin=False, hours=1)
        finally:
            conn.close()
        client = await Connection.open(
            self.url(port), on_push=pushes.append if pushes is not None else None
        )
        auth = await client.call(Redeem, code=code, name=name, password=PASSWORD)
        return client, auth.token


async def chat(conn: Connection, group: int, text: str) -> Any:
    """Send like the engine does: wait out a rate limit, then send again (same id)."""
    return await write(conn, SendChat, group=group, text=text)


async def write(conn: Connection, kind: type[WriteRequest], **fields: Any) -> Any:
    """Any write, sent like the engine does (see chat)."""
    cid = new_cid()
    while True:
        try:
            return await conn.call(kind, cid=cid, **fields)
        except ProtocolError as exc:
            if exc.code is not ErrorCode.RATE_LIMITED:
                raise
            await asyncio.sleep(exc.retry_after or 0.5)


#: The mixed feed a client misses (figure 3, mixed): realistic proportions.
MIXED = {"chat": 50, "posts": 15, "comments": 20, "reactions": 15}


async def away_from_a_group(server: RseServer) -> tuple[Connection, int, str, int]:
    """alice, in group Ops, and bob, its member, gone away: (alice's
    connection, the group, bob's token, where bob's catch-up starts)."""
    sender, _ = await server.user("alice")
    receiver, token = await server.user("bob")
    g = (await sender.call(CreateGroup, name="Ops", cid=new_cid())).group
    await receiver.call(JoinGroup, group=g, cid=new_cid())
    cursor = (await receiver.call(Sync, since=0)).head
    await receiver.close()
    return sender, g, token, cursor


async def write_mixed(conn: Connection, group: int, items: list[Item]) -> int:
    """Write a mixed feed (bench.corpus.mixed) to ``group``; the last seq."""
    seqs: list[int] = []
    for item in items:
        if item.kind == "c":
            done = await write(conn, SendChat, group=group, text=item.text)
        elif item.kind == "p":
            poll = Poll(options=list(item.poll)) if item.poll else None
            done = await write(
                conn,
                SendPost,
                group=group,
                text=item.text,
                title=item.title,
                ack=item.ack,
                poll=poll,
            )
        elif item.kind == "m":
            done = await write(conn, SendComment, post=seqs[item.target], text=item.text)
        else:
            done = await write(conn, React, target=seqs[item.target], emoji=item.text)
        seqs.append(done.seq)
    return max(seqs, default=0)


class Inbox(list):  # type: ignore[type-arg]
    """Collects pushed frames; ``wait_for(n)`` returns once n chat events arrived."""

    def __init__(self) -> None:
        super().__init__()
        self._arrived = asyncio.Event()

    def append(self, frame: Any) -> None:
        super().append(frame)
        self._arrived.set()

    async def wait_for(self, n: int, within: float = 120.0) -> None:
        async with asyncio.timeout(within):
            while sum(isinstance(f, ChatEvent) for f in self) < n:
                self._arrived.clear()
                await self._arrived.wait()


async def rse_live(tmp: Path, corpus: list[str]) -> dict[str, float]:
    """Figures 1 and 2 for rse: one receiver and one sender, each behind its own link."""
    async with RseServer(tmp) as server:
        got = Inbox()
        async with Link(server.port, tmp) as rx_link, Link(server.port, tmp) as tx_link:
            sender, _ = await server.user("alice", port=tx_link.port)
            receiver, _ = await server.user("bob", port=rx_link.port, pushes=got)
            g = (await sender.call(CreateGroup, name="Ops", cid=new_cid())).group
            await receiver.call(JoinGroup, group=g, cid=new_cid())
            await receiver.call(Sync, since=receiver.welcome.head if receiver.welcome else 0)
            warm = corpus[:50]
            for text in warm:
                await chat(sender, g, text)
            await got.wait_for(len(warm))
            rx0, tx0 = await rx_link.settle(), await tx_link.settle()
            body = corpus[50:]
            for text in body:
                await chat(sender, g, text)
            await got.wait_for(len(corpus))
            rx1, tx1 = await rx_link.settle(), await tx_link.settle()
            await sender.close()
            await receiver.close()
    n = len(body)
    return {
        "received_per_msg": (rx1["down_bytes"] - rx0["down_bytes"]) / n,
        "receiver_up_per_msg": (rx1["up_bytes"] - rx0["up_bytes"]) / n,
        "sent_per_msg": (tx1["up_bytes"] - tx0["up_bytes"] + tx1["down_bytes"] - tx0["down_bytes"])
        / n,
        "text_bytes_per_msg": sum(len(t.encode()) for t in body) / n,
    }


async def rse_catch_up(tmp: Path, corpus: list[str], missed: list[int]) -> dict[int, dict]:
    """Figure 3: reconnect and catch up after N missed messages, all bytes counted."""
    out: dict[int, dict] = {}
    async with RseServer(tmp) as server:
        sender, _ = await server.user("alice")
        frames: list = []
        receiver, token = await server.user("bob", pushes=frames)
        g = (await sender.call(CreateGroup, name="Ops", cid=new_cid())).group
        await receiver.call(JoinGroup, group=g, cid=new_cid())
        cursor = (await receiver.call(Sync, since=0)).head
        await receiver.close()
        texts = iter(lines(sum(missed), seed=23))
        for n in missed:
            last = cursor
            for _ in range(n):
                last = (await chat(sender, g, next(texts))).seq
            async with Link(server.port, tmp) as link:
                pushes: list = []
                conn = await Connection.open(
                    server.url(link.port), token=token, on_push=pushes.append
                )
                done = await conn.call(Sync, since=cursor)
                events = [e for f in pushes if isinstance(f, Batch) for e in f.events]
                assert len(events) == n, (len(events), n)
                stats = await link.settle()  # caught up: what follows is not catching up
                await conn.close()
            out[n] = {
                "bytes": stats["up_bytes"] + stats["down_bytes"],
                "pages": sum(isinstance(f, Batch) for f in pushes),
                "round_trips": 1,  # hello and sync leave together; pages follow unasked
            }
            cursor = max(done.head, last)
        await sender.close()
    return out


async def rse_catch_up_mixed(tmp: Path, seed: int = 23) -> dict[str, Any]:
    """Figure 3, mixed: reconnect and catch up after a missed mixed feed (MIXED)."""
    items = mixed(**MIXED, seed=seed)
    async with RseServer(tmp) as server:
        sender, g, token, cursor = await away_from_a_group(server)
        await write_mixed(sender, g, items)
        async with Link(server.port, tmp) as link:
            pushes: list = []
            conn = await Connection.open(server.url(link.port), token=token, on_push=pushes.append)
            await conn.call(Sync, since=cursor)
            events = [e for f in pushes if isinstance(f, Batch) for e in f.events]
            assert len(events) == len(items), (len(events), len(items))
            stats = await link.settle()  # caught up: what follows is not catching up
            await conn.close()
        await sender.close()
    return {
        "events": len(items),
        "mix": MIXED,
        "bytes": stats["up_bytes"] + stats["down_bytes"],
        "received": stats["down_bytes"],
        "pages": sum(isinstance(f, Batch) for f in pushes),
        "round_trips": 1,
        "text_bytes": sum(
            len((i.text + (i.title or "") + "".join(i.poll or ())).encode()) for i in items
        ),
        "target": 600 + 40 * len(items),
    }


async def rse_idle(tmp: Path, seconds: float = 6.0, interval: float = 1.0) -> dict[str, float]:
    """Figure 4: keepalive bytes per ping, scaled to the default interval."""
    async with RseServer(tmp, ping_interval=interval) as server, Link(server.port, tmp) as link:
        client, _ = await server.user("idle", port=link.port)
        await client.call(Sync, since=0)
        before = await link.settle()
        await asyncio.sleep(seconds)  # nothing to do but keep the link alive
        after = await link.settle()
        await client.close()
    per_ping = (
        after["up_bytes"] + after["down_bytes"] - before["up_bytes"] - before["down_bytes"]
    ) / ((seconds + 0.5) / interval)
    return {"bytes_per_ping": per_ping, "bytes_per_hour": per_ping * 3600 / DEFAULT_PING}


# -- IRC (ngircd) ----------------------------------------------------------------------


class Ngircd:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Ngircd:
        binary = shutil.which("ngircd") or shutil.which("ngircd", path="/usr/sbin")
        if binary is None:
            raise SystemExit("bench: ngircd is needed (Debian: apt-get install ngircd)")
        conf = self.tmp / "ngircd.conf"
        conf.write_text(
            "[Global]\nName = irc.bench.local\nInfo = bench\nListen = 127.0.0.1\n"
            f'Ports = {self.port}\nMotdPhrase = "bench"\n'
            "[Limits]\nPingTimeout = 600\nPongTimeout = 600\nMaxConnectionsIP = 0\n"
            "[Options]\nDNS = no\nIdent = no\nPAM = no\nRequireAuthPing = no\n"
        )
        self.proc = await asyncio.create_subprocess_exec(
            binary,
            "-n",
            "-f",
            str(conf),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return self
            except OSError:
                await asyncio.sleep(0.02)
        raise RuntimeError("ngircd did not start")

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            await self.proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class IrcClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, nick: str) -> IrcClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        await client.send(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n")
        await client.until(" 001 ")
        return client

    async def send(self, text: str) -> None:
        self.writer.write(text.encode())
        await self.writer.drain()

    async def until(self, marker: str) -> str:
        while True:
            line = (await self.reader.readline()).decode(errors="replace")
            if line.startswith("PING"):
                await self.send("PONG" + line[4:])
            if marker in line:
                return line

    async def close(self) -> None:
        self.writer.close()


async def irc_live(tmp: Path, corpus: list[str]) -> dict[str, float]:
    async with Ngircd(tmp) as irc, Link(irc.port, tmp) as rx_link, Link(irc.port, tmp) as tx_link:
        sender = await IrcClient.connect(tx_link.port, "alice")
        receiver = await IrcClient.connect(rx_link.port, "bob")
        for client in (sender, receiver):
            await client.send("JOIN #ops\r\n")
            await client.until("366")  # end of names: joined
        warm, body = corpus[:50], corpus[50:]
        for text in warm:
            await sender.send(f"PRIVMSG #ops :{text}\r\n")
        for _ in warm:
            await receiver.until("PRIVMSG")
        rx0, tx0 = await rx_link.settle(), await tx_link.settle()
        for text in body:
            await sender.send(f"PRIVMSG #ops :{text}\r\n")
        for _ in body:
            await receiver.until("PRIVMSG")
        rx1, tx1 = await rx_link.settle(), await tx_link.settle()
        await sender.close()
        await receiver.close()
    n = len(body)
    return {
        "received_per_msg": (rx1["down_bytes"] - rx0["down_bytes"]) / n,
        "sent_per_msg": (tx1["up_bytes"] - tx0["up_bytes"] + tx1["down_bytes"] - tx0["down_bytes"])
        / n,
    }


# -- the suite ---------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def mixed_words() -> str:
    """MIXED in words: "50 chat, 15 posts, 20 comments, 15 reactions"."""
    return ", ".join(f"{n} {what}" for what, n in MIXED.items())


def mixed_median(found: list[dict[str, Any]], plain_100: int) -> dict[str, Any]:
    """The mixed catch-up over runs: median bytes, and the ratio to 100 chat
    messages missed (figure 3, same run)."""
    size = statistics.median(r["bytes"] for r in found)
    return {
        **found[0],
        "bytes": round(size),
        "received": round(statistics.median(r["received"] for r in found)),
        "runs": len(found),
        "all_bytes": [r["bytes"] for r in found],
        "ratio_to_chat_100": round(size / plain_100, 2),
    }


async def run(messages: int, runs: int) -> dict[str, Any]:
    corpus = lines(messages + 50, seed=11)
    rse_runs, irc_runs, ratios_rx, ratios_tx = [], [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            ours = await rse_live(Path(a), corpus)
            theirs = await irc_live(Path(b), corpus)
        rse_runs.append(ours)
        irc_runs.append(theirs)
        ratios_rx.append(ours["received_per_msg"] / theirs["received_per_msg"])
        ratios_tx.append(ours["sent_per_msg"] / theirs["sent_per_msg"])
    with tempfile.TemporaryDirectory() as c:
        catch = await rse_catch_up(Path(c), corpus, [0, 10, 100, 1000])
    mixed_runs = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as e:
            mixed_runs.append(await rse_catch_up_mixed(Path(e)))
    with tempfile.TemporaryDirectory() as d:
        idle = await rse_idle(Path(d))
    result = {
        "corpus_text_bytes_per_msg": median([r["text_bytes_per_msg"] for r in rse_runs]),
        "received": {
            "rse": median([r["received_per_msg"] for r in rse_runs]),
            "irc": median([r["received_per_msg"] for r in irc_runs]),
            "ratio": round(statistics.median(ratios_rx), 3),
            "target_ratio": 0.8,
        },
        "sent": {
            "rse": median([r["sent_per_msg"] for r in rse_runs]),
            "irc": median([r["sent_per_msg"] for r in irc_runs]),
            "ratio": round(statistics.median(ratios_tx), 3),
            "target_ratio": 1.0,
        },
        "catch_up": {str(n): {**v, "target": 600 + 40 * n} for n, v in catch.items()},
        "catch_up_mixed": mixed_median(mixed_runs, catch[100]["bytes"]),
        "idle": {**{k: round(v, 1) for k, v in idle.items()}, "target_per_hour": 3000},
        "runs": runs,
        "messages": messages,
    }
    return result


def table(result: dict[str, Any]) -> str:
    rx, tx, idle = result["received"], result["sent"], result["idle"]
    rows = [
        (
            "1 bytes/message received",
            f"{rx['rse']}",
            f"IRC {rx['irc']}",
            f"{rx['ratio']}x",
            "<= 0.8x IRC",
            rx["ratio"] <= 0.8,
        ),
        (
            "2 bytes/message sent + ack",
            f"{tx['rse']}",
            f"IRC {tx['irc']}",
            f"{tx['ratio']}x",
            "<= 1.0x IRC",
            tx["ratio"] <= 1.0,
        ),
    ]
    for n, v in result["catch_up"].items():
        rows.append(
            (
                f"3 catch-up after {n} missed",
                f"{v['bytes']} B",
                f"{v['pages']} pages",
                "",
                f"<= {v['target']} B",
                v["bytes"] <= v["target"],
            )
        )
    mix = result["catch_up_mixed"]
    rows.append(
        (
            f"3 catch-up after {mix['events']} mixed missed",
            f"{mix['bytes']} B",
            f"{mix['pages']} pages",
            f"{mix['ratio_to_chat_100']}x",
            f"<= {mix['target']} B",
            mix["bytes"] <= mix["target"],
        )
    )
    rows.append(
        (
            "4 idle cost per hour",
            f"{idle['bytes_per_hour']} B",
            f"{idle['bytes_per_ping']} B/ping",
            "",
            "<= 3000 B",
            idle["bytes_per_hour"] <= 3000,
        )
    )
    width = max(len(r[0]) for r in rows)
    out = [f"{'figure':<{width}}  {'rse':>10}  {'peer/detail':>14}  {'ratio':>7}  target"]
    for name, ours, peer, ratio, target, ok in rows:
        out.append(
            f"{name:<{width}}  {ours:>10}  {peer:>14}  {ratio:>7}  {target}"
            f"  {'ok' if ok else 'MISSED'}"
        )
    return "\n".join(out)


async def catch_up_only() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as c:
        found: dict[Any, Any] = await rse_catch_up(Path(c), [], [0, 10, 100, 1000])
    with tempfile.TemporaryDirectory() as e:
        found["mixed"] = await rse_catch_up_mixed(Path(e))
    return found


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--catch-up", action="store_true", help="only figure 3")
    args = parser.parse_args(argv)
    if args.catch_up:
        found = asyncio.run(catch_up_only())
        mix = found.pop("mixed")
        for n, v in found.items():
            print(f"catch-up after {n}: {v['bytes']} B (target {600 + 40 * n}), {v['pages']} pages")
        print(
            f"catch-up after {mix['events']} mixed ({mixed_words()}): {mix['bytes']} B"
            f" ({mix['received']} B received; target {mix['target']}), {mix['pages']} pages,"
            f" {mix['bytes'] / found[100]['bytes']:.2f}x the 100 chat messages"
        )
        found["mixed"] = mix
        return found
    result = asyncio.run(run(args.messages, args.runs))
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
