"""The rse server: the WebSocket endpoint, /healthz, start-up and shutdown.

``RseServer`` wires the parts together (database, hub, handlers) from one
``ServerConfig``; nothing lives at module level, so a test can run several
servers in one process. Each connection runs ``_serve_connection``: read a
frame, check its size and the sender's rate, decode it, dispatch it through
the handler table, queue the reply. One bad frame gets one typed error; the
connection and every other one carry on.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import ssl
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response

from rse_tui.protocol import (
    PROTOCOL_VERSION,
    ErrorCode,
    Hello,
    ProtocolError,
    Request,
    Sync,
    decode_request,
    encode,
    error_frame,
)

from . import auth, routes, storage
from .config import ServerConfig
from .database import Database
from .deflate import lean_deflate
from .gate import Caps, Gate, open_file_limit
from .handlers import HANDLERS, Caller, Services
from .hub import Hub
from .peer import Peer
from .ratelimit import FailureThrottle, KnownSignIns, RateLimiter
from .schema import migrate

log = logging.getLogger(__name__)


def _peek_request_id(data: str | bytes) -> int | None:
    """The ``i`` of a frame too big to handle, so its error can name it."""
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return None
    rid = obj.get("i") if isinstance(obj, dict) else None
    return rid if isinstance(rid, int) and not isinstance(rid, bool) else None


class RseServer:
    """One server: call ``start()``, then ``stop()`` (or use ``async with``)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        limits = config.limits
        self.hub = Hub(limits.max_connections_per_user)
        self.db = Database(
            config.db_path,
            migrate=migrate,
            on_events=self.hub.publish,
            synchronous=config.synchronous,
            foreign_events=storage.events_between,
            look_every=config.look_every,
        )
        self._services: Services | None = None
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Future[None]] = set()  # closes under way (kept referenced)
        self.gate = Gate(Caps.of(limits, open_file_limit()), lambda: self.hub.signed_in)
        #: Let in past the share of connections not signed in for their token.
        self._on_token: set[ServerConnection] = set()
        #: HTTP paths answered without a handshake (``server.routes``).
        self.http_routes: dict[str, routes.Route] = routes.default_routes()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        sock = next(iter(self._server.sockets))
        return int(sock.getsockname()[1])

    @property
    def url(self) -> str:
        scheme = "wss" if self.config.tls_cert else "ws"
        return f"{scheme}://{self.config.host}:{self.port}/"

    async def listen(self) -> None:
        """Take the address without answering anyone yet.

        A taken port, an unknown host or an unusable certificate fails here,
        before the database is opened (or created); ``start()`` then serves.
        """
        if self._server is not None:
            return
        config = self.config
        limits = config.limits
        tls = None
        if config.tls_cert is not None:
            tls = tls_context(config.tls_cert, config.tls_key)
        self._server = await serve(
            self._serve_connection,
            config.host,
            config.port,
            ssl=tls,
            start_serving=False,
            process_request=self._process_request,
            process_response=_trim_handshake,
            max_size=limits.hard_max_frame,
            ping_interval=None,  # the hub pings every connection from one task
            close_timeout=2,
            server_header=None,
            create_connection=_counted(self.gate, self._on_token),
            compression=None,
            extensions=[
                lean_deflate(
                    config.compression_window_bits,
                    config.compression_client_window_bits,
                    config.compression_mem_level,
                    config.compression_level,
                )
            ],
        )

    async def start(self) -> None:
        config = self.config
        limits = config.limits
        await self.listen()
        assert self._server is not None
        try:
            await self.db.open()
            self.hub.load(*await self.db.read(storage.memberships))
        except BaseException:
            await self.stop()
            raise
        self._services = Services(
            config=config,
            db=self.db,
            hub=self.hub,
            hasher=auth.PasswordHasher(config.scrypt, config.hash_concurrency, limits.login_queue),
            user_limiter=RateLimiter(limits.rate_burst, limits.rate_per_second),
            conn_limiter=RateLimiter(limits.anon_burst, limits.anon_per_second),
            login_limiter=RateLimiter(limits.anon_burst * 3, limits.anon_per_second),
            login_failures=FailureThrottle(limits.login_retry_first, limits.login_retry_cap),
            known_sign_ins=KnownSignIns(),
        )
        await self._server.start_serving()
        if config.compressor_idle:
            self._tasks.append(asyncio.create_task(self._sweep(config.compressor_idle)))
        if config.tally_every:
            self._tasks.append(asyncio.create_task(self._tally(config.tally_every)))
        if config.ping_interval:
            self._tasks.append(
                asyncio.create_task(self.hub.keep_alive(config.ping_interval, config.ping_timeout))
            )

    async def _sweep(self, every: float) -> None:
        trim = _heap_trimmer()
        while True:
            await asyncio.sleep(every)
            if self.hub.sweep() and trim is not None:
                # Freed compressors sit between live objects; without this the
                # process keeps their pages.
                trim(0)

    async def _tally(self, every: float) -> None:
        """Publish anonymous polls' new results, a batch at a time."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.db.write(storage.publish_tallies)
            except Exception:
                log.exception("publishing poll results failed")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
            self._server = None
        await self.db.close()

    async def __aenter__(self) -> RseServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _process_request(self, connection: ServerConnection, request: HttpRequest) -> Any:
        answer = routes.route(self.http_routes, request)
        if answer is not None:
            return answer
        token = "Authorization" in request.headers
        refusal = self.gate.refusal(_address(connection), token=token)
        if refusal is not None:
            return routes.plain_text(*refusal)
        if token and self.gate.anonymous_full():
            self._on_token.add(connection)
        return None

    async def _serve_connection(self, ws: ServerConnection) -> None:
        svc = self._services
        assert svc is not None
        limits = svc.limits
        peer = Peer(
            ws,
            queue_size=limits.send_queue,
            send_timeout=limits.send_timeout,
            queue_bytes=limits.send_queue_bytes,
            slow_sndbuf=limits.slow_sndbuf,
            kernel_unsent=limits.kernel_unsent,
        )
        opening = handshake_requests(ws.request)
        if ws.request is not None:
            ws.request.headers.clear()  # read at the handshake; kept, they cost ~2.5 KiB
        caller = Caller(peer=peer, remote=_address(ws))
        svc.hub.opened(peer)
        # Not signed in by then: closed (a watch per connection costs a timer handle).
        caller.deadline = asyncio.get_running_loop().call_later(
            limits.sign_in_within, self._close_unsigned, ws, caller
        )
        try:
            for frame in opening:
                answer = await self._answer(svc, caller, frame)
                if answer is not None:
                    peer.send(answer)
            if peer.user is None and ws in self._on_token:
                # Let in for a token that failed: no second try on this place.
                peer.close_after_flush(1008, "sign in first")
                await ws.wait_closed()
                return
            async for data in ws:
                if peer.evicted or peer.revoked:
                    break
                answer = await self._answer(svc, caller, data)
                if answer is not None:
                    peer.send(answer)
                await peer.drained()  # a client behind on its replies is read no further
        except ConnectionClosed:
            pass
        finally:
            if caller.deadline is not None:
                caller.deadline.cancel()
            svc.hub.closed(peer)
            svc.conn_limiter.forget(peer)
            await peer.stop()

    def _close_unsigned(self, ws: ServerConnection, caller: Caller) -> None:
        if caller.signing_in:  # a login waiting its turn to be checked: not idle
            caller.deadline = asyncio.get_running_loop().call_later(
                1.0, self._close_unsigned, ws, caller
            )
            return
        if caller.peer.user is None:
            closing = asyncio.ensure_future(ws.close(1008, "sign in first"))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def _answer(self, svc: Services, caller: Caller, data: str | bytes) -> str | None:
        """Handle one frame; return the encoded reply or error, if any."""
        limits = svc.limits
        peer = caller.peer
        rid: int | None = None
        request: Request | None = None
        try:
            # Over the rate, a connection waits its turn: it is read no further
            # meanwhile, so it slows down (its writes keep their order, and a
            # flood of refusals or bad frames costs the server no more than the
            # rate). Only a wait past the bound is refused, and the refusal
            # waits the bound first: refusals are never a free loop. Before
            # sign-in the bucket is the connection's own (the object, not its
            # reused id()).
            if peer.user is not None:
                wait = svc.user_limiter.reserve(peer.user, limits.rate_max_delay)
            else:
                wait = svc.conn_limiter.reserve(peer, limits.rate_max_delay)
            bound = limits.rate_max_delay
            delay, wait = (wait, 0.0) if wait <= bound else (bound, wait - bound)
            if delay:  # before anything else: a refusal waits its turn as well
                await asyncio.sleep(delay)
            if len(data) > limits.max_frame // 4 and _size(data) > limits.max_frame:
                raise ProtocolError(
                    ErrorCode.TOO_BIG,
                    f"frame is larger than {limits.max_frame} bytes",
                    request_id=_peek_request_id(data),
                )
            request = decode_request(data)
            rid = request.request_id
            if wait:
                raise ProtocolError(
                    ErrorCode.RATE_LIMITED, "too many requests", retry_after=round(wait, 2)
                )
            if peer.revoked:
                raise ProtocolError(ErrorCode.AUTH_FAILED, "this session's token was revoked")
            if peer.user is None and not request.ANONYMOUS:
                raise ProtocolError(
                    ErrorCode.AUTH_REQUIRED, "send hello with a token or log in first"
                )
            reply = await HANDLERS[type(request)](svc, caller, request)
        except ProtocolError as exc:
            if exc.request_id is None:
                exc.request_id = rid
            caller.refused(request, exc)
            return encode(error_frame(exc))
        except Exception:
            log.exception("request failed")
            failed = ProtocolError(
                ErrorCode.INTERNAL, "the server failed; retry later", request_id=rid
            )
            caller.refused(request, failed)
            return encode(error_frame(failed))
        if reply is None:
            return None
        answer = encode(reply)
        if peer.user is not None:  # a big reply costs its size, not one request
            svc.charge_bytes(peer.user, len(answer))
        return answer


def tls_context(cert: Path, key: Path | None) -> ssl.SSLContext:
    """The server side of wss://: the certificate chain and its key (PEM)."""
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_cert_chain(cert, key)
    return tls


