"""Shared test helpers: fast server settings, invitations, clients, push queues."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rse_tui.protocol import AuthOk, Batch, ErrorCode, ProtocolError, Redeem, ServerFrame
from rse_tui.sync.connection import Connection
from server.admin import mint_invite, open_db
from server.app import RseServer
from server.auth import ScryptParams
from server.config import Limits, ServerConfig

T = TypeVar("T")
PASSWORD = "correct horse battery"
WAIT = 10.0  # seconds a test waits for something that should come at once


def config(db_path: Path, **limits: Any) -> ServerConfig:
    """Server settings for tests: port 0, cheap scrypt, generous rates."""
    base = Limits(rate_burst=1000, rate_per_second=1000, anon_burst=1000, anon_per_second=1000)
    return ServerConfig(
        db_path=db_path,
        port=0,
        scrypt=ScryptParams(n=2**10, r=8, p=1),
        limits=dataclasses.replace(base, **limits),
        synchronous="NORMAL",
        tally_every=0.05,
    )


def invite(db_path: Path, *, admin: bool = False, hours: float = 1.0) -> str:
    conn = open_db(db_path)
    try:
        return mint_invite(conn, admin=admin, hours=hours)
    finally:
        conn.close()


class Pushes:
    """Collects what a connection's server pushes, in order.

    ``next()`` consumes frames one by one; ``until()`` waits, without
    consuming, for a frame that satisfies a predicate; ``frames`` is the log.
    """

    def __init__(self) -> None:
        self.frames: list[ServerFrame] = []
        self._read = 0
        self._arrived = asyncio.Event()

    def __call__(self, frame: ServerFrame) -> None:
        self.frames.append(frame)
        self._arrived.set()

    async def _arrival(self) -> None:
        self._arrived.clear()
        await self._arrived.wait()

    async def next(self, kind: type[T] | None = None, within: float = WAIT) -> T:
        """The next frame (of ``kind``); looking for an event, a Batch (events
        committed together reach a client in one frame) is opened in place."""
        async with asyncio.timeout(within):
            while True:
                while self._read < len(self.frames):
                    frame = self.frames[self._read]
                    if isinstance(frame, Batch) and kind is not None and kind is not Batch:
                        self.frames[self._read : self._read + 1] = frame.events
                        continue
                    self._read += 1
                    if kind is None or isinstance(frame, kind):
                        return frame  # type: ignore[return-value]
                await self._arrival()

    async def until(self, predicate: Callable[[Any], bool], within: float = WAIT) -> Any:
        async with asyncio.timeout(within):
            seen = 0
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        return frame
                seen = len(self.frames)
                await self._arrival()

    def drain(self) -> list[ServerFrame]:
        items = self.frames[self._read :]
        self._read = len(self.frames)
        return items


_names = itertools.count(1)


@dataclasses.dataclass
class Client:
    conn: Connection
    auth: AuthOk
    pushes: Pushes

    @property
    def user(self) -> int:
        return self.auth.user

    async def close(self) -> None:
        await self.conn.close()


async def new_user(server: RseServer, name: str | None = None) -> Client:
    """Redeem a fresh invitation on a new connection."""
    pushes = Pushes()
    conn = await Connection.open(server.url, on_push=pushes)
    name = name or f"user{next(_names)}"
    auth = await conn.call(Redeem, code=invite(server.config.db_path), name=name, password=PASSWORD)
    return Client(conn, auth, pushes)


async def reconnect(server: RseServer, token: str) -> tuple[Connection, Pushes]:
    pushes = Pushes()
    conn = await Connection.open(server.url, token=token, on_push=pushes)
    return conn, pushes


class ServerProcess:
    """``rse-server serve`` in a child process, as an operator runs it."""

    def __init__(self, db_path: Path, *args: str, open_files: int | None = None) -> None:
        self.db_path = db_path
        self.args = args
        self.open_files = open_files  # its limit on open files, soft and hard
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""
        self.output: list[str] = []

    async def start(self) -> ServerProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--db",
            str(self.db_path),
            "--port",
            "0",
            *self.args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=None if self.open_files is None else self._limit_files,
        )
        assert self.proc.stdout is not None
        async with asyncio.timeout(30):
            while True:
                line = (await self.proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError("server exited: " + "".join(self.output))
                self.output.append(line)
                if "listening on " in line:
                    self.url = line.split("listening on ", 1)[1].split()[0]
                    return self

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].strip("/"))

    def _limit_files(self) -> None:
        import resource

        assert self.open_files is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))

    async def wait(self) -> int:
        assert self.proc is not None
        rest = await self.proc.stdout.read() if self.proc.stdout else b""
        self.output.append(rest.decode())
        return await self.proc.wait()

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()


async def refused(coro: Any, code: ErrorCode | None = None) -> ProtocolError:
    """The error a request is refused with (and, with ``code``, that it is that one)."""
    try:
        await coro
    except ProtocolError as exc:
        assert code is None or exc.code is code, exc
        return exc
    raise AssertionError("the request was not refused")


async def group_named(conn: Connection, name: str) -> int:
    """The id of the group called ``name`` (ids are random: look them up)."""
    from rse_tui.protocol import ListGroups

    groups = (await conn.call(ListGroups)).groups
    return next(g.group for g in groups if g.name == name)
