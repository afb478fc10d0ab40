"""Token buckets keyed by user (or by connection before login).

``take`` answers "now or refuse"; ``reserve`` lets a caller that can wait
(a signed-in connection, whose requests are handled one after the other)
take a token from the future and sleep until it is due.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """``take(key)`` returns 0 when allowed, else the seconds to wait."""

    def __init__(
        self,
        burst: float,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[Hashable, _Bucket] = {}

    def take(self, key: Hashable, cost: float = 1.0) -> float:
        bucket = self._bucket(key)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.per_second

    def reserve(self, key: Hashable, within: float, cost: float = 1.0) -> float:
        """Take a token now or one still to come: the seconds to wait before acting.

        The token is taken (the bucket may go below zero, so callers that wait
        are served in turn) only when the wait is at most ``within``; a longer
        wait is returned with nothing taken, for the caller to refuse.
        """
        bucket = self._bucket(key)
        wait = max(0.0, (cost - bucket.tokens) / self.per_second)
        if wait <= within:
            bucket.tokens -= cost
        return wait

    def charge(self, key: Hashable, cost: float) -> None:
        """Take ``cost`` more for work already done (the bucket may go below
        zero): the key's next requests wait until it is paid back."""
        self._bucket(key).tokens -= cost

    def forget(self, key: Hashable) -> None:
        """Drop ``key``'s bucket (its connection is gone)."""
        self._buckets.pop(key, None)

    def _bucket(self, key: Hashable) -> _Bucket:
        """``key``'s bucket, refilled up to now."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.per_second)
            bucket.stamp = now
        return bucket

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled: they hold nothing worth keeping."""
        for key in [
            k
            for k, b in self._buckets.items()
            if now - b.stamp >= (self.burst - b.tokens) / self.per_second
        ]:
            del self._buckets[key]


class FailureThrottle:
    """After failed sign-ins, the same (account, address) waits: from the second
    failure in a row, ``first`` seconds, twice as long each time up to ``cap``;
    a success clears it.

    Keyed on the pair, not the account: an attacker elsewhere cannot lock the
    account's owner out, and the attacker's own guesses stop costing a
    password hash (refused before hashing), which keeps the hashing slots for
    everyone else.
    """

    def __init__(
        self,
        first: float = 1.0,
        cap: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.first = first
        self.cap = cap
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[Hashable, tuple[int, float]] = {}  # key -> (count, until)

    def wait(self, key: Hashable) -> float:
        """Seconds before ``key`` may try again (0: now)."""
        entry = self._failures.get(key)
        return 0.0 if entry is None else max(0.0, entry[1] - self._clock())

    def failed(self, key: Hashable) -> None:
        now = self._clock()
        if len(self._failures) >= self._max_keys:
            self._failures = {k: v for k, v in self._failures.items() if v[1] > now}
        count = self._failures.get(key, (0, now))[0] + 1
        # A typo is free: the wait starts at the second failure in a row.
        delay = 0.0 if count == 1 else min(self.first * 2 ** (count - 2), self.cap)
        self._failures[key] = (count, now + delay)

    def succeeded(self, key: Hashable) -> None:
        self._failures.pop(key, None)


class KnownSignIns:
    """Names that signed in from an address lately (the most recent ``size``):
    their next login from there goes ahead of a flood of guesses."""

    def __init__(self, size: int = 100_000) -> None:
        self._size = size
        self._seen: dict[Hashable, None] = {}

    def __contains__(self, key: Hashable) -> bool:
        return key in self._seen

    def add(self, key: Hashable) -> None:
        self._seen.pop(key, None)
        self._seen[key] = None
        if len(self._seen) > self._size:
            del self._seen[next(iter(self._seen))]
