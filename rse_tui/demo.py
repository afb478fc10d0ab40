"""``rse demo``: a ready platform on this machine, and the app open on it.

Starts the server in a background thread (its own event loop) on
127.0.0.1, on the port it had last time when it is free (else a free one),
with a SQLite file in the rse data directory, seeded with demo content the
first time; logs in a demo user (kept as the "demo"
profile) and opens the TUI. Everything stops when the app exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from server import demo as demo_content
from server.admin import mint_invite, open_db
from server.app import RseServer
from server.config import ServerConfig

from .protocol import AuthOk, ListGroups, Login, Redeem
from .sync import account as accounts
from .sync.connection import Connection
from .sync.profile import Profile, private_dir
from .typeahead import Typeahead

PROFILE = "demo"


class ServerThread:
    """An RseServer running on its own loop in a daemon thread."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.url = ""
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="rse-demo-server", daemon=True)

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            server = RseServer(self.config)
            await server.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self.url = server.url
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await server.stop()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@contextlib.contextmanager
def demo_server(root: Path, *, reset: bool = False) -> Iterator[ServerThread]:
    directory = private_dir(root / "demo-server")
    db_path = directory / "rse.db"
    if reset:
        for suffix in ("", "-wal", "-shm"):
            (directory / f"rse.db{suffix}").unlink(missing_ok=True)
    conn = open_db(db_path)
    try:
        demo_content.seed(conn, int(time.time()))
    finally:
        conn.close()
    thread = _start_on_last_port(db_path, directory / "port")
    try:
        yield thread
    finally:
        thread.stop()


def _start_on_last_port(db_path: Path, port_file: Path) -> ServerThread:
    """The demo server on the port it had last time (the profiles of those who
    joined it keep working across runs); a free one the first time. A port
    taken meanwhile is said, not silently changed: the profiles would follow
    the new one, and those of the people who joined would not."""
    last = None
    with contextlib.suppress(OSError, ValueError):
        last = int(port_file.read_text())
    if last is not None and 1024 <= last <= 65535:
        try:
            return ServerThread(ServerConfig(db_path=db_path, port=last)).start()
        except OSError as exc:
            raise DemoRunning(
                f"the demo server's port {last} is taken ({exc.strerror or exc}): perhaps an"
                " rse-server already serves this demo there (then 'rse' opens the app on it);"
                f" else free the port, or delete {port_file} to take a new one (those who"
                " joined the demo join it again)"
            ) from None
    thread = ServerThread(ServerConfig(db_path=db_path, port=0)).start()
    port_file.write_text(thread.url.rsplit(":", 1)[1].strip("/"))
    return thread


async def _demo_login(root: Path, url: str, db_path: Path) -> accounts.Account:
    """Log in as the demo user, creating it on first use."""
    profile = Profile(root, PROFILE)
    password_file = profile.path / "demo-password"
    name = "".join(c for c in getpass.getuser() if c.isalnum())[:20] or "you"
    conn = await Connection.open(url)
    had_password = password_file.exists()
    first: int | None = None
    try:
        auth: AuthOk
        if had_password:
            auth = await conn.call(Login, name=name, password=password_file.read_text())
        else:
            password = secrets.token_urlsafe(18)
            code_conn = open_db(db_path)
            try:
                # The invitation places the demo user in every demo group.
                groups = [
                    r[0]
                    for r in code_conn.execute(
                        "SELECT id FROM groups WHERE dm_key IS NULL AND visibility != 'secret'"
                    )
                ]
                code = mint_invite(code_conn, admin=True, hours=1, groups=groups)
            finally:
                code_conn.close()
            auth = await conn.call(Redeem, code=code, name=name, password=password)
            listing = (await conn.call(ListGroups)).groups
            first = next((g.group for g in listing if g.name == "General"), None)
            profile.create()
            fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(password)
    finally:
        await conn.close()
    account, _ = accounts.save(root, url, None, auth, key=PROFILE)
    if not had_password and first is not None:
        cache = account.open_cache()
        try:
            with cache.guarded():
                cache.set("ui.group", first)  # open on the lively group the first time
        finally:
            cache.close()
    # The demo server keeps its port; the profile follows it when it takes a new one.
    return account


class DemoRunning(Exception):
    """Another ``rse demo`` runs on this data directory."""


@contextlib.contextmanager
def _one_demo(root: Path) -> Iterator[None]:
    """Hold the data directory's demo lock: two demos on one directory would
    share (or, with --reset, delete under each other) its server and cache."""
    import fcntl

    private_dir(root)
    fd = os.open(root / "demo.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DemoRunning(
                f"a demo is already running on {root}: quit it first (or set RSE_HOME)"
            ) from None
        yield
    finally:
        os.close(fd)  # and the lock with it


def run_demo(root: Path, *, reset: bool = False, typeahead: Typeahead | None = None) -> int:
    from .ui.app import run_tui

    with _one_demo(root):
        if reset:
            shutil.rmtree(root / "profiles" / PROFILE, ignore_errors=True)
        with demo_server(root, reset=reset) as server:
            account = asyncio.run(_demo_login(root, server.url, server.config.db_path))
            return run_tui(account, typeahead=typeahead)
