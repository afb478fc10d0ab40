"""One WebSocket connection to an rse server: requests, replies and pushes.

``Connection.open()`` connects (verifying TLS against the system store or a
given CA / pinned certificate file) and sends ``hello``. ``call()`` sends a
request and awaits its typed reply, raising ProtocolError for an ``err``
frame. Everything the server pushes (events, sync batches, gap markers,
errors that answer no request) goes to the ``on_push`` callback, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import ssl

    from websockets.asyncio.client import ClientConnection

from rse_tui.protocol import (
    PROTOCOL_VERSION,
    ErrorCode,
    ErrorFrame,
    Hello,
    ProtocolError,
    Reply,
    Request,
    ServerFrame,
    SyncDone,
    Welcome,
    decode_server,
    encode,
)

log = logging.getLogger(__name__)
Q = TypeVar("Q", bound=Request)
Push = Callable[[ServerFrame], None]


class Traffic:
    """Bytes on the wire (after compression, before TLS) for one connection."""

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0


class _CountingTransport:
    """Wraps a transport to count what is written through it."""

    def __init__(self, inner: asyncio.Transport, traffic: Traffic) -> None:
        self._inner = inner
        self._traffic = traffic

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._traffic.sent += len(data)
        self._inner.write(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _counting(traffic: Traffic) -> type[ClientConnection]:
    from websockets.asyncio.client import ClientConnection

    class CountingConnection(ClientConnection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            super().connection_made(_CountingTransport(transport, traffic))  # type: ignore[arg-type]

        def data_received(self, data: bytes) -> None:
            traffic.received += len(data)
            super().data_received(data)

    return CountingConnection


class ConnectionLost(Exception):
    """The link dropped before the reply came; the request may be resent."""


class BadAddress(ValueError):
    """A server address that cannot work: not ws:// or wss://, no host, a bad port."""


def check_url(url: str) -> str:
    """``url`` if it can name an rse server, else BadAddress saying what is wrong."""
    form = "ws://HOST:PORT/ or wss://HOST:PORT/"
    try:
        url.encode("utf-8")
        parts = urlsplit(url)
        port = parts.port
    except UnicodeEncodeError:
        raise BadAddress(f"the server address is not valid text: use {form}") from None
    except ValueError as exc:  # a port out of range or not a number, a broken [IPv6]
        why = "its port is not a number from 1 to 65535" if "Port" in str(exc) else str(exc)
        raise BadAddress(f"{url} is not a server address: {why}") from None
    scheme = parts.scheme.lower()
    if ":/" not in url and url.strip():
        raise BadAddress(
            f"{url!r} is not a server address: write it ws://{url.strip('/')}/"
            " (wss:// if the server uses TLS)"
        )
    if scheme not in ("ws", "wss"):
        if scheme in ("http", "https") and parts.netloc:
            hint = parts._replace(scheme="ws" if scheme == "http" else "wss").geturl()
            raise BadAddress(f"{url} is a web address; the server's is {hint}")
        raise BadAddress(f"{url!r} is not a server address: use {form}")
    host = parts.hostname
    if not host:
        raise BadAddress(f"{url} names no host: use {form}")
    if port == 0:
        raise BadAddress(f"{url}: port 0 is not a server's port (1 to 65535)")
    try:
        host.encode("idna")
    except UnicodeError:
        raise BadAddress(f"{url}: {host!r} is not a host name") from None
    if parts.username is not None or parts.password is not None:
        raise BadAddress(f"{url}: a server address carries no user name or password")
    return url


