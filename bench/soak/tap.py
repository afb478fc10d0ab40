"""What each client received, frame by frame, bracketed by the server's log head.

Check 4 judges every frame a client received against what its user could
read *at that moment*. The moment is a range of the server's log: from its
newest sequence number when the request went out (for a reply), when the
connection opened (for a catch-up), or the event's own number (for a live
push), to its newest number when the frame arrived.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rse_tui.protocol import Reply, Request, SyncDone
from rse_tui.sync.connection import Connection


@dataclass(frozen=True, slots=True)
class Seen:
    """One frame received: a pushed frame (``request`` None) or a reply."""

    frame: Any
    request: Request | None
    lo: int  # the log's head when it was asked for (0: a live push, judged by its events)
    hi: int  # the log's head when it arrived


class Recorder:
    """Keeps every frame one client's connections receive."""

    def __init__(self, head: Callable[[], int]) -> None:
        self.head = head
        self.seen: list[Seen] = []

    def connect(self) -> Callable[..., Any]:
        """A ``connect`` for the engine whose connections report here."""
        tapped = type("TappedConnection", (_Tapped,), {"recorder": self, "asked_at": 0})

        async def open_tapped(url: str, **options: Any) -> Connection:
            # The server answers the hello and the catch-up as the handshake
            # arrives, which on a slow link is long before the connection
            # object exists here: the moment starts before the handshake.
            tapped.asked_at = self.head()
            return await tapped.open(url, **options)

        return open_tapped


class _Tapped(Connection):
    recorder: Recorder
    asked_at: int  # the log's head before the handshake was sent

    def __init__(self, ws: Any, on_push: Any) -> None:
        self._asked: dict[int, tuple[Request | None, int]] = {}
        self._opened = self.asked_at  # the catch-up is what was readable from here
        self._caught_up = False
        recorder = self.recorder

        def push(frame: Any) -> None:
            lo = 0 if self._caught_up else self._opened
            recorder.seen.append(Seen(frame, None, lo, recorder.head()))
            if on_push is not None:
                on_push(frame)

        super().__init__(ws, push)

    def _expect(self, request_id: int, reply: type[Reply]) -> Any:
        self._asked[request_id] = (None, self._opened)  # hello and sync, in the handshake
        return super()._expect(request_id, reply)

    async def submit(self, request: Request) -> Any:
        self._asked[request.request_id] = (request, self.recorder.head())
        return await super().submit(request)

    def _settle(self, request_id: int, outcome: Any) -> None:
        request, lo = self._asked.pop(request_id, (None, self._opened))
        if isinstance(outcome, Reply):
            self.recorder.seen.append(Seen(outcome, request, lo, self.recorder.head()))
            if isinstance(outcome, SyncDone):
                self._caught_up = True
        super()._settle(request_id, outcome)


def log_head(db: Path) -> Callable[[], int]:
    """The newest sequence number in the server's file, read as a client would
    not: straight from the file (the server may be down, or starting)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5, isolation_level=None)

    def head() -> int:
        for _ in range(50):
            try:
                return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
            except sqlite3.OperationalError:  # the server is recovering the file
                time.sleep(0.01)
        raise RuntimeError("cannot read the server's file")

    return head
