"""A bad link, in-process: a TCP proxy with latency, a rate, stalls, cuts and
outages, for the tests and the soak (bench/soak/). It needs no file from
outside the repository, so it runs anywhere, CI included.
"""

from __future__ import annotations

import asyncio
import contextlib


class LinkProxy:
    """Forwards 127.0.0.1:port to a target, each way delayed by latency / 2 and,
    with ``rate_kbit``, paced to that many kilobits a second each way."""

    #: What a rated link holds in flight each way before its sender must wait
    #: (a modem's buffer): beyond it, TCP pushes back on the sender.
    BUFFER = 4096

    def __init__(self, target_port: int, *, latency_ms: float = 0, rate_kbit: float = 0) -> None:
        self.target_port = target_port
        self.delay = latency_ms / 2000
        self.rate = rate_kbit * 1000 / 8  # bytes a second each way; 0: unlimited
        self.stalled_until = 0.0
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

    def stall(self, seconds: float) -> None:
        """Pass nothing either way for ``seconds``, connections kept open (a
        congested or flapping link that does not reset)."""
        self.stalled_until = asyncio.get_running_loop().time() + seconds

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
        pending: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        free_at = 0.0  # when the link has sent what it was given (with a rate)
        queued = 0  # bytes taken in, not yet sent on
        room = asyncio.Event()  # a rated link holds BUFFER bytes: the sender waits for room

        async def deliver() -> None:
            nonlocal free_at, queued
            while (item := await pending.get()) is not None:
                due, chunk = item
                if self.rate:
                    start = max(loop.time(), free_at)
                    free_at = start + len(chunk) / self.rate
                    due = max(due, free_at)
                # Latency, rate or a stall, by design (a stall may grow meanwhile).
                while (wait := max(due, self.stalled_until) - loop.time()) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(wait)
                dst.write(chunk)
                await dst.drain()
                queued -= len(chunk)
                room.set()

        sender = asyncio.create_task(deliver())
        try:
            while chunk := await src.read(self.BUFFER if self.rate else 65536):
                pending.put_nowait((loop.time() + self.delay, chunk))
                queued += len(chunk)
                while self.rate and queued >= self.BUFFER and not sender.done():
                    room.clear()
                    await room.wait()
            pending.put_nowait(None)
            await sender  # the last bytes still cross the link
        except ConnectionError:  # either end went: so does the link
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