def _address(connection: ServerConnection) -> str:
    remote = connection.remote_address
    return str(remote[0]) if remote else "?"


def _counted(gate: Gate, on_token: set[ServerConnection]) -> type[ServerConnection]:
    """Connections that the gate counts from accept to close (see ``server.gate``)."""

    class CountedConnection(ServerConnection):
        address = "?"

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self.address = _address(self)
            if not gate.opened(self.address):
                self.transport.abort()

        def connection_lost(self, exc: Exception | None) -> None:
            gate.closed(self.address)
            on_token.discard(self)
            super().connection_lost(exc)

    return CountedConnection


def handshake_requests(request: HttpRequest | None) -> list[str]:
    """The requests a client put in its opening handshake, as frames to handle first.

    A client with a token sends it as ``Authorization: Bearer <token>`` and may
    add ``?s=<since>`` to the path: that is ``hello`` (request id 1) and
    ``sync`` (request id 2), answered as soon as the connection opens, so a
    reconnect costs one round trip instead of two. The frames go through
    the same checks as any other; a malformed value gets the same typed error.
    """
    if request is None:
        return []
    values = request.headers.get_all("Authorization")
    if not values:
        return []
    scheme, _, token = values[0].strip().partition(" ")
    if scheme.lower() != "bearer" or len(values) > 1:
        # Only the documented form, once: a bare token, or two headers (which
        # one counts?), are refused like a wrong token.
        token = ""
    frames = [encode(Hello(request_id=1, version=PROTOCOL_VERSION, token=token))]
    since = parse_qs(urlsplit(request.path).query).get("s")
    if since:
        # Not a number: encoded as given, for the decoder to refuse with bad_field.
        digits = since[0].isascii() and since[0].isdigit()  # not '¹' or '٣'
        value: Any = int(since[0]) if digits and len(since[0]) < 19 else since[0]
        frames.append(encode(Sync(request_id=2, since=value)))
    return frames


def _heap_trimmer() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, which hands freed heap pages back; None elsewhere."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def _trim_handshake(connection: ServerConnection, request: HttpRequest, response: Response) -> None:
    """Every reconnect on a thin link pays for the handshake: drop what it need not carry.

    A 101 response is informational, for which HTTP does not require a Date.
    """
    if response.status_code == HTTPStatus.SWITCHING_PROTOCOLS:
        del response.headers["Date"]


def _size(data: str | bytes) -> int:
    return len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
