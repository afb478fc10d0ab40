"""One connected client's socket: its writes, back-pressure, compressor and ping.

A frame for a :class:`Peer` is written to its socket at once while the socket
keeps up (the common case: no task switch, no timer, no copy per recipient
beyond the frame itself). When the socket's write buffer is full, frames wait
in the peer's bounded queue and one short-lived sender task writes them out,
under ``send_timeout`` a frame; a client that stops reading can only fill its
own queue, and is cut off when the queue is full (in frames, or in bytes of
live events) or a write stalls past the timeout. (The library's
``broadcast()`` buffers without bound for such a client.) The kernel's share
is bounded too: it takes at most ``kernel_unsent`` bytes beyond those in
flight (``TCP_NOTSENT_LOWAT``), a socket that falls behind gets a small send
buffer, and a client cut off is reset, so that the kernel drops what it held
at once instead of trying to deliver it for minutes. Being cut off loses
nothing: the client resumes from its last sequence number.

Who receives which event is the hub's (``server.hub``); a peer only delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket as _socket
import struct
from collections import deque
from collections.abc import Awaitable
from typing import Any, Protocol

from websockets.exceptions import ConnectionClosed
from websockets.protocol import Protocol as WsProtocol
from websockets.protocol import State

from rse_tui.protocol import encode_batch

from .deflate import LeanDeflate

log = logging.getLogger(__name__)

#: Close code sent when the server ends a connection on purpose (RFC 6455 range
#: 4000-4999 is for applications).
CLOSE_REVOKED = 4001
CLOSE_TOO_SLOW = 4008
#: Bytes waiting in a socket's write buffer past which frames queue instead
#: (the library's own high-water mark).
DIRECT_LIMIT = 32 * 1024
#: SO_LINGER on, 0 s: close() resets the connection and frees its buffers.
_RESET = struct.pack("ii", 1, 0)
_NOTSENT_LOWAT = getattr(_socket, "TCP_NOTSENT_LOWAT", None)


def _set_option(
    transport: asyncio.BaseTransport, level: int, name: int, value: int | bytes
) -> None:
    """Set an option of a transport's socket, if there is one (and it takes it)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(level, name, value)


class Socket(Protocol):
    """The part of a websockets connection a Peer uses."""

    async def send(self, message: Any, *, text: bool | None = None) -> None: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...
    def send_data(self) -> None: ...
    async def ping(self) -> Awaitable[float]: ...

    @property
    def protocol(self) -> WsProtocol: ...

    @property
    def transport(self) -> asyncio.Transport: ...


