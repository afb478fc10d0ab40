"""Who is connected, who may see which event, and fan-out.

Each connection is a :class:`Peer` with its own bounded send queue and one
sender task; nothing is ever written to a socket from anywhere else, so a
client that stops reading can only fill its own queue, and is cut off when
the queue is full or a single write stalls past ``send_timeout``. (The
library's ``broadcast()`` buffers without bound for such a client.) Being cut
off loses nothing: the client resumes from its last sequence number.

The hub keeps a table of group members (with roles) and of group
visibility, updated from the committed event stream itself, so deciding an
event's audience (``policy.audience``) never touches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from websockets.exceptions import ConnectionClosed

from rse_tui.protocol import (
    Event,
    GroupEvent,
    JoinEvent,
    LeaveEvent,
    encode,
)

from . import policy

log = logging.getLogger(__name__)

#: Close code sent when the server ends a session on purpose (RFC 6455 range
#: 4000-4999 is for applications).
CLOSE_REVOKED = 4001
CLOSE_TOO_SLOW = 4008


class Socket(Protocol):
    """The part of a websockets connection a Peer uses."""

    async def send(self, message: str) -> None: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...

    @property
    def transport(self) -> asyncio.Transport: ...


class _Close:
    """Queued after the last frame when the session must end cleanly."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class Peer:
    """One connected client: its identity, its send queue, its sender task."""

    def __init__(self, socket: Socket, *, queue_size: int, send_timeout: float) -> None:
        self.socket = socket
        self.user: int | None = None
        self.name: str | None = None
        self.token_id: int | None = None
        #: False until the first sync: live events before that are not sent.
        self.live = False
        self.evicted = False
        #: Set once the session is over, whoever ended it.
        self.ended = asyncio.Event()
        self._queue: asyncio.Queue[str | _Close] = asyncio.Queue(queue_size)
        self._held: list[tuple[int, str]] | None = None
        self._queue_size = queue_size
        self._send_timeout = send_timeout
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._sender(), name="rse-peer-sender")

    async def stop(self) -> None:
        self.ended.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def send(self, text: str) -> None:
        """Queue one frame; a client too far behind is cut off."""
        if self.evicted:
            return
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            self.evict("send queue full")

    def close_after_flush(self, code: int, reason: str) -> None:
        if self.evicted:
            return
        try:
            self._queue.put_nowait(_Close(code, reason))
        except asyncio.QueueFull:
            self.evict("send queue full")

    def deliver(self, seq: int, text: str) -> None:
        """Send a live event, or hold it while a catch-up is being read."""
        if not self.live or self.evicted:
            return
        if self._held is not None:
            if len(self._held) >= self._queue_size:
                self.evict("too many events during catch-up")
                return
            self._held.append((seq, text))
            return
        self.send(text)

    def hold(self) -> None:
        """Start buffering live events: a catch-up is about to be read."""
        self.live = True
        self._held = []

    def release(self, head: int) -> None:
        """The catch-up covered events up to ``head``: send the newer held ones."""
        held, self._held = self._held or [], None
        for seq, text in held:
            if seq > head:
                self.send(text)

    def evict(self, why: str) -> None:
        if self.evicted:
            return
        self.evicted = True
        self.ended.set()
        log.info("cutting off user %s: %s", self.user, why)
        # A client that does not read will not complete a closing handshake.
        self.socket.transport.abort()

    async def _sender(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, _Close):
                    await self.socket.close(item.code, item.reason)
                    return
                try:
                    async with asyncio.timeout(self._send_timeout):
                        await self.socket.send(item)
                except TimeoutError:
                    self.evict("stopped reading")
                    return
        except ConnectionClosed:
            return


class Hub:
    """Connected peers by user, group membership, and event fan-out."""

    def __init__(self, max_connections_per_user: int) -> None:
        self._max_per_user = max_connections_per_user
        self._by_user: dict[int, set[Peer]] = {}
        self._members: dict[int, dict[int, str]] = {}  # group -> {user: role}
        self._visibility: dict[int, str] = {}

    def load(self, members: dict[int, dict[int, str]], visibility: dict[int, str]) -> None:
        self._members = members
        self._visibility = visibility

    def attach(self, peer: Peer, user: int, name: str, token_id: int) -> bool:
        """Register an authenticated peer; False when the user has too many."""
        peers = self._by_user.setdefault(user, set())
        if len(peers) >= self._max_per_user:
            if not peers:
                del self._by_user[user]
            return False
        peer.user, peer.name, peer.token_id = user, name, token_id
        peers.add(peer)
        return True

    def detach(self, peer: Peer) -> None:
        if peer.user is None:
            return
        peers = self._by_user.get(peer.user)
        if peers is not None:
            peers.discard(peer)
            if not peers:
                del self._by_user[peer.user]

    def peers(self, user: int | None = None) -> Iterable[Peer]:
        """Every connected peer, or those of one user."""
        if user is not None:
            yield from self._by_user.get(user, ())
            return
        for peers in self._by_user.values():
            yield from peers

    def connections(self, user: int) -> int:
        return len(self._by_user.get(user, ()))

    def end_token(self, token_id: int, reason: str) -> None:
        """Close every session opened with a token that no longer exists."""
        for peer in list(self.peers()):
            if peer.token_id == token_id:
                peer.close_after_flush(CLOSE_REVOKED, reason)

    def publish(self, events: Sequence[Event], origin: object) -> None:
        """Fan out committed events (called in commit order, on the loop)."""
        for event in events:
            self._apply(event)
            users = policy.audience(event, self._members, self._visibility)
            text = encode(event)
            if users is None:
                targets: Iterable[Peer] = self.peers()
            else:
                targets = (p for u in users for p in self._by_user.get(u, ()))
            for peer in targets:
                if peer is not origin:
                    peer.deliver(event.seq, text)

    def _apply(self, event: Event) -> None:
        """Keep the fan-out tables in step with the committed event stream."""
        if isinstance(event, JoinEvent):
            self._members.setdefault(event.group, {})[event.user] = event.role
        elif isinstance(event, LeaveEvent):
            self._members.get(event.group, {}).pop(event.user, None)
        elif isinstance(event, GroupEvent):
            self._visibility[event.group] = event.visibility
