"""The sync engine: keeps the cache in step with the server, delivers the outbox.

``Engine.run()`` loops for as long as the client runs: connect, resume from
the cache's cursor, apply what the server pushes, send every outbox item
until it is acknowledged, and when the link drops, wait (exponential backoff
with jitter) and do it again. The views never wait on the network: they read
the cache, and the engine tells them what changed through plain callbacks.

Writes are stored in the outbox (with their client id) *before* anything is
sent, so a crash, a cut link or a restart loses nothing, and the server's
idempotency makes every resend safe: each write is delivered exactly once,
and stored in the order it was made (see ``_deliver_forever``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rse_tui.protocol import (
    RESEND_LATER,
    AcceptCharter,
    Batch,
    ErrorCode,
    ErrorFrame,
    Event,
    Gap,
    GetUsers,
    History,
    ListGroups,
    ProtocolError,
    Reply,
    Request,
    ServerFrame,
    Sync,
    WriteOk,
    WriteRequest,
)

from .cache import Cache, CacheError, CacheWorker
from .connection import Connection, ConnectionLost, Traffic, await_reply
from .models import Changes, Link, OutboxItem, Status

log = logging.getLogger(__name__)

#: Writes in flight at once on one connection. Errors after which a write is
#: kept and sent again are protocol.RESEND_LATER; any other refusal is final.
WINDOW = 32
HISTORY_PAGE = 100
#: Seconds between looks at what other processes of the profile changed.
FOLLOW_EVERY = 0.25


#: The link dropped under a request (re-exported for the views).
LinkDown = ConnectionLost


class Offline(Exception):
    """The request needs the server and there is no connection now."""


class LoggedOut(Exception):
    """The server no longer accepts this profile's token."""


@dataclass(slots=True)
class Backoff:
    """Exponential backoff with full jitter: ``uniform(base, cap_n)``."""

    first: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    rng: random.Random | None = None
    _n: int = 0

    def next(self) -> float:
        rng = self.rng or random
        top = min(self.cap, self.first * self.factor**self._n)
        self._n += 1
        return rng.uniform(min(self.first, top), top)

    def reset(self) -> None:
        self._n = 0


@dataclass(frozen=True, slots=True)
class _Held:
    """A write refused for now: the connection's later writes wait behind it."""

    cid: str
    code: ErrorCode
    retry_at: float  # monotonic time it may be sent again (but for the charter)


@dataclass(frozen=True, slots=True)
class _Head:
    """Marks the end of a catch-up in the push stream: cursor may move to ``head``."""

    head: int


#: A message that waited in the outbox at least this long says when it was
#: written (sooner, the server's time is as good and the bytes are saved).
WRITTEN_AFTER = 60.0


def _request_for(item: OutboxItem, request_id: int, now: float) -> Request:
    """The stored request, numbered for this connection; dated if it waited."""
    request = replace(item.request, request_id=request_id)
    if hasattr(request, "written") and now - item.created >= WRITTEN_AFTER:
        request.written = int(item.created)
    return request


Connect = Callable[..., Awaitable[Connection]]