class _Close:
    """Queued after the last frame when the connection must end cleanly."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class _Asked:
    """A queued frame the client asked for (a reply): not counted in bytes."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class Peer:
    """One connected client: its identity, and the frames on their way to it."""

    __slots__ = (
        "_behind",
        "_deflate",
        "_gone",
        "_held",
        "_protocol",
        "_pushed",
        "_pushed_limit",
        "_queue",
        "_queue_size",
        "_send_timeout",
        "_slow_sndbuf",
        "_task",
        "_transport",
        "_wrote",
        "evicted",
        "live",
        "name",
        "revoked",
        "socket",
        "token_id",
        "user",
    )

    def __init__(
        self,
        socket: Socket,
        *,
        queue_size: int,
        send_timeout: float,
        queue_bytes: int,
        slow_sndbuf: int = 0,
        kernel_unsent: int = 0,
    ) -> None:
        self.socket = socket
        self.user: int | None = None
        self.name: str | None = None
        self.token_id: int | None = None
        #: False until the first sync: live events before that are not sent.
        self.live = False
        self.evicted = False
        #: Its token was revoked (or logged out): nothing more it sends is done.
        self.revoked = False
        #: Frames waiting for a slow socket; made when first needed.
        self._queue: deque[bytes | _Asked | _Close] | None = None
        self._held: list[tuple[int, bytes]] | None = None
        self._queue_size = queue_size
        self._send_timeout = send_timeout
        #: Bytes of live events (bare ``bytes`` items) in the queue, and their bound.
        self._pushed = 0
        self._pushed_limit = queue_bytes
        self._slow_sndbuf = slow_sndbuf
        #: Set the first time the socket fell behind (its send buffer is shrunk then).
        self._behind = False
        self._task: asyncio.Task[None] | None = None
        self._gone = False
        self._transport = socket.transport
        self._protocol = socket.protocol
        extensions = getattr(socket.protocol, "extensions", ())
        self._deflate = next((e for e in extensions if isinstance(e, LeanDeflate)), None)
        #: Written to since the last idle sweep.
        self._wrote = False
        if kernel_unsent and _NOTSENT_LOWAT is not None:
            _set_option(self._transport, _socket.IPPROTO_TCP, _NOTSENT_LOWAT, kernel_unsent)

    @property
    def ended(self) -> bool:
        """True once the connection is over, whoever ended it."""
        return self._gone or self.evicted

    async def drained(self) -> None:
        """Until what waits for this client is written out (at once when nothing
        waits). The server reads the client's next request only then: a client
        that does not read its replies stops being read, so it cannot pile up
        replies the server must hold (the sender's own timeout still cuts it off)."""
        task = self._task
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await asyncio.shield(task)

    @property
    def closing(self) -> bool:
        """True once the link is closing or closed (before the connection's own
        clean-up has run): nothing more should be done for it."""
        return self.ended or self._protocol.state is not State.OPEN

    async def stop(self) -> None:
        self._gone = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def send(self, frame: str | bytes) -> None:
        """Write one frame the client asked for (a reply) now, or queue it; a
        client too far behind is cut off."""
        if self.evicted or self._gone:
            return
        data = frame.encode() if isinstance(frame, str) else frame
        if self._task is None and self._write_now(data):
            return
        self._enqueue(_Asked(data))

    def _push(self, data: bytes) -> None:
        """Write one frame of live events now, or queue it (counted in bytes)."""
        if self.evicted or self._gone:
            return
        if self._task is None and self._write_now(data):
            return
        self._enqueue(data)

    def close_after_flush(self, code: int, reason: str) -> None:
        if not self.evicted and not self._gone:
            self._enqueue(_Close(code, reason))

    def deliver(self, seq: int, data: bytes) -> None:
        """Send one live event, or hold it while a catch-up is being read.

        The fan-out's hot path: one call per recipient, straight to the socket."""
        if not self.live or self.evicted or self._gone:
            return
        if self._held is not None:
            self.deliver_all([(seq, data)])
        elif self._task is not None or not self._write_now(data):
            self._enqueue(data)

    def deliver_all(self, items: list[tuple[int, bytes]]) -> None:
        """Send live events (one frame), or hold them while a catch-up is being read."""
        if not self.live or self.evicted:
            return
        if self._held is not None:
            if len(self._held) + len(items) > self._queue_size:
                self.evict("too many events during catch-up")
                return
            self._held.extend(items)
            return
        if len(items) == 1:
            self._push(items[0][1])
        else:
            self._push(encode_batch([data for _, data in items]))

    def hold(self) -> None:
        """Start buffering live events: a catch-up is about to be read."""
        self.live = True
        self._held = []

    def release(self, head: int) -> None:
        """The catch-up covered events up to ``head``: send the newer held ones."""
        held, self._held = self._held or [], None
        for seq, data in held:
            if seq > head:
                self._push(data)

    def evict(self, why: str) -> None:
        if self.evicted:
            return
        self.evicted = True
        log.info("cutting off user %s: %s", self.user, why)
        # A client that does not read will not complete a closing handshake;
        # and after a plain close the kernel would keep what it holds for it,
        # probing a closed window for minutes. A reset frees it at once.
        _set_option(self._transport, _socket.SOL_SOCKET, _socket.SO_LINGER, _RESET)
        self._transport.abort()

    def _write_now(self, data: bytes) -> bool:
        """Write a text frame straight to a socket that keeps up; False if it does not.

        This runs once per recipient of every event: it is kept short."""
        transport = self._transport
        if (
            self._protocol.state is not State.OPEN
            or transport.get_write_buffer_size() >= DIRECT_LIMIT
        ):
            return False
        if self._deflate is not None:
            transport.write(self._deflate.text_frame(data))
        else:
            ws = self.socket
            ws.protocol.send_text(data)
            ws.send_data()
        self._wrote = True
        return True

    def sweep(self) -> bool:
        """Called now and then: a peer written to since the last call keeps its
        compressor; a quiet one gives it back (a fresh one is made when needed).
        True when a compressor was given back."""
        if self._wrote:
            self._wrote = False
        elif self._deflate is not None and self._task is None and self._deflate.holds_compressor:
            self._deflate.release()
            return True
        return False

    async def ping(self) -> Awaitable[float] | None:
        """Send a keepalive ping and return what its pong resolves, unless the
        socket is busy or closing (then the send timeout, or the close, is
        already watching it)."""
        if (
            self._gone
            or self.evicted
            or self._protocol.state is not State.OPEN
            or self._transport.get_write_buffer_size() >= DIRECT_LIMIT
        ):
            return None
        return await self.socket.ping()

    def _enqueue(self, item: bytes | _Asked | _Close) -> None:
        """Queue a frame: live events as bare bytes, counted against the byte
        bound; replies (``_Asked``) only against the frame count, as a catch-up
        the client asked for may be several MiB."""
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        if len(queue) >= self._queue_size:
            self.evict("send queue full")
            return
        if type(item) is bytes:
            self._pushed += len(item)
            if self._pushed > self._pushed_limit:
                self.evict(f"over {self._pushed_limit} bytes of events waiting")
                return
        queue.append(item)
        if self._task is None:
            if not self._behind and self._transport.get_write_buffer_size() >= DIRECT_LIMIT:
                self._fell_behind()
            self._task = asyncio.create_task(self._sender(), name="rse-peer-sender")

    def _fell_behind(self) -> None:
        """The socket stopped keeping up (once per peer): from now on its kernel
        send buffer is ``slow_sndbuf`` (Linux doubles it), not the autotuned
        megabytes. What the kernel holds already stays until it is read."""
        self._behind = True
        if self._slow_sndbuf:
            _set_option(self._transport, _socket.SOL_SOCKET, _socket.SO_SNDBUF, self._slow_sndbuf)

    async def _sender(self) -> None:
        """Write out the queue, waiting on the socket; end when it is empty."""
        queue = self._queue
        assert queue is not None
        try:
            while queue:
                item = queue.popleft()
                if isinstance(item, _Close):
                    self._gone = True
                    await self.socket.close(item.code, item.reason)
                    return
                if isinstance(item, _Asked):
                    data = item.data
                else:
                    data = item
                    self._pushed -= len(data)
                self._wrote = True
                try:
                    async with asyncio.timeout(self._send_timeout):
                        await self.socket.send(data, text=True)
                except TimeoutError:
                    self.evict("stopped reading")
                    return
        except ConnectionClosed:
            self._gone = True
        finally:
            self._task = None
            self._queue = None
            self._pushed = 0