def describe_failure(exc: BaseException, url: str) -> str | None:
    """Why ``url`` could not be reached, in words; None if ``exc`` is not about the link."""
    import ssl

    from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

    tls = url.lower().startswith("wss:")
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in (429, 503):  # an rse server at one of its connection limits
            said = exc.response.body.decode("ascii", "replace").partition("\n")[0]
            said = "".join(c for c in said if c.isprintable())[:100] or f"HTTP {status}"
            return f"{url} is busy ({said})"
        return f"{url} is not an rse server (it answered HTTP {status}, not WebSocket)"
    if isinstance(exc, InvalidHandshake):
        hint = "" if tls else "; if it uses TLS, its address starts with wss://"
        return f"{url} did not answer as an rse server (no WebSocket handshake){hint}"
    if isinstance(exc, InvalidURI):
        return f"{url} is not a server address: {exc.msg}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the certificate of {url} is not trusted ({exc.verify_message}):"
            " give its CA or the certificate itself with --ca FILE"
        )
    if isinstance(exc, ssl.SSLError) or (tls and isinstance(exc, ConnectionResetError)):
        reason = getattr(exc, "reason", None) or "the connection was reset"
        return (
            f"the TLS handshake with {url} failed ({reason}):"
            " is it a plain server? its address would start with ws://"
        )
    if isinstance(exc, ConnectionRefusedError):
        return f"{url} refused the connection: is the server running, on that port?"
    if isinstance(exc, socket.gaierror):
        return f"unknown host in {url} ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return f"{url} did not answer in time"
    if isinstance(exc, ConnectionLost):
        return f"the connection to {url} closed before it answered"
    if isinstance(exc, OSError) and exc.filename is None:
        return f"cannot reach {url}: {exc.strerror or type(exc).__name__}"
    return None


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verify against ``ca_file`` (a CA or the pinned server certificate) or the system."""
    import ssl

    if ca_file is None:
        return ssl.create_default_context()
    context = ssl.create_default_context(cafile=str(ca_file))
    # A pinned self-signed certificate is its own trust anchor.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


class Connection:
    """A live connection; build it with :meth:`open`."""

    def __init__(self, ws: ClientConnection, on_push: Push | None) -> None:
        self.ws = ws
        self._on_push = on_push
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[asyncio.Future[Reply], type[Reply]]] = {}
        self._reader = asyncio.create_task(self._read(), name="rse-connection-reader")
        self.welcome: Welcome | None = None
        self.sync: asyncio.Future[Reply] | None = None

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        token: str | None = None,
        ca_file: Path | None = None,
        on_push: Push | None = None,
        open_timeout: float = 10.0,
        traffic: Traffic | None = None,
        since: int | None = None,
        hello: bool = True,
        **options: Any,
    ) -> Connection:
        """Connect and say hello; with ``since``, ask for the catch-up too (its reply is
        the future ``conn.sync``).

        With a token, hello and sync travel in the opening handshake itself
        (``Authorization: Bearer``, ``?s=<since>``; request ids 1 and 2), so
        the server answers them as the connection opens: one round trip.
        Without one, ``hello=False`` skips the anonymous hello (a round trip)
        for a connection that starts with ``redeem`` or ``login``.
        """
        # websockets' client is imported on first use: start-up need not pay for it.
        from websockets.asyncio.client import connect

        tls = tls_context(ca_file) if url.startswith("wss:") else None
        if traffic is not None:
            options["create_connection"] = _counting(traffic)
        if token is not None:
            options["additional_headers"] = {"Authorization": f"Bearer {token}"}
            if since is not None:
                url = _with_query(url, f"s={since}")
        ws = await connect(
            url,
            ssl=tls,
            open_timeout=open_timeout,
            max_size=2**22,
            user_agent_header=None,
            **options,
        )
        conn = cls(ws, on_push)
        try:
            if token is not None:
                # Sent with the handshake; their answers are on their way.
                greeting = conn._expect(conn.next_id(), Welcome)
                if since is not None:
                    conn.sync = conn._expect(conn.next_id(), SyncDone)
            elif hello:
                greeting = await conn.submit(
                    Hello(request_id=conn.next_id(), version=PROTOCOL_VERSION, token=token)
                )
            else:
                return conn
            conn.welcome = await await_reply(greeting)
        except BaseException:
            if conn.sync is not None:
                # Refused with the hello (auth_required): nobody will read it.
                conn.sync.add_done_callback(lambda f: f.cancelled() or f.exception())
            await conn.close()
            raise
        return conn

    def _expect(self, request_id: int, reply: type[Reply]) -> asyncio.Future[Reply]:
        """The future of a reply to a request sent some other way (the handshake)."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, reply)
        future.add_done_callback(lambda _f: self._pending.pop(request_id, None))
        return future

    def _reply_type(self, request_id: int) -> type[Reply] | None:
        entry = self._pending.get(request_id)
        return entry[1] if entry else None

    async def call(self, request_type: type[Q], /, **fields: Any) -> Any:
        """Send ``request_type(**fields)`` with a fresh request id; return its reply."""
        request = request_type(request_id=next(self._ids), **fields)
        return await self.send(request)

    async def send(self, request: Request) -> Any:
        return await await_reply(await self.submit(request))

    async def submit(self, request: Request) -> asyncio.Future[Reply]:
        """Send ``request`` now; return the future of its reply (for pipelining)."""
        from websockets.exceptions import ConnectionClosed

        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[request.request_id] = (future, request.REPLY)
        future.add_done_callback(lambda _f: self._pending.pop(request.request_id, None))
        try:
            await self.ws.send(encode(request))
        except ConnectionClosed as exc:
            self._pending.pop(request.request_id, None)
            if future.done():  # the reader failed it as the link dropped: said here instead
                future.exception()
            else:
                future.cancel()
            raise ConnectionLost(str(exc)) from exc
        return future

    def next_id(self) -> int:
        return next(self._ids)

    @property
    def closed(self) -> bool:
        return self._reader.done()

    async def send_raw(self, data: str | bytes) -> None:
        """Send an arbitrary frame (for tools and tests of the server's checks)."""
        await self.ws.send(data)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    def close_soon(self) -> None:
        """Say goodbye without waiting for the answer (a round trip on a slow link):
        the closing frame goes out, then the socket closes behind it."""
        ws = self.ws
        with contextlib.suppress(Exception):  # already closing or closed: nothing to say
            ws.protocol.send_close(1000)
            ws.send_data()
        ws.transport.close()
        self._reader.cancel()

    async def wait_closed(self) -> None:
        await self.ws.wait_closed()

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for data in self.ws:
                try:
                    frame = decode_server(data, self._reply_type)
                except ProtocolError as exc:  # a newer server, or a broken one
                    log.warning("ignoring a frame from the server: %s", exc)
                    continue
                if isinstance(frame, Reply):
                    self._settle(frame.request_id, frame)
                elif isinstance(frame, ErrorFrame) and frame.request_id in self._pending:
                    assert frame.request_id is not None
                    self._settle(frame.request_id, _as_exception(frame))
                elif self._on_push is not None:
                    self._on_push(frame)
        except ConnectionClosed:
            pass
        finally:
            for future, _ in list(self._pending.values()):
                if not future.done():
                    future.set_exception(ConnectionLost("connection closed"))
                    # Whoever still waits for it is told; a reply nobody waits
                    # for any more (asked for in a pipeline that failed first)
                    # is not worth a "never retrieved" warning on the way out.
                    future.exception()

    def _settle(self, request_id: int, outcome: Reply | ProtocolError) -> None:
        entry = self._pending.get(request_id)
        if entry is None or entry[0].done():
            return
        if isinstance(outcome, ProtocolError):
            entry[0].set_exception(outcome)
        else:
            entry[0].set_result(outcome)


def _with_query(url: str, query: str) -> str:
    parts = urlsplit(url)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit(parts._replace(path=parts.path or "/", query=joined))


async def await_reply(future: asyncio.Future[Reply]) -> Any:
    return await future


def _as_exception(frame: ErrorFrame) -> ProtocolError:
    try:
        code = ErrorCode(frame.code)
    except ValueError:
        code = ErrorCode.INTERNAL
    return ProtocolError(
        code, frame.message, request_id=frame.request_id, retry_after=frame.retry_after
    )
