"""Fair turns at a scarce resource (the password-hashing threads).

A plain semaphore serves waiters in arrival order, so fifty addresses sending
wrong passwords as fast as they may keep a queue in front of everyone else
for good. :class:`FairSlots` instead:

- serves the *priority* line first (a name that signed in from this address
  before: the owner coming back, whom a flood must not keep out);
- serves the other waiters by turns, one per *lane* (a remote address) at a
  time, so a lane's place does not depend on how many requests others queue;
- lets each lane have one waiter, and refuses a new waiter outside the
  priority line when ``max_waiting`` already wait: the answer comes at once
  (retry later), not after a wait longer than a client will stay;
- skips a waiter whose connection is gone when its turn comes: a login whose
  client left is never hashed.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable


class Busy(Exception):
    """No place to wait: this lane already waits, or too many do."""


class Gone(Exception):
    """The waiter's connection ended before its turn."""


class _Waiter:
    __slots__ = ("future", "gone")

    def __init__(self, future: asyncio.Future[None], gone: Callable[[], bool] | None) -> None:
        self.future = future
        self.gone = gone


class FairSlots:
    def __init__(self, slots: int, max_waiting: int) -> None:
        self._free = slots
        self._max_waiting = max_waiting
        self._priority: deque[_Waiter] = deque()
        self._lanes: OrderedDict[Hashable, _Waiter] = OrderedDict()

    @property
    def waiting(self) -> int:
        return len(self._priority) + len(self._lanes)

    async def acquire(
        self, lane: Hashable, *, priority: bool = False, gone: Callable[[], bool] | None = None
    ) -> None:
        """Wait for a slot (call :meth:`release` after). Raises Busy or Gone."""
        if self._free > 0 and not self.waiting:
            self._free -= 1
            return
        if not priority and (lane in self._lanes or self.waiting >= self._max_waiting):
            raise Busy
        waiter = _Waiter(asyncio.get_running_loop().create_future(), gone)
        if priority:
            self._priority.append(waiter)
        else:
            self._lanes[lane] = waiter
        try:
            await waiter.future
        except BaseException:
            if waiter.future.done() and not waiter.future.cancelled():
                if waiter.future.exception() is None:
                    self.release()  # handed a slot while being cancelled: pass it on
            else:
                self._forget(lane, waiter)
            raise

    def release(self) -> None:
        """Give the slot to the next waiter still there, or back to the pool."""
        while True:
            waiter = self._next()
            if waiter is None:
                self._free += 1
                return
            if waiter.future.done():
                continue
            if waiter.gone is not None and waiter.gone():
                waiter.future.set_exception(Gone())
                continue
            waiter.future.set_result(None)
            return

    def _next(self) -> _Waiter | None:
        if self._priority:
            return self._priority.popleft()
        if self._lanes:
            return self._lanes.popitem(last=False)[1]
        return None

    def _forget(self, lane: Hashable, waiter: _Waiter) -> None:
        if self._lanes.get(lane) is waiter:
            del self._lanes[lane]
        elif waiter in self._priority:
            self._priority.remove(waiter)
