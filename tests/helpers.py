"""Shared test helpers: fast server settings, invitations, clients, push queues."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from pathlib import Path
from typing import Any, TypeVar

from rse_tui.protocol import AuthOk, Redeem, ServerFrame
from rse_tui.sync.connection import Connection
from server.app import RseServer
from server.auth import ScryptParams
from server.cli import mint_invite, open_db
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
    )


def invite(db_path: Path, *, admin: bool = False, hours: float = 1.0) -> str:
    conn = open_db(db_path)
    try:
        return mint_invite(conn, admin=admin, hours=hours)
    finally:
        conn.close()


class Pushes:
    """Collects what a connection's server pushes; ``next()`` waits for one."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ServerFrame] = asyncio.Queue()

    def __call__(self, frame: ServerFrame) -> None:
        self.queue.put_nowait(frame)

    async def next(self, kind: type[T] | None = None, timeout: float = WAIT) -> T:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.queue.get()
                if kind is None or isinstance(frame, kind):
                    return frame  # type: ignore[return-value]

    def drain(self) -> list[ServerFrame]:
        items = []
        while not self.queue.empty():
            items.append(self.queue.get_nowait())
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
