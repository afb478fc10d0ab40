"""Keys wait while something under way decides where they go.

The app routes each key as it arrives, before the next (``RseApp._route``).
Some keys start something that changes where the keys typed after them
belong, and that something takes a while: ctrl+k opens the quick switcher
(the name typed next is its query), Enter there opens a group (the text typed
next is a message to that group), F2 opens the directory after asking the
server. Each of these closes a gate; while any gate is closed, the keys typed
wait here, in order, and are routed once every gate is open again: to the
dialog once it is on screen, to the composer once it is answered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from textual import events


class Gate:
    """One thing under way that the next keys wait for (closed) or not (open).

    Opening and closing are idempotent; a gate that is never closed again
    after its last ``open`` holds nothing.
    """

    def __init__(self, gates: Gates, why: str) -> None:
        self._gates = gates
        self.why = why

    @property
    def closed(self) -> bool:
        return self in self._gates.closed

    def close(self) -> Gate:
        self._gates.closed.add(self)
        return self

    def open(self) -> None:
        if self in self._gates.closed:
            self._gates.closed.discard(self)
            self._gates.opened()

    def __repr__(self) -> str:
        return f"Gate({self.why!r}, {'closed' if self.closed else 'open'})"


class Gates:
    """The gates of one app and the keys waiting behind them."""

    def __init__(self, let_through: Callable[[], object]) -> None:
        self.closed: set[Gate] = set()
        self.held: deque[events.Key | events.Paste] = deque()
        self._let_through = let_through  # schedules the routing of the held keys

    def gate(self, why: str) -> Gate:
        """A new gate, closed: keys typed from now on wait until it opens."""
        return Gate(self, why).close()

    @property
    def shut(self) -> bool:
        return bool(self.closed)

    def hold(self, event: events.Key | events.Paste) -> bool:
        """Keep ``event`` when keys are waiting (a gate is closed, or keys held
        before it are still to be routed): True when it was kept."""
        if self.closed or self.held:
            self.held.append(event)
            return True
        return False

    def opened(self) -> None:
        if not self.closed and self.held:
            self._let_through()
