"""One soak: set-up, the users' work and the faults at once, quiescence, checks."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.linkproxy import LinkProxy
from bench.serverproc import ServerProcess
from rse_tui.protocol import ProtocolError
from rse_tui.sync import account as accounts
from rse_tui.sync.cache import Cache
from rse_tui.sync.cache.outbox import shown_text
from rse_tui.sync.engine import Engine
from server.admin import mint_invite, open_db

from . import checks
from .actors import Client, Process
from .tap import Recorder, log_head
from .work import View, draw

PASSWORD = "soak password 1"


async def fill_history(engine: Engine | None) -> None:
    """Fetch every page the cache lacks of the history of each group its user is in."""
    assert engine is not None
    for g in await engine.worker(engine.cache.groups):
        if not g.member:
            continue
        for kind in "cp":
            try:
                while await engine.load_older(g.group, kind, None):
                    pass
            except ProtocolError:  # a private group one is out of: for its members
                pass


#: How long quiescence may take: everyone caught up and every history fetched
#: (over the slow link too), and a new device per user.
QUIESCENCE = 600
#: The slow clients' link: 9.6 kbit/s each way, 600 ms round trip.
SLOW = {"rate_kbit": 9.6, "latency_ms": 600}


@dataclass
class Soak:
    seed: int
    seconds: float
    users: int
    tmp: Path
    slow: int = 1  # how many clients sit behind a 9.6 kbit/s link
    processes: bool = True  # client processes beside the engines (rse chat, rse tail, the app)
    rng: random.Random = field(init=False)
    server: ServerProcess = field(init=False)
    clients: list[Client] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    ops: dict[str, int] = field(default_factory=dict)
    fresh: list[Path] = field(default_factory=list)  # each user's new device's cache

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        # Anonymous votes counted every half second: quiescence waits a second.
        self.server = ServerProcess(
            self.tmp / "rse.db", self.tmp / "server.log", "--rate-limit", "200",
            "--tally-every", "0.5",
        )  # fmt: skip
        os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"

    def count(self, table: dict[str, int], key: str) -> None:
        table[key] = table.get(key, 0) + 1

    async def setup(self) -> None:
        await self.server.start()
        head = log_head(self.server.db)
        for i in range(self.users):
            conn = open_db(self.server.db)
            try:
                code = mint_invite(conn, admin=False, hours=1)
            finally:
                conn.close()
            slow = i >= self.users - self.slow
            link = await LinkProxy(self.server.port, **(SLOW if slow else {})).start()
            name = f"u{i}"
            account, _ = await accounts.join(self.tmp / name, link.url, code, name, PASSWORD)
            client = Client(name, account, link, Recorder(head))
            client.start()
            self.clients.append(client)
        db = sqlite3.connect(self.server.db)
        ids = dict(db.execute("SELECT name, id FROM users").fetchall())
        db.close()
        for c in self.clients:
            c.user = ids[c.name]
        if self.processes and self.users >= 2:
            # u0 also writes through `rse chat` fed by a pipe; u1 has the app open
            # and a `rse tail` beside it (with the engine: three processes on one profile).
            self.clients[0].processes.append(Process(self.clients[0], "chat"))
            self.clients[1].processes.append(Process(self.clients[1], "app"))
            self.clients[1].processes.append(Process(self.clients[1], "tail"))

    # -- work ------------------------------------------------------------------------

    async def work(self, client: Client, until: float) -> None:
        rng = random.Random(self.rng.random())
        others = [c for c in self.clients if c is not client]
        n = 0
        while time.monotonic() < until:
            await asyncio.sleep(rng.uniform(0.02, 0.3))
            engine = client.engine
            if engine is None:
                continue
            n += 1
            groups = await engine.worker(engine.cache.groups)
            view = View(client, others, groups, rng, f"{client.name}#{n}")
            try:
                await self._processes(client, view)
                write = await draw(view)
            except (AttributeError, NameError, TypeError):
                raise  # the soak's own code is wrong: no fault to play through
            except Exception:  # a read refused, or the link went: that is the point
                if rng.random() < 0.5:
                    continue
                write = None
            if write is None:
                self.count(self.ops, "read")
                continue
            try:
                cid = await engine.submit(write)
            except Exception:  # the engine was stopped under us: not queued
                continue
            self.count(self.ops, write.TYPE)
            client.written.append((write.TYPE, shown_text(write) or "", cid))
            target = getattr(write, "target", None)
            if isinstance(target, int):
                client.targets[cid] = target

    async def _processes(self, client: Client, view: View) -> None:
        """Start what was killed; feed the pipe of `rse chat` now and then."""
        writable = [g.name for g in view.mine if g.may_write("c")]
        for proc in client.processes:
            if proc.proc is None:
                if proc.kind == "app":
                    await proc.start()
                elif writable:
                    await proc.start(view.rng.choice(writable))
            elif (
                proc.kind == "chat"
                and view.rng.random() < 0.3
                and await proc.write(f"{client.name}~{view.text}")
            ):
                self.count(self.ops, "rse chat line")

    async def chaos(self, until: float) -> None:
        rng = random.Random(self.rng.random())
        while time.monotonic() < until:
            await asyncio.sleep(rng.uniform(0.3, 1.5))
            roll = rng.random()
            client = rng.choice(self.clients)
            if roll < 0.25:
                client.link.cut()
                kind = "link cut"
            elif roll < 0.38:
                client.link.set_down(True)
                await asyncio.sleep(rng.uniform(0.2, 2.0))
                client.link.set_down(False)
                kind = "link down"
            elif roll < 0.48:
                client.link.stall(rng.uniform(0.5, 3.0))
                kind = "link stall"
            elif roll < 0.63:
                await client.stop()
                await asyncio.sleep(rng.uniform(0, 0.5))
                client.start()
                kind = "engine restart"
            elif roll < 0.85:
                procs = [p for c in self.clients for p in c.processes if p.proc is not None]
                if not procs:
                    continue
                proc = rng.choice(procs)
                await proc.kill()
                kind = f"SIGKILL {proc.kind}"
            else:
                await self.server.kill()
                await asyncio.sleep(rng.uniform(0, 1.0))
                await self.server.start()
                for c in self.clients:
                    c.link.target_port = self.server.port
                kind = "server SIGKILL"
            self.count(self.faults, kind)

    async def run(self) -> list[str]:
        await self.setup()
        until = time.monotonic() + self.seconds
        await asyncio.gather(self.chaos(until), *(self.work(c, until) for c in self.clients))
        await self.quiesce()
        return self.check()

    def check(self) -> list[str]:
        """Every check over what this run left (see checks.py)."""
        return checks.run_all(self.server.db, self.server.log, self.clients, self.fresh)

    async def quiesce(self) -> None:
        """Every link up, every engine running, every process done, everyone caught up."""
        for c in self.clients:
            c.link.set_down(False)
            c.link.stalled_until = 0
            if c.engine is None:
                c.start()
        await asyncio.gather(*(p.finish() for c in self.clients for p in c.processes))
        async with asyncio.timeout(QUIESCENCE):
            for c in self.clients:
                assert c.engine is not None
                while True:
                    outbox = await c.engine.worker(c.engine.cache.outbox)
                    if not outbox and c.engine.online:
                        break
                    await asyncio.sleep(0.1)
            await asyncio.sleep(1)  # the last pushes of others' last writes
            for c in self.clients:
                assert c.engine is not None
                await c.engine.wait_idle()
            # Every history each cache lacks, fetched as a reader scrolling up
            # would, so that check 3 compares whole histories; and a brand-new
            # device of each user, to compare with.
            for c in self.clients:
                await fill_history(c.engine)
            self.fresh = [await self.new_device(c) for c in self.clients]

    async def new_device(self, c: Client) -> Path:
        """A new device of ``c``'s user (a login), synced and with every history."""
        account, _ = await accounts.login(self.tmp / f"{c.name}-new", c.link.url, c.name, PASSWORD)
        engine = Engine(Cache(account.profile.cache_path), url=c.link.url, token=account.token)
        task = asyncio.get_running_loop().create_task(engine.run())
        try:
            await engine.wait_idle()
            await fill_history(engine)
        finally:
            await engine.stop()
            await task
            engine.close()
        return account.profile.cache_path

    async def close(self) -> None:
        for c in self.clients:
            for p in c.processes:
                await p.kill()
            await c.stop()
            await c.link.stop()
        await self.server.stop()