class Engine:
    """Headless client core for one profile."""

    def __init__(
        self,
        cache: Cache,
        *,
        url: str,
        token: str,
        ca_file: Path | None = None,
        on_change: Callable[[Changes], object] | None = None,
        on_status: Callable[[Status], object] | None = None,
        on_error: Callable[[OutboxItem, str], object] | None = None,
        backoff: Backoff | None = None,
        connect: Connect = Connection.open,
        open_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache = cache
        self.worker = CacheWorker(cache)  # the cache's own thread
        self.url = url
        self.token = token
        self.ca_file = ca_file
        self.traffic = Traffic()
        self._on_change = on_change or (lambda _c: None)
        self._on_status = on_status or (lambda _s: None)
        self._on_error = on_error or (lambda _i, _e: None)
        self._backoff = backoff or Backoff()
        self._connect = connect
        self._open_timeout = open_timeout
        self._clock = clock
        with cache.guarded():
            self._status = Status(outbox=cache.outbox_count())
        self._conn: Connection | None = None
        self._inbox: asyncio.Queue[ServerFrame | _Head] = asyncio.Queue()
        self._wake = asyncio.Event()  # the outbox has something new
        self._retry_now = asyncio.Event()
        self._stopping = False
        self._online = asyncio.Event()
        self._idle = asyncio.Event()  # online, synced, outbox empty
        #: The cache file cannot be used: the engine stopped for good (see _fail).
        self.failure: CacheError | None = None
        self._failed = asyncio.Event()
        self._gapped = False  # the catch-up skipped events: the groups are asked for again
        self.last_error: str = ""
        #: A write was refused until the current charter is accepted.
        self.charter_required = False
        #: Charter acceptances so far, and the count each write was sent under:
        #: a refusal for a write sent before the latest acceptance is stale.
        self._acceptances = 0
        self._sent_under: dict[str, int] = {}

    # -- public API ------------------------------------------------------------------

    def listen(
        self,
        *,
        on_change: Callable[[Changes], object] | None = None,
        on_status: Callable[[Status], object] | None = None,
        on_error: Callable[[OutboxItem, str], object] | None = None,
    ) -> None:
        """Set who hears about cache changes, status changes and refused writes."""
        if on_change is not None:
            self._on_change = on_change
        if on_status is not None:
            self._on_status = on_status
        if on_error is not None:
            self._on_error = on_error

    @property
    def status(self) -> Status:
        return replace(self._status, sent=self.traffic.sent, received=self.traffic.received)

    @property
    def online(self) -> bool:
        return self._conn is not None and self._online.is_set()

    async def run(self) -> None:
        """Connect and stay in sync until :meth:`stop`; never raises for link
        errors. A cache file that cannot be used stops it for good
        (:attr:`failure`, raised to whoever waits)."""
        follower = asyncio.create_task(self._follow_others(), name="rse-follow")
        try:
            await self._run()
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower

    async def _run(self) -> None:
        # Imported here, not at start-up: the first paint does not wait for it.
        from websockets.exceptions import InvalidHandshake, InvalidURI

        while not self._stopping:
            self._set_status(link=Link.CONNECTING, retry_at=None)
            try:
                await self._connected()
            except LoggedOut as exc:
                self.last_error = str(exc)
                self._set_status(link=Link.LOGGED_OUT, detail=str(exc))
                return
            except (OSError, TimeoutError, ConnectionLost, InvalidHandshake) as exc:
                self.last_error = _describe(exc)
                log.info("link down: %s", self.last_error)
            except InvalidURI as exc:
                self.last_error = str(exc)
                self._set_status(link=Link.OFFLINE, detail=self.last_error)
                return
            except ProtocolError as exc:
                self.last_error = exc.message
                log.warning("server refused the connection: %s", exc)
            except CacheError as exc:
                self._fail(exc)
            except Exception as exc:  # a bug must not end the sync loop for good
                self.last_error = f"internal error: {type(exc).__name__}: {exc}"
                log.exception("sync connection failed")
            finally:
                self._online.clear()
                self._idle.clear()
                conn, self._conn = self._conn, None
                if conn is not None:
                    await conn.close()
            if self._stopping:
                break
            delay = self._backoff.next()
            self._set_status(
                link=Link.RECONNECTING, retry_at=time.monotonic() + delay, detail=self.last_error
            )
            self._retry_now.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._retry_now.wait()
        detail = self.last_error if self.failure is not None else self._status.detail
        self._set_status(link=Link.OFFLINE, retry_at=None, detail=detail)

    def retry_now(self) -> None:
        """Skip the rest of the backoff wait (the user asked to reconnect)."""
        self._retry_now.set()

    async def stop(self) -> None:
        self._stopping = True
        self._retry_now.set()
        self._wake.set()
        if self._conn is not None:
            await self._conn.close()

    def close(self) -> None:
        self.worker.close()

    async def submit(self, request: WriteRequest) -> str:
        """Queue a write in the outbox (durably) and have it sent; return its id.

        The views write through :class:`~rse_tui.sync.client.Client`."""
        cid = await self.worker(self.cache.enqueue, request, self._clock())
        group = getattr(request, "group", None)
        self._idle.clear()
        self._set_status(outbox=await self.worker(self.cache.outbox_count))
        self._on_change(Changes(outbox=True, messages={group: []} if group else {}))
        self._wake.set()
        return cid

    async def wait_online(self) -> None:
        await self._until(self._online)

    async def wait_idle(self) -> None:
        """Until online, caught up and with nothing left in the outbox."""
        await self._until(self._idle)

    async def _until(self, event: asyncio.Event) -> None:
        """Until ``event``; raises the cache's failure (it will never come then)."""
        if not event.is_set() and self.failure is None:
            waiter = asyncio.ensure_future(event.wait())
            try:
                await _first_of(waiter, wake=self._failed)
            finally:
                waiter.cancel()
        if self.failure is not None:
            raise self.failure

    def _fail(self, exc: CacheError) -> None:
        """The cache file cannot be used: stop for good (no retry mends a
        file), and say so to whoever waits."""
        if self.failure is None:
            self.failure = exc
            self.last_error = str(exc)
            log.warning("the cache cannot be used", exc_info=exc)
        self._stopping = True
        self._retry_now.set()
        self._wake.set()
        self._failed.set()

    async def absorb(self, store: Callable[..., Changes], *args: Any) -> Changes:
        """Store what the server answered (a cache method returning Changes),
        and tell the views."""
        changes = await self.worker(store, *args)
        await self._learn_users()
        self._on_change(changes)
        return changes

    async def call(self, request_type: type[Request], /, **fields: Any) -> Any:
        """A request that needs the server now (listing members, say)."""
        conn = self._conn
        if conn is None or not self._online.is_set():
            raise Offline("not connected")
        return await conn.call(request_type, **fields)

    async def accept_charter(self, version: int) -> None:
        """Accept the charter, then send what waited for it."""
        await self.call(AcceptCharter, version=version)
        self._acceptances += 1
        self.charter_required = False
        self._idle.clear()
        self._wake.set()

    async def refresh_groups(self) -> None:
        reply = await self.call(ListGroups)
        self._on_change(await self.worker(self.cache.put_groups, reply.groups))

    async def load_older(self, group: int, kind: str, before: int | None) -> bool:
        """Fetch one page of history the cache lacks below ``before``; False if none."""
        hole = await self.worker(self.cache.hole_below, group, kind, before)
        if hole is None or not self.online:
            return False
        page = await self.call(
            History, group=group, kind=kind, before=hole[1] + 1, limit=HISTORY_PAGE
        )
        if page.users:
            await self.worker(self.cache.put_users, page.users)
        changes = await self.worker(
            self.cache.fill_hole,
            group,
            kind,
            hole,
            page.events,
            page.more,
            page.reactions,
            page.as_of,
            page.threads,
        )
        await self._learn_users()  # a no-op when the page named its authors
        changes.messages.setdefault(group, [])
        self._on_change(changes)
        return True

    async def _follow_others(self) -> None:
        """Tell the views what other processes of this profile change in the shared file.

        Another process's writes are queued, answered or refused in the outbox
        both share; without this, a view here would show them waiting to be
        sent long after they were.
        """
        mark = await self.worker(self.cache.mark)
        while True:
            await asyncio.sleep(FOLLOW_EVERY)
            try:
                mark, changes = await self.worker(self.cache.changed_elsewhere, mark)
            except CacheError as exc:
                self._fail(exc)
                return
            except Exception:  # a busy file, say: look again next time
                log.warning("cannot read the cache's changes", exc_info=True)
                continue
            if changes.outbox:
                self._set_status(outbox=await self.worker(self.cache.outbox_count))
            if changes:
                self._on_change(changes)

    # -- one connection ------------------------------------------------------------------

    async def _connected(self) -> None:
        cursor = await self.worker(self.cache.cursor)
        try:
            conn = await self._connect(
                self.url,
                token=self.token,
                ca_file=self.ca_file,
                on_push=self._push,
                traffic=self.traffic,
                open_timeout=self._open_timeout,
                since=cursor or None,  # resuming: hello and sync in one flight
            )
        except ProtocolError as exc:
            if exc.code is ErrorCode.AUTH_FAILED:
                raise LoggedOut("the server no longer accepts this login") from exc
            raise
        self._conn = conn
        assert conn.welcome is not None
        self._set_status(link=Link.SYNCING, detail="")
        applier = asyncio.create_task(self._apply_pushes(), name="rse-apply")
        try:
            known, _ = await self.worker(self.cache.identity)
            if conn.welcome.user is not None and known != conn.welcome.user:
                [me] = (await conn.call(GetUsers, users=[conn.welcome.user])).users
                await self.worker(self.cache.set_identity, me.user, me.name)
            fresh = cursor == 0
            if fresh:
                # A new device: the group list and the start of the live stream,
                # asked for together (one round trip on a slow link).
                groups = await conn.submit(ListGroups(request_id=conn.next_id()))
                sync = await conn.submit(Sync(request_id=conn.next_id(), since=conn.welcome.head))
                reply = await await_reply(groups)
                await self.worker(self.cache.put_groups, reply.groups, fresh=True)
                done = await await_reply(sync)
            else:
                assert conn.sync is not None
                done = await conn.sync
            self._inbox.put_nowait(_Head(done.head))
            await self._inbox.join()
            if self._gapped:
                # Groups we were added to within the gap: the list says we are
                # in, and their history is the server's to tell (put_groups).
                self._gapped = False
                reply = await conn.call(ListGroups)
                self._on_change(await self.worker(self.cache.put_groups, reply.groups))
            await self._learn_groups()
            await self._learn_users()
            self._on_change(Changes(groups=True))
            self._backoff.reset()
            self._online.set()
            self._set_status(link=Link.ONLINE)
            await self._deliver_forever(conn)
        finally:
            applier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await applier
            self._drain_inbox()

    def _push(self, frame: ServerFrame) -> None:
        self._inbox.put_nowait(frame)

    def _drain_inbox(self) -> None:
        while not self._inbox.empty():
            self._inbox.get_nowait()
            self._inbox.task_done()

    async def _apply_pushes(self) -> None:
        """Apply pushed frames to the cache in arrival order, a run at a time."""
        while True:
            frames = [await self._inbox.get()]
            while not self._inbox.empty():
                frames.append(self._inbox.get_nowait())
            try:
                await self._apply(frames)
            except CacheError as exc:
                self._fail(exc)
            finally:
                for _ in frames:
                    self._inbox.task_done()

    async def _apply(self, frames: list[ServerFrame | _Head]) -> None:
        events: list[Event] = []
        changes = Changes()
        cursor: int | None = None

        async def flush() -> None:
            nonlocal events, cursor
            if events or cursor is not None:
                changes.merge(await self.worker(self.cache.apply, events, cursor))
            events, cursor = [], None

        for frame in frames:
            if isinstance(frame, Batch):
                events.extend(frame.events)
            elif isinstance(frame, Event):
                events.append(frame)
            elif isinstance(frame, _Head):
                cursor = frame.head
            elif isinstance(frame, Gap):
                await flush()
                changes.merge(await self.worker(self.cache.add_gap, frame.upto))
                self._gapped = True
                changes.groups = True
            elif isinstance(frame, ErrorFrame):
                log.warning("server: %s: %s", frame.code, frame.message)
        await flush()
        if changes.groups and self._conn is not None:
            with contextlib.suppress(ConnectionLost):  # asked again on the next connection
                await self._learn_groups()
        if changes.messages:
            # A direct message alerts as a mention does. Asked once the groups
            # are learnt: a direct chat's first message arrives before the
            # cache knows the chat is one.
            seqs = [seq for group in changes.messages.values() for seq in group]
            seen = {row.seq for row in changes.mentions}
            direct = await self.worker(self.cache.direct_messages, seqs)
            changes.mentions.extend(row for row in direct if row.seq not in seen)
        if changes.messages and self._conn is not None:
            with contextlib.suppress(ConnectionLost):
                await self._learn_users()
            changes.mentions = [
                replace(row, author=await self.worker(self.cache.user_name, row.user))
                for row in changes.mentions
            ]
        if changes:
            self._on_change(changes)

    async def _learn_groups(self) -> None:
        """Ask the server about groups events named before the cache knew them.

        A secret group one is added to, or a direct chat someone opens with
        one, is first met through a join event, which carries no name (and a
        direct chat's settings event does not say who the other person is).
        The cache does not show such a group until this has filled it in.
        """
        unknown = await self.worker(self.cache.unknown_groups)
        if unknown and self._conn is not None:
            reply = await self._conn.call(ListGroups, only=unknown)
            self._on_change(await self.worker(self.cache.put_groups, reply.groups, only=unknown))
            await self._learn_users()  # a direct chat is named after the other person

    async def _learn_users(self) -> None:
        """Fetch the names of authors the cache does not know; tell the views."""
        unknown = await self.worker(self.cache.unknown_users)
        if unknown and self._conn is not None:
            reply = await self._conn.call(GetUsers, users=unknown)
            await self.worker(self.cache.put_users, reply.users)
            if reply.users:
                self._on_change(Changes(users={u.user: u.name for u in reply.users}))

    # -- the outbox ------------------------------------------------------------------------

    async def _deliver_forever(self, conn: Connection) -> None:
        """Send the outbox on this connection, oldest first, pipelined, until it closes.

        Writes leave in outbox order, up to WINDOW unanswered at a time, and
        are answered in that order (the server handles a connection's
        requests one after the other). A write refused for now (rate limit,
        server failure, charter) stops the sending: the server refuses the
        connection's later writes the same way until it comes again, so once
        their answers are in, sending starts over from the oldest pending
        write, after the wait. No write is stored before one made earlier.
        """
        closed = asyncio.ensure_future(conn.wait_closed())
        flight: deque[tuple[OutboxItem, asyncio.Future[Reply]]] = deque()
        after = 0  # outbox place of the newest write sent on this connection
        held: _Held | None = None
        try:
            while not self._stopping:
                self._wake.clear()
                if held is None and not self.charter_required and len(flight) < WINDOW:
                    for item in await self.worker(
                        self.cache.take_outbox, after, WINDOW - len(flight)
                    ):
                        request = _request_for(item, conn.next_id(), self._clock())
                        self._sent_under[item.cid] = self._acceptances
                        flight.append((item, await conn.submit(request)))
                        after = item.n
                if flight:
                    await _first_of(flight[0][1], closed, wake=self._wake)
                    held = await self._settle(flight, held)
                elif held is not None:
                    await self._wait_out(held, closed)
                    if await self.worker(self.cache.first_pending) not in (held.cid, None):
                        # The write this connection's later ones wait behind was
                        # settled by another process of this profile: a fresh
                        # connection holds nothing back.
                        raise ConnectionLost("starting over on a fresh connection")
                    held, after = None, 0
                else:
                    if self.charter_required or await self.worker(self.cache.outbox_count) == 0:
                        self._idle.set()  # nothing more to do until something changes
                    await _first_of(closed, wake=self._wake)
                if closed.done():
                    raise ConnectionLost("connection closed")
        finally:
            closed.cancel()
            for _, future in flight:  # they end with the connection: nobody reads them
                future.add_done_callback(lambda f: f.cancelled() or f.exception())

    async def _settle(
        self, flight: deque[tuple[OutboxItem, asyncio.Future[Reply]]], held: _Held | None
    ) -> _Held | None:
        """Take in the answers at the head of ``flight``, in order; return what is held."""
        acks: list[tuple[OutboxItem, WriteOk]] = []
        refused: list[tuple[OutboxItem, str]] = []
        lost: BaseException | None = None
        while flight and flight[0][1].done():
            item, future = flight.popleft()
            sent_under = self._sent_under.pop(item.cid, self._acceptances)
            error = future.exception()
            if error is None:
                reply = future.result()
                assert isinstance(reply, WriteOk)
                acks.append((item, reply))
            elif not isinstance(error, ProtocolError):
                lost = error  # the link dropped: what came before it still counts
                break
            elif error.code in RESEND_LATER:
                # Kept in the outbox and sent again; the ones after it come back
                # refused too, and follow it.
                if held is None:
                    held = _Held(
                        item.cid, error.code, time.monotonic() + (error.retry_after or 1.0)
                    )
                    if error.code is ErrorCode.CHARTER and sent_under == self._acceptances:
                        self.charter_required = True
                        self.last_error = error.message
                        self._on_change(Changes(charter_required=True))
                    elif error.code is ErrorCode.CHARTER:  # accepted since it left: again now
                        held = _Held(item.cid, error.code, time.monotonic())
            else:
                refused.append((item, error.message))
        if acks:
            acked = await self.worker(self.cache.acknowledged, acks)
            if acked.unknown_users:
                await self._learn_users()  # a new direct chat is named after the other person
            if acked.recount and self._conn is not None:
                # The writer is not sent its own write's events, which carry the
                # member count: ask for the groups it changed.
                with contextlib.suppress(ConnectionLost, ProtocolError):
                    reply = await self._conn.call(ListGroups, only=acked.recount)
                    acked.changes.merge(
                        await self.worker(self.cache.put_groups, reply.groups, only=acked.recount)
                    )
            self._on_change(acked.changes)
        for item, why in refused:
            await self.worker(self.cache.failed, item.cid, why)
            self._on_error(item, why)
            self._on_change(Changes(outbox=True, messages={item.group: []} if item.group else {}))
        if acks or refused:
            self._set_status(outbox=await self.worker(self.cache.outbox_count))
        if lost is not None:
            raise lost
        return held

    async def _wait_out(self, held: _Held, closed: asyncio.Future[None]) -> None:
        """Wait until a write refused for now may be sent again (or the link drops)."""
        if held.code is ErrorCode.CHARTER:
            while self.charter_required and not closed.done() and not self._stopping:
                self._idle.set()  # nothing can be written until the charter is accepted
                self._wake.clear()
                await _first_of(closed, wake=self._wake)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, held.retry_at - time.monotonic())):
                await asyncio.shield(closed)

    # -- status ----------------------------------------------------------------------------

    def _set_status(self, **changes: Any) -> None:
        self._status = replace(self._status, **changes)
        self._on_status(self.status)


async def _first_of(*futures: asyncio.Future[Any], wake: asyncio.Event) -> None:
    """Until one of ``futures`` is done or ``wake`` is set."""
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({*futures, waker}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waker.cancel()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "server unreachable (connection refused)"
    if isinstance(exc, TimeoutError):
        return "server unreachable (timed out)"
    if isinstance(exc, OSError):
        return f"server unreachable ({exc.strerror or exc})"
    return str(exc) or type(exc).__name__
