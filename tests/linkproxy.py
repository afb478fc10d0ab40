"""A bad link for tests, in-process: a TCP proxy with latency, cuts and outages.

The team's slowlink tool (../shared/tools/slowlink.py) plays the same part for
benchmarks; the tests use this small one so that they run anywhere, CI
included, with no file from outside the repository.
"""

from __future__ import annotations

import asyncio
import contextlib


class LinkProxy:
    """Forwards 127.0.0.1:port to a target, each way delayed by latency / 2."""

    def __init__(self, target_port: int, *, latency_ms: float = 0) -> None:
        self.target_port = target_port
        self.delay = latency_ms / 2000
        self.down = False
        self.connections = 0
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> LinkProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def cut(self) -> None:
        """Drop every open connection at once, data in flight included."""
        for writer in list(self._writers):
            writer.transport.abort()
            self.cuts += 1
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()

    def set_down(self, down: bool) -> None:
        """While down, new connections are refused and open ones are cut."""
        self.down = down
        if down:
            self.cut()

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pumps:
            task.cancel()
            self._tasks.discard(task)
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.transport.abort()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        pending: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await pending.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)  # the link's latency, by design
                dst.write(chunk)
                await dst.drain()
                pending.task_done()

        sender = asyncio.create_task(deliver())
        try:
            while chunk := await src.read(65536):
                pending.put_nowait((loop.time() + self.delay, chunk))
            await pending.join()  # the last bytes still cross the link
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
