"""``rse-server serve`` as a child process on a database file, on a free port.

The benchmarks and the soak run the real server in its own process, so that
its CPU is its own and it can be killed (SIGKILL) and started again on the
same file.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import IO


async def spawn(
    db: Path, *args: str, stderr: int | IO[bytes] | None = None
) -> tuple[asyncio.subprocess.Process, int, list[str]]:
    """Start the server; return it, its port, and what it printed until listening."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "serve",
        "--db",
        str(db),
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )
    assert proc.stdout is not None
    said: list[str] = []
    while True:
        line = (await proc.stdout.readline()).decode()
        if not line:
            raise RuntimeError("rse-server did not start:\n" + "".join(said))
        said.append(line)
        if "listening on " in line:
            address = line.split("listening on ")[1].split()[0]
            return proc, int(address.rsplit(":", 1)[1].strip("/")), said


class ServerProcess:
    """The server on one file, its output appended to ``log``; killed and
    started again at will (a new port each time)."""

    def __init__(self, db: Path, log: Path, *args: str) -> None:
        self.db = db
        self.log = log
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self._drains: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc, self.port, said = await spawn(self.db, *self.args, stderr=out)
        with self.log.open("a") as f:
            f.writelines(said)
        task = asyncio.get_running_loop().create_task(self._drain(self.proc))
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def _drain(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            with self.log.open("ab") as f:
                f.write(line)

    async def kill(self) -> None:
        """SIGKILL: no goodbye, no flush, no clean close of the file."""
        await self._end(signal.SIGKILL)

    async def stop(self) -> None:
        await self._end(signal.SIGTERM)

    async def _end(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(sig)
            await self.proc.wait()
        self.proc = None
