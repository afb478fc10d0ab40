"""The soak's clients: the sync engine in this process (its frames tapped), and
real client processes on the same profile, killed with SIGKILL at will: a
``rse chat`` fed by a pipe, a ``rse tail``, and the app itself in a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import signal
import struct
import sys
import termios
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.linkproxy import LinkProxy
from rse_tui.sync import account as accounts
from rse_tui.sync.cache import Cache
from rse_tui.sync.engine import Backoff, Engine

from .tap import Recorder

#: How long a process may take to end once told (delivering what it queued).
FINISH_WITHIN = 120.0
#: A line of ``rse tail``: #SEQ TIME GROUP AUTHOR: TEXT
TAIL_LINE = re.compile(r"^#(\d+) \S+ \S+ (\S+): (.*)$")


@dataclass
class Client:
    """One user: their profile, their link, and the engine (the app's core) on it."""

    name: str
    account: accounts.Account
    link: LinkProxy
    recorder: Recorder
    user: int = 0
    engine: Engine | None = None
    task: asyncio.Task[None] | None = None
    #: (op, text, cid) of the messages this engine queued, in the order it queued them.
    written: list[tuple[str, str, str]] = field(default_factory=list)
    #: The message each write about one names (a vote's poll...), by write id.
    targets: dict[str, int] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    @property
    def home(self) -> Path:
        """The data directory the profile lives in ($RSE_HOME for its processes)."""
        return self.account.profile.root

    def start(self) -> None:
        self.engine = Engine(
            Cache(self.account.profile.cache_path),
            url=self.link.url,
            token=self.account.token,
            backoff=Backoff(first=0.05, cap=0.5),
            open_timeout=5,
            connect=self.recorder.connect(),
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
class Life:
    """One run of a client process, from start to SIGKILL or its own end."""

    args: tuple[str, ...]
    lines_in: list[str] = field(default_factory=list)  # written to its standard input
    lines_out: list[str] = field(default_factory=list)  # read from its standard output
    lines_err: list[str] = field(default_factory=list)  # and from its standard error
    killed: bool = False
    code: int | None = None


class Process:
    """A real client process on a user's profile, started again after each kill."""

    def __init__(self, client: Client, kind: str) -> None:
        self.client = client
        self.kind = kind  # "chat", "tail" or "app"
        self.proc: asyncio.subprocess.Process | None = None
        self.lives: list[Life] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._pty: int | None = None

    @property
    def life(self) -> Life | None:
        return self.lives[-1] if self.lives and self.proc is not None else None

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "RSE_HOME": str(self.client.home),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        }
        env.pop("NO_COLOR", None)
        return env

    async def start(self, *args: str) -> None:
        life = Life(args)
        self.lives.append(life)
        if self.kind == "app":
            self.proc = await self._in_terminal()
        else:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "rse_tui.cli",
                self.kind,
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env(),
            )
            assert self.proc.stdout is not None and self.proc.stderr is not None
            self._spawn(self._read(self.proc.stdout, life.lines_out))
            self._spawn(self._read(self.proc.stderr, life.lines_err))
        self._spawn(self._reap(self.proc, life))

    async def _in_terminal(self) -> asyncio.subprocess.Process:
        """The app, full screen in a pseudo-terminal of 80x24 (its screen is drained, unread)."""
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = {**self.env(), "TERM": "xterm-256color"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "rse_tui.cli",
            stdin=slave,
            stdout=slave,
            stderr=slave,  # where Textual draws
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        os.set_blocking(master, False)
        loop = asyncio.get_running_loop()

        screen = self.lives[-1].lines_out

        def drain() -> None:
            """Read the screen as it is drawn; keep the end (a crash prints there)."""
            with contextlib.suppress(OSError):
                while data := os.read(master, 65536):
                    screen.append(data.decode("utf-8", "replace"))
                    del screen[:-64]

        loop.add_reader(master, drain)
        self._pty = master
        return proc

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read(self, stream: asyncio.StreamReader, into: list[str]) -> None:
        while line := await stream.readline():
            into.append(line.decode("utf-8", "replace").rstrip("\n"))

    async def _reap(self, proc: asyncio.subprocess.Process, life: Life) -> None:
        life.code = await proc.wait()

    async def write(self, line: str) -> bool:
        """A line into the process's standard input; False if it is not running."""
        proc, life = self.proc, self.life
        if proc is None or life is None or proc.stdin is None or proc.returncode is not None:
            return False
        try:
            proc.stdin.write(line.encode() + b"\n")
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return False
        life.lines_in.append(line)
        return True

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
            self.lives[-1].killed = True
        self._close_pty()
        self.proc = None

    async def finish(self) -> None:
        """End of input (or SIGTERM for the tail and the app); wait for the end."""
        proc = self.proc
        if proc is None:
            return
        if self.kind == "chat" and proc.stdin is not None:
            proc.stdin.close()
        elif proc.returncode is None:
            proc.terminate()
        try:
            async with asyncio.timeout(FINISH_WITHIN):
                await proc.wait()
        except TimeoutError:
            await self.kill()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._close_pty()
        self.proc = None

    def _close_pty(self) -> None:
        if self._pty is not None:
            asyncio.get_running_loop().remove_reader(self._pty)
            os.close(self._pty)
            self._pty = None
