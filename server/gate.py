"""Admission: how many connections the server holds, and from where.

A socket is an open file from the moment it is accepted, whether or not it
ever completes its handshake or signs in. ``Gate`` counts each one, by remote
address and in total, from accept to close, and decides:

- at accept: a socket past the ceiling (the total cap and the few kept to be
  answered 503), or from an address that holds twice its share already, is
  closed at once without an answer. That is what keeps the server inside
  its open-file limit (and out of ``EMFILE``) whatever clients do;
- at the handshake: over the address's share, HTTP 429; over the total,
  HTTP 503; without a token while the connections not signed in fill their
  share of the total, HTTP 503. A reconnect with a token is let in past
  that share (and closed if the token fails), so that idle anonymous
  sockets from many addresses leave signed-in users their places.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from .config import Limits

log = logging.getLogger(__name__)

#: Sockets kept past the total cap until their request comes, to answer it
#: 503 (a socket that sends nothing keeps its place up to the handshake
#: timeout); past these, a new socket is closed as soon as it is accepted.
ANSWERED_PAST_CAP = 64


def open_file_limit() -> int | None:
    """This process's soft limit on open files; None where there is none to read."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


@dataclass(frozen=True, slots=True)
class Caps:
    """How many connections: in all, not signed in, and from one address."""

    total: int
    anonymous: int
    per_address: int

    @classmethod
    def of(cls, limits: Limits, open_files: int | None) -> Caps:
        """The caps ``limits`` give within an open-file limit (None: no limit known)."""
        total = limits.max_connections
        if open_files is not None:
            total = min(total, open_files - limits.spare_files)
        total = max(total, 1)
        anonymous = max(1, int(total * limits.anonymous_share))
        return cls(total, anonymous, limits.max_connections_per_address)


class Gate:
    """Counts open sockets and says which to refuse; ``signed_in`` counts those signed in."""

    def __init__(self, caps: Caps, signed_in: Callable[[], int]) -> None:
        self.caps = caps
        self._signed_in = signed_in
        #: Sockets open now, at any stage (before the handshake, refused, signed in).
        self.open = 0
        self._by_address: dict[str, int] = {}

    def opened(self, address: str) -> bool:
        """Count a socket just accepted; False when it is to be closed at once."""
        self.open += 1
        held = self._by_address.get(address, 0) + 1
        self._by_address[address] = held
        return (
            self.open <= self.caps.total + ANSWERED_PAST_CAP and held <= 2 * self.caps.per_address
        )

    def closed(self, address: str) -> None:
        self.open -= 1
        left = self._by_address.get(address, 1) - 1
        if left:
            self._by_address[address] = left
        else:
            self._by_address.pop(address, None)

    def held(self, address: str) -> int:
        return self._by_address.get(address, 0)

    @property
    def anonymous(self) -> int:
        """Sockets open and not signed in (handshakes under way included)."""
        return self.open - self._signed_in()

    def anonymous_full(self) -> bool:
        return self.anonymous > self.caps.anonymous

    def refusal(self, address: str, *, token: bool) -> tuple[HTTPStatus, str] | None:
        """Why a handshake (its socket counted) is refused, or None to let it in."""
        if self.held(address) > self.caps.per_address:
            return HTTPStatus.TOO_MANY_REQUESTS, "too many connections from this address"
        if self.open > self.caps.total:
            return HTTPStatus.SERVICE_UNAVAILABLE, "too many connections; retry later"
        if not token and self.anonymous_full():
            return (
                HTTPStatus.SERVICE_UNAVAILABLE,
                "too many connections waiting to sign in; retry later",
            )
        return None


class AcceptFailures:
    """An event-loop exception handler that keeps a server short of files from
    flooding its log.

    asyncio reports each ``accept()`` that fails for want of files or memory
    (``EMFILE``, ``ENFILE``, ``ENOBUFS``, ``ENOMEM``) with a traceback, and
    (in Python 3.11) goes on trying the rest of its batch of 100 before it
    pauses a second: measured, 600 to 1,300 reports a second while it lasts.
    This logs the first as one line, then at most one a minute with how many
    there were; anything else goes to the handler that was there before.
    The connection caps keep the server from getting there at all.
    """

    MESSAGE = "socket.accept() out of system resource"

    def __init__(
        self,
        previous: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None,
        every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._previous = previous
        self._every = every
        self._clock = clock
        self._quiet_until = float("-inf")
        self._unreported = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != self.MESSAGE:
            if self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        self._unreported += 1
        now = self._clock()
        if now < self._quiet_until:
            return
        first = self._quiet_until == float("-inf")
        exc = context.get("exception")
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        n = self._unreported
        times = "" if first else f" ({n} time{'s' * (n > 1)} since the last report)"
        log.warning("cannot accept connections: %s%s; retrying every second", why, times)
        self._unreported = 0
        self._quiet_until = now + self._every


def quiet_accept_failures(loop: asyncio.AbstractEventLoop) -> None:
    """Install ``AcceptFailures`` on ``loop``, in front of its current handler."""
    loop.set_exception_handler(AcceptFailures(loop.get_exception_handler()))
