"""The outbox: writes stored before they are sent, until the server answers.

Each write is kept as the protocol request it is (its wire form, with its
client id), in the order it was made; it leaves in that order and is
acknowledged in that order. An acknowledged write takes effect here through
the reducer (acks.py turns it into the events the server stored); one
refused for good stays, marked with the reason, for its author to see.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from rse_tui.protocol import (
    GROUP_SETTINGS,
    ChatEvent,
    CommentEvent,
    CreateGroup,
    PostEvent,
    SendChat,
    SendComment,
    SendDirect,
    SendPost,
    Vote,
    WriteOk,
    WriteRequest,
    decode_request,
    encode,
)

from ..models import Changes, OutboxItem
from .acks import Ack, own_events
from .reduce import Reducer


def new_cid() -> str:
    """A client write id: 72 random bits in 12 URL-safe characters.

    Ids only need to be unique per user; 72 bits make a collision among a
    user's writes vanishingly unlikely, and every byte here crosses the wire.
    """
    return secrets.token_urlsafe(9)


W = TypeVar("W", bound=WriteRequest)


def new_write(kind: type[W], **fields: Any) -> W:
    """A write ready for the outbox: its fields and a new client id (the
    request id is the connection's to give when it is sent)."""
    return kind(request_id=0, cid=new_cid(), **fields)


def shown_text(request: WriteRequest) -> str | None:
    """The text a write shows while it waits (a message, a group's name)."""
    if isinstance(request, CreateGroup):
        return request.name
    text = getattr(request, "text", None)
    return text if isinstance(text, str) else None


@dataclass(frozen=True, slots=True)
class Acked:
    """What acknowledgements changed, and what the engine should ask next."""

    changes: Changes
    recount: list[int]  # groups whose member count only the server knows now
    unknown_users: bool  # someone to ask the name of (a new direct chat)


class Outbox(Reducer):
    """Queueing writes, handing them out in order, and taking in the answers."""

    _OUTBOX = "cid, frame, grp, text, created, attempts, error, n"

    def enqueue(self, request: WriteRequest, created: float | None = None) -> str:
        """Store a write before it is sent (made at ``created``, default now); it
        stays until acknowledged. Returns its client id."""
        group = getattr(request, "group", None)
        self.conn.execute(
            "INSERT INTO outbox (cid, op, frame, grp, text, created) VALUES (?, ?, ?, ?, ?, ?)",
            (
                request.cid,
                request.TYPE,
                encode(request),
                group if isinstance(group, int) else None,
                shown_text(request),
                time.time() if created is None else created,
            ),
        )
        return request.cid

    @staticmethod
    def _item(row: tuple[Any, ...]) -> OutboxItem:
        cid, frame, group, text, created, attempts, error, n = row
        request = decode_request(frame)
        assert isinstance(request, WriteRequest)
        return OutboxItem(cid, request, group, text, created, attempts, error, n)

    def outbox(self, *, include_failed: bool = False) -> list[OutboxItem]:
        where = "" if include_failed else " WHERE error IS NULL"
        rows = self.conn.execute(f"SELECT {self._OUTBOX} FROM outbox{where} ORDER BY n")
        return [self._item(r) for r in rows.fetchall()]

    def take_outbox(self, after: int, limit: int) -> list[OutboxItem]:
        """The next pending writes after place ``after``, in order, counted as attempted."""
        with self._tx():
            rows = self.conn.execute(
                f"SELECT {self._OUTBOX} FROM outbox WHERE error IS NULL AND n > ?"
                " ORDER BY n LIMIT ?",
                (after, limit),
            ).fetchall()
            if rows:
                self.conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1"
                    " WHERE error IS NULL AND n > ? AND n <= ?",
                    (after, rows[-1][-1]),
                )
        return [self._item(r) for r in rows]

    def pending_vote(self, target: int) -> list[int] | None:
        """My newest vote in the poll of post ``target`` still waiting to be
        sent (None: none waits)."""
        for (frame,) in self.conn.execute(
            "SELECT frame FROM outbox WHERE op = ? AND error IS NULL ORDER BY n DESC", (Vote.TYPE,)
        ).fetchall():
            request = decode_request(frame)
            if isinstance(request, Vote) and request.target == target:
                return list(request.choices)
        return None

    def first_pending(self) -> str | None:
        """The client id of the oldest write waiting to be sent, if any."""
        row = self.conn.execute(
            "SELECT cid FROM outbox WHERE error IS NULL ORDER BY n LIMIT 1"
        ).fetchone()
        return None if row is None else str(row[0])

    def outbox_count(self) -> int:
        return int(
            self.conn.execute("SELECT count(*) FROM outbox WHERE error IS NULL").fetchone()[0]
        )

    def acknowledged(self, acks: Iterable[tuple[OutboxItem, WriteOk]]) -> Acked:
        """The server stored these writes: take them out of the outbox and apply
        the events they stand for, with the reducer pushed events go through."""
        with self._tx():
            run = self._reduction(given_back=True)
            run.changes.outbox = run.changes.groups = True
            for item, ok in acks:
                self.conn.execute("DELETE FROM outbox WHERE cid = ?", (item.cid,))
                if run.me is None:
                    continue
                ack = Ack(run.me, ok, ok.ts or int(time.time()), self)
                for event in own_events(item.request, ack):
                    self._reduce(event, run)
                    if isinstance(event, ChatEvent | PostEvent | CommentEvent):  # found by its id
                        self.conn.execute(
                            "UPDATE messages SET cid = ? WHERE seq = ?", (item.cid, event.seq)
                        )
            # The cursor stays: only the pushed stream moves it. Pushed events
            # numbered below this write may still wait to be applied, and a
            # cursor past them would skip them after a reconnect. (The write's
            # own events come again with the next catch-up; applying them
            # twice changes nothing.)
        return Acked(run.changes, sorted(run.recount), run.unknown_users)

    # What acknowledgements need to know that they do not say (acks.Known).

    def group_of(self, message: int) -> int | None:
        row = self.conn.execute("SELECT grp FROM messages WHERE seq = ?", (message,)).fetchone()
        return None if row is None else int(row[0])

    def settings(self, group: int) -> dict[str, Any]:
        row = self.conn.execute(
            f"SELECT {', '.join(GROUP_SETTINGS)} FROM groups WHERE id = ? AND known = 1", (group,)
        ).fetchone()
        return {} if row is None else dict(zip(GROUP_SETTINGS, row, strict=True))

    def stored_as(self, cid: str) -> int | None:
        """The sequence number of my message written as ``cid``, once stored."""
        row = self.conn.execute("SELECT seq FROM messages WHERE cid = ?", (cid,)).fetchone()
        return None if row is None else int(row[0])

    def rewrite_unsent(self, cid: str, text: str) -> bool:
        """Give a message still waiting in the outbox, and never sent, new text
        (nobody has seen the old one); False once it has left or is gone."""
        with self._tx():
            row = self.conn.execute(
                "SELECT frame FROM outbox WHERE cid = ? AND attempts = 0 AND error IS NULL",
                (cid,),
            ).fetchone()
            if row is None:
                return False
            request = decode_request(row[0])
            if not isinstance(request, SendChat | SendPost | SendDirect | SendComment):
                return False
            request.text = text
            self.conn.execute(
                "UPDATE outbox SET frame = ?, text = ? WHERE cid = ?", (encode(request), text, cid)
            )
        return True

    def failed(self, cid: str, error: str) -> None:
        self.conn.execute("UPDATE outbox SET error = ? WHERE cid = ?", (error, cid))

    def discard(self, cid: str) -> None:
        self.conn.execute("DELETE FROM outbox WHERE cid = ?", (cid,))
