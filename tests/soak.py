"""A seeded soak: real server, real client engines, random work under random faults.

    python -m tests.soak [--seed N] [--seconds 60] [--users 4]

The seed is printed first; the same seed draws the same schedule (what the
machine's timing does with it may differ). The server runs as its own
process (``rse-server serve``) so that it can be killed with SIGKILL and
started again on the same file; each client is the real sync engine with
its own cache file, behind its own link (tests/linkproxy.py).

Work: chat lines, feed posts, direct messages, joins and leaves, new
groups of every visibility, members added and removed by moderators,
requests to join private groups; each text names its author and number.
Faults meanwhile: links cut, links down for a while, a client engine stopped
and started again on its cache, the server killed (SIGKILL) and restarted.
Then the faults stop, everyone syncs, and the checks run:

1. every write a client queued is stored exactly once, or is shown to its
   author as refused, with a reason;
2. each user's writes are stored in the order that user made them;
3. for each group a user is in, their cache holds exactly the server's
   messages, but for the ranges it records as holes (fetched on demand);
4. (on what stays) no cache keeps messages of a private or secret group its
   user is not in, or lists a secret group they are not in;
5. the server's log holds no traceback and no ``internal`` error.

A check names the first violation it finds. (Still to come: what each
client received checked against what it could read at the time.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rse_tui.sync import account as accounts
from rse_tui.sync.cache import Cache
from rse_tui.sync.engine import Backoff, Engine
from server.cli import mint_invite, open_db

from .linkproxy import LinkProxy

PASSWORD = "soak password 1"


class Server:
    """``rse-server serve`` on a file, killed and started again at will."""

    def __init__(self, db: Path, log: Path) -> None:
        self.db = db
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self.restarts = 0

    async def start(self) -> None:
        out = self.log.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--db",
            str(self.db),
            "--port",
            "0",
            "--rate-limit",
            "200",
            stdout=asyncio.subprocess.PIPE,
            stderr=out,
        )
        out.close()
        assert self.proc.stdout is not None
        while True:
            line = (await self.proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError("rse-server did not start")
            with self.log.open("a") as f:
                f.write(line)
            if "listening on" in line:
                self.port = int(
                    line.split("listening on ")[1].split()[0].rsplit(":", 1)[1].strip("/")
                )
                break
        asyncio.get_running_loop().create_task(self._drain(self.proc))

    async def _drain(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            with self.log.open("ab") as f:
                f.write(line)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
        self.proc = None

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()
        self.proc = None


@dataclass
class Client:
    name: str
    account: accounts.Account
    link: LinkProxy
    user: int = 0
    engine: Engine | None = None
    task: asyncio.Task[None] | None = None
    #: (op, text) in the order this user made them.
    written: list[tuple[str, str]] = field(default_factory=list)

    def start(self) -> None:
        self.engine = Engine(
            Cache(self.account.profile.cache_path),
            url=self.link.url,
            token=self.account.token,
            backoff=Backoff(first=0.05, cap=0.5),
            open_timeout=3,
        )
        self.task = asyncio.get_running_loop().create_task(self.engine.run())

    async def stop(self) -> None:
        """Stop the engine at once, wherever it is (its cache stays)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        if self.engine is not None:
            with contextlib.suppress(Exception):
                self.engine.close()
        self.engine = self.task = None


