"""Who is connected, who may see which event, and fan-out.

Each connection is a :class:`~server.peer.Peer`, which writes to its socket
with back-pressure; the hub decides which peers get each committed event and
hands each its share of a batch in one call. It also pings every connection
from one task, and lets quiet ones give back their compressors.

The hub keeps a table of group members (with roles) and of group
visibility, updated from the committed event stream itself, so deciding an
event's audience (``policy.audience``) never touches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable, Sequence

from websockets.exceptions import ConnectionClosed

from rse_tui.protocol import (
    Event,
    GroupEvent,
    JoinEvent,
    LeaveEvent,
    VoteEvent,
    encode,
)

from . import policy
from .peer import CLOSE_REVOKED, Peer

#: Events that reach their writer's connection too: a vote's results are
#: the server's count (the writer cannot work them out: other votes may be
#: in flight, and its other processes may have counted them already).
ECHOED = (VoteEvent,)


def _cut_silent(pongs: list[tuple[Peer, Awaitable[float]]]) -> None:
    """Cut off the clients whose pong has not come back."""
    for peer, pong in pongs:
        if isinstance(pong, asyncio.Future) and not pong.done():
            peer.evict("keepalive ping timeout")


class Hub:
    """Connected peers by user, group membership, and event fan-out."""

    def __init__(self, max_connections_per_user: int) -> None:
        self._max_per_user = max_connections_per_user
        self._by_user: dict[int, set[Peer]] = {}
        #: The peer of every open connection, signed in or not.
        self._connected: set[Peer] = set()
        #: Connections signed in, all users together.
        self.signed_in = 0
        self._members: dict[int, dict[int, str]] = {}  # group -> {user: role}
        self._visibility: dict[int, str] = {}

    def load(self, members: dict[int, dict[int, str]], visibility: dict[int, str]) -> None:
        self._members = members
        self._visibility = visibility

    def opened(self, peer: Peer) -> None:
        self._connected.add(peer)

    def closed(self, peer: Peer) -> None:
        self._connected.discard(peer)
        self.detach(peer)

    def attach(self, peer: Peer, user: int, name: str, token_id: int) -> bool:
        """Register an authenticated peer; False when the user has too many."""
        peers = self._by_user.setdefault(user, set())
        if len(peers) >= self._max_per_user:
            if not peers:
                del self._by_user[user]
            return False
        peer.user, peer.name, peer.token_id = user, name, token_id
        peers.add(peer)
        self.signed_in += 1
        return True

    def detach(self, peer: Peer) -> None:
        if peer.user is None:
            return
        peers = self._by_user.get(peer.user)
        if peers is not None and peer in peers:
            peers.remove(peer)
            self.signed_in -= 1
            if not peers:
                del self._by_user[peer.user]

    def peers(self, user: int | None = None) -> Iterable[Peer]:
        """Every connected peer, or those of one user."""
        if user is not None:
            yield from self._by_user.get(user, ())
            return
        for peers in self._by_user.values():
            yield from peers

    def sweep(self) -> int:
        """Let quiet connections give back their compressors; how many did."""
        return sum(peer.sweep() for peer in self._connected)

    async def keep_alive(self, interval: float, pong_within: float | None) -> None:
        """Ping every connection each ``interval`` seconds; cut off those whose pong
        is more than ``pong_within`` seconds late. One task for all, not one each."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            pongs: list[tuple[Peer, Awaitable[float]]] = []
            for peer in list(self._connected):
                with contextlib.suppress(ConnectionClosed):
                    pong = await peer.ping()
                    if pong is not None:
                        pongs.append((peer, pong))
            if pong_within is not None and pongs:
                loop.call_later(pong_within, _cut_silent, pongs)

    def connections(self, user: int) -> int:
        return len(self._by_user.get(user, ()))

    def end_token(self, token_id: int, reason: str) -> None:
        """Close every connection opened with a token that no longer exists."""
        for peer in list(self.peers()):
            if peer.token_id == token_id:
                peer.revoked = True  # refused from now on, whatever is still queued
                peer.close_after_flush(CLOSE_REVOKED, reason)

    def publish(self, batch: Sequence[tuple[Sequence[Event], object]]) -> None:
        """Fan out one committed batch (called in commit order, on the loop).

        Each event is encoded once; each client gets its share of the batch
        in one frame (a Batch when it is several events): one compression
        and one write per client per commit, however busy the groups are.
        The writer of an event gets its acknowledgement instead (and the
        event too, for the ``ECHOED`` kinds).
        """
        if len(batch) == 1 and len(batch[0][0]) == 1:  # the common case: one event
            [([event], origin)] = batch
            self._apply(event)
            data = encode(event).encode()
            for peer in self._audience(event):
                if peer is not origin or isinstance(event, ECHOED):
                    peer.deliver(event.seq, data)
            return
        outgoing: dict[Peer, list[tuple[int, bytes]]] = {}
        for events, origin in batch:
            # A write's joins count for all its events (a new direct chat's
            # first member's join reaches the second), as for a catch-up,
            # which goes by who is in the group.
            for event in events:
                if isinstance(event, JoinEvent):
                    self._apply(event)
            for event in events:
                self._apply(event)
                item = (event.seq, encode(event).encode())
                for peer in self._audience(event):
                    if peer is not origin or isinstance(event, ECHOED):
                        outgoing.setdefault(peer, []).append(item)
        for peer, items in outgoing.items():
            peer.deliver_all(items)

    def _audience(self, event: Event) -> Iterable[Peer]:
        """The connected peers that may see ``event``."""
        users = policy.audience(event, self._members, self._visibility)
        if users is None:
            return list(self.peers())
        by_user = self._by_user
        return [p for u in users if u in by_user for p in by_user[u]]

    def _apply(self, event: Event) -> None:
        """Keep the fan-out tables in step with the committed event stream."""
        if isinstance(event, JoinEvent):
            self._members.setdefault(event.group, {})[event.user] = event.role
        elif isinstance(event, LeaveEvent):
            self._members.get(event.group, {}).pop(event.user, None)
        elif isinstance(event, GroupEvent):
            self._visibility[event.group] = event.visibility