@dataclass
class Soak:
    seed: int
    seconds: float
    users: int
    tmp: Path
    rng: random.Random = field(init=False)
    server: Server = field(init=False)
    clients: list[Client] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    ops: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.server = Server(self.tmp / "rse.db", self.tmp / "server.log")

    async def setup(self) -> None:
        await self.server.start()
        for i in range(self.users):
            conn = open_db(self.server.db)
            try:
                code = mint_invite(conn, admin=False, hours=1)
            finally:
                conn.close()
            link = await LinkProxy(self.server.port).start()
            name = f"u{i}"
            account, _ = await accounts.join(self.tmp / name, link.url, code, name, PASSWORD)
            client = Client(name, account, link)
            client.start()
            self.clients.append(client)
        db = sqlite3.connect(self.server.db)
        ids = dict(db.execute("SELECT name, id FROM users").fetchall())
        db.close()
        for c in self.clients:
            c.user = ids[c.name]

    # -- work -----------------------------------------------------------------------------

    async def work(self, client: Client, until: float) -> None:
        rng = random.Random(self.rng.random())
        n = 0
        while time.monotonic() < until:
            await asyncio.sleep(rng.uniform(0.02, 0.3))
            engine = client.engine
            if engine is None:
                continue
            n += 1
            text = f"{client.name}#{n}"
            groups = await engine.db(engine.cache.groups)
            mine = [g for g in groups if g.in_group and g.dm is None]
            others = [g for g in groups if not g.in_group and g.visibility == "open"]
            roll = rng.random()
            moderated = [g for g in mine if g.moderator]
            private = [g for g in groups if not g.in_group and g.visibility == "private"]
            peer = rng.choice([c for c in self.clients if c is not client])
            if roll < 0.05 or not groups:
                vis = rng.choice(["open", "open", "private", "secret"])
                op, group, args = "gcreate", None, {"visibility": vis}
                text = f"g-{text}"  # the group's name (not a message: not checked as one)
            elif roll < 0.11 and others:
                op, group, args, text = "join", rng.choice(others).group, {}, ""
            elif roll < 0.14 and mine:
                op, group, args, text = "leave", rng.choice(mine).group, {}, ""
            elif roll < 0.19 and moderated:
                op, group, args, text = "gadd", rng.choice(moderated).group, {"user": peer.user}, ""
            elif roll < 0.22 and moderated:
                target = rng.choice(moderated).group
                op, group, args, text = "gremove", target, {"user": peer.user}, ""
            elif roll < 0.24 and private:
                op, group, args, text = "greq", rng.choice(private).group, {}, ""
            elif roll < 0.34:
                op, group, args = "dm", None, {"user": peer.user}
            elif mine:
                target = rng.choice(mine)
                op = "post" if rng.random() < 0.2 else "chat"
                group, args = target.group, {}
                if not target.may_write("c" if op == "chat" else "p"):
                    continue
            else:
                continue
            try:
                await engine.submit(op, group, text or None, **args)
            except Exception:  # the engine was stopped under us: not queued
                continue
            self.ops[op] = self.ops.get(op, 0) + 1
            if text and op != "gcreate":
                client.written.append((op, text))

    async def chaos(self, until: float) -> None:
        rng = random.Random(self.rng.random())
        while time.monotonic() < until:
            await asyncio.sleep(rng.uniform(0.3, 1.5))
            roll = rng.random()
            client = rng.choice(self.clients)
            if roll < 0.35:
                client.link.cut()
                kind = "link cut"
            elif roll < 0.55:
                client.link.set_down(True)
                await asyncio.sleep(rng.uniform(0.2, 2.0))
                client.link.set_down(False)
                kind = "link down"
            elif roll < 0.80:
                await client.stop()
                await asyncio.sleep(rng.uniform(0, 0.5))
                client.start()
                kind = "client restart"
            else:
                await self.server.kill()
                await asyncio.sleep(rng.uniform(0, 1.0))
                await self.server.start()
                for c in self.clients:
                    c.link.target_port = self.server.port
                kind = "server SIGKILL"
            self.faults[kind] = self.faults.get(kind, 0) + 1

    async def run(self) -> list[str]:
        await self.setup()
        until = time.monotonic() + self.seconds
        await asyncio.gather(self.chaos(until), *(self.work(c, until) for c in self.clients))
        # Quiescence: every link up, every engine running, everyone caught up.
        for c in self.clients:
            c.link.set_down(False)
            if c.engine is None:
                c.start()
        async with asyncio.timeout(120):
            for c in self.clients:
                assert c.engine is not None
                while True:
                    outbox = await c.engine.db(c.engine.cache.outbox)
                    if not outbox and c.engine.online:
                        break
                    await asyncio.sleep(0.1)
        return self.check()

    # -- checks ---------------------------------------------------------------------------

    def check(self) -> list[str]:
        problems: list[str] = []
        db = sqlite3.connect(self.server.db)
        try:
            for c in self.clients:
                refused = {
                    row[0]: row[1]
                    for row in sqlite3.connect(c.account.profile.cache_path).execute(
                        "SELECT text, error FROM outbox WHERE error IS NOT NULL"
                    )
                }
                last = 0
                for op, text in c.written:
                    rows = db.execute(
                        "SELECT seq FROM events WHERE body = ? AND user = ?", (text, c.user)
                    ).fetchall()
                    if len(rows) > 1:
                        problems.append(f"1: {op} {text!r} stored {len(rows)} times")
                    elif not rows and text not in refused:
                        problems.append(f"1: {op} {text!r} neither stored nor shown refused")
                    elif rows:
                        if rows[0][0] < last:
                            problems.append(
                                f"2: {text!r} stored before a write {c.name} made earlier"
                            )
                        last = rows[0][0]
            for c in self.clients:
                problems.extend(self._same_state(db, c))
                problems.extend(self._nothing_unreadable(db, c))
        finally:
            db.close()
        log = self.server.log.read_text(errors="replace")
        for marker in ("Traceback", "request failed"):
            if marker in log:
                at = log.index(marker)
                problems.append(f"5: server log: {log[at : at + 300]!r}")
        return problems

    def _same_state(self, db: sqlite3.Connection, c: Client) -> list[str]:
        """3: for each group the user is in, the cache holds exactly the server's
        messages, but for the ranges it knows it lacks (holes, fetched on
        demand): nothing missing elsewhere, nothing extra, same text."""
        cache = sqlite3.connect(c.account.profile.cache_path)
        try:
            groups = [g for (g,) in db.execute("SELECT grp FROM members WHERE user = ?", (c.user,))]
            for g in groups:
                server = {
                    seq: (kind, body)
                    for seq, kind, body in db.execute(
                        "SELECT seq, kind, body FROM events WHERE grp = ? AND kind IN ('c', 'p')"
                        " AND deleted = 0",
                        (g,),
                    )
                }
                mine = {
                    seq: (kind, text)
                    for seq, kind, text in cache.execute(
                        "SELECT seq, kind, text FROM messages WHERE grp = ?", (g,)
                    )
                }
                holes = cache.execute(
                    "SELECT kind, lo, hi FROM holes WHERE grp = ?", (g,)
                ).fetchall()
                for seq, row in sorted(mine.items()):
                    if server.get(seq) != row:
                        return [
                            f"3: {c.name}'s cache has #{seq} {row} in group {g}; "
                            f"the server: {server.get(seq)}"
                        ]
                for seq, (kind, body) in sorted(server.items()):
                    known = seq in mine or any(k == kind and lo <= seq <= hi for k, lo, hi in holes)
                    if not known:
                        return [
                            f"3: {c.name}'s cache lacks #{seq} {body!r} of group {g},"
                            " and no hole says so"
                        ]
        finally:
            cache.close()
        return []

    def _nothing_unreadable(self, db: sqlite3.Connection, c: Client) -> list[str]:
        """4 (on what stays): no message of a private or secret group the user is
        not in stays in their cache, and no secret group they are not in is
        listed there."""
        members = {g for (g,) in db.execute("SELECT grp FROM members WHERE user = ?", (c.user,))}
        visibility = dict(db.execute("SELECT id, visibility FROM groups").fetchall())
        cache = sqlite3.connect(c.account.profile.cache_path)
        try:
            for seq, g, text in cache.execute("SELECT seq, grp, text FROM messages"):
                if g not in members and visibility.get(g) != "open":
                    return [
                        f"4: {c.name} keeps #{seq} {text!r} of {visibility.get(g)} group {g},"
                        " which they are not in"
                    ]
            for (g,) in cache.execute("SELECT id FROM groups WHERE known = 1"):
                if g not in members and visibility.get(g) == "secret":
                    return [f"4: {c.name} lists secret group {g}, which they are not in"]
        finally:
            cache.close()
        return []

    async def close(self) -> None:
        for c in self.clients:
            await c.stop()
            await c.link.stop()
        await self.server.stop()


async def soak(seed: int, seconds: float, users: int) -> tuple[list[str], Soak]:
    with tempfile.TemporaryDirectory() as tmp:
        run = Soak(seed, seconds, users, Path(tmp))
        try:
            problems = await run.run()
        finally:
            await run.close()
    return problems, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "big"))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--users", type=int, default=4)
    args = parser.parse_args(argv)
    print(f"soak seed {args.seed}", flush=True)
    problems, run = asyncio.run(soak(args.seed, args.seconds, args.users))
    written = sum(len(c.written) for c in run.clients)
    print(f"operations {run.ops}; texts written {written}; faults {run.faults}")
    for p in problems:
        print("VIOLATION", p)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
