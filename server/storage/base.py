"""Shared pieces of the store: transactions, the event log, receipts, the charter gate."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from rse_tui.protocol import (
    GROUP_SETTINGS,
    RESEND_LATER,
    AckEvent,
    CharterEvent,
    ChatEvent,
    CommentEvent,
    DeleteEvent,
    EditEvent,
    ErrorCode,
    Event,
    FeatureEvent,
    GroupEvent,
    JoinEvent,
    LeaveEvent,
    PinEvent,
    Poll,
    PostEvent,
    ProtocolError,
    ReactEvent,
    ReadEvent,
    RequestEvent,
    Role,
    VoteEvent,
    from_wire,
    to_wire,
)

from ..database import Outcome

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a write answers: its sequence number, time and new group id."""

    seq: int
    ts: int | None = None
    group: int | None = None


@dataclass(frozen=True, slots=True)
class TokenRow:
    user: int
    name: str
    hash: bytes
    admin: bool
    last_used: int | None = None
    created: int = 0


@dataclass(frozen=True, slots=True)
class CatchUp:
    head: int
    events: list[Event]
    gap_upto: int | None  # events in (since, gap_upto] were skipped
    #: Sources read (the user's groups, and the events everyone sees): what the
    #: catch-up cost besides the events it carries.
    sources: int = 0


EVENT_COLUMNS = "seq, kind, grp, user, ts, body, ref, edited, meta"


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction of its own, for callers outside the writer thread."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# -- the event log -------------------------------------------------------------


def _body(body: str | None) -> dict[str, Any]:
    if body and body.startswith("{"):
        data = json.loads(body)
        return data if isinstance(data, dict) else {}
    return {}


#: GroupEvent's wire names by field name: a ``g`` event's stored body uses them.
_GROUP_WIRE = {f.name: f.metadata["wire"] for f in fields(GroupEvent)}


def group_body(settings: dict[str, Any]) -> dict[str, Any]:
    """The body a ``g`` event is stored with: a group's ``settings`` and ``dm``, in
    their order, under GroupEvent's wire names; an empty description and ``dm`` false
    are left out (as None values are, by :func:`append`)."""
    body = {_GROUP_WIRE[name]: value for name, value in settings.items()}
    body[_GROUP_WIRE["description"]] = settings["description"] or None
    body[_GROUP_WIRE["dm"]] = 1 if settings["dm"] else None
    return body


def _group_settings(data: dict[str, Any]) -> dict[str, Any]:
    """The settings and ``dm`` a stored ``g`` body holds (:func:`group_body` read back;
    a setting left out takes GroupEvent's default)."""
    settings = {
        name: data[_GROUP_WIRE[name]] for name in GROUP_SETTINGS if _GROUP_WIRE[name] in data
    }
    return {**settings, "dm": bool(data.get(_GROUP_WIRE["dm"]))}


def post_meta(title: str | None, ack: bool, poll: Poll | None) -> str | None:
    """What a post stores in ``meta``: its PostEvent fields besides the text,
    under their wire names (None when it has none)."""
    meta: dict[str, Any] = {}
    if title:
        meta["ti"] = title
    if ack:
        meta["ak"] = 1
    if poll is not None:
        meta["po"] = to_wire(poll)
    return json.dumps(meta, separators=(",", ":")) if meta else None


def _post(
    seq: int, grp: int, user: int, ts: int, text: str, edited: int | None, meta: str | None
) -> PostEvent:
    data = _body(meta)
    poll = data.get("po")
    return PostEvent(
        seq=seq,
        group=grp,
        user=user,
        ts=ts,
        text=text,
        edited=edited,
        title=data.get("ti"),
        ack=bool(data.get("ak")),
        poll=from_wire(Poll, poll) if poll else None,
    )


def event_from_row(
    row: tuple[int, str, int | None, int, int, str | None, int | None, int | None, str | None],
) -> Event:
    seq, kind, grp, user, ts, body, ref, edited, meta = row
    if kind == CharterEvent.TYPE:
        return CharterEvent(seq=seq, version=int(body or 0), ts=ts)
    assert grp is not None
    if kind == ChatEvent.TYPE:
        text = body or ""
        return ChatEvent(seq=seq, group=grp, user=user, ts=ts, text=text, reply=ref, edited=edited)
    if kind == PostEvent.TYPE:
        return _post(seq, grp, user, ts, body or "", edited, meta)
    if kind == CommentEvent.TYPE:
        assert ref is not None
        text = body or ""
        return CommentEvent(
            seq=seq, group=grp, user=user, ts=ts, text=text, post=ref, edited=edited
        )
    if kind == VoteEvent.TYPE:
        assert ref is not None
        data = _body(body)
        return VoteEvent(
            seq=seq,
            group=grp,
            target=ref,
            counts=data["n"],
            voters=data["vt"],
            user=user or None,
            choices=data.get("c"),
        )
    if kind == AckEvent.TYPE:
        assert ref is not None
        return AckEvent(seq=seq, group=grp, user=user, target=ref)
    if kind == ReadEvent.TYPE:
        return ReadEvent(seq=seq, group=grp, user=user, upto=_body(body)["up"])
    if kind == FeatureEvent.TYPE:
        assert ref is not None
        on = bool(_body(body).get("on", 1))
        return FeatureEvent(seq=seq, group=grp, user=user, target=ref, on=on)
    if kind == EditEvent.TYPE:
        assert ref is not None
        title = _body(meta).get("ti") if meta else None
        return EditEvent(
            seq=seq, group=grp, user=user, target=ref, text=body or "", ts=ts, title=title
        )
    if kind == GroupEvent.TYPE:
        data = _body(body)
        if not data:  # schema 1 stored the bare name
            return GroupEvent(seq=seq, group=grp, user=user, ts=ts, name=body or "")
        return GroupEvent(seq=seq, group=grp, user=user, ts=ts, **_group_settings(data))
    if kind == JoinEvent.TYPE:
        data = _body(body)
        return JoinEvent(
            seq=seq,
            group=grp,
            user=user,
            role=data.get("r", Role.MEMBER),
            by=data.get("by"),
            members=data.get("mc"),
        )
    if kind == LeaveEvent.TYPE:
        data = _body(body)
        return LeaveEvent(seq=seq, group=grp, user=user, by=data.get("by"), members=data.get("mc"))
    if kind == RequestEvent.TYPE:
        return RequestEvent(seq=seq, group=grp, user=user, ts=ts)
    if kind == DeleteEvent.TYPE:
        return DeleteEvent(seq=seq, group=grp, user=user, target=_body(body)["tg"])
    if kind == PinEvent.TYPE:
        data = _body(body)
        return PinEvent(seq=seq, group=grp, user=user, target=data["tg"], on=bool(data["on"]))
    if kind == ReactEvent.TYPE:
        data = _body(body)
        return ReactEvent(
            seq=seq, group=grp, user=user, target=data["tg"], emoji=data["e"], on=bool(data["on"])
        )
    raise ValueError(f"unknown event kind {kind!r} at seq {seq}")


def append(
    conn: sqlite3.Connection,
    kind: str,
    grp: int | None,
    user: int,
    ts: int,
    body: str | dict[str, Any] | None,
    ref: int | None = None,
    meta: str | None = None,
) -> int:
    """Add one event to the log; return its sequence number.

    ``ref``: the message a reply, comment, edit, vote... is about; ``meta``:
    a post's extras (see :func:`post_meta`).
    """
    if isinstance(body, dict):
        body = json.dumps({k: v for k, v in body.items() if v is not None}, separators=(",", ":"))
    cur = conn.execute(
        "INSERT INTO events (kind, grp, user, ts, body, ref, meta) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (kind, grp, user, ts, body, ref, meta),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


# -- idempotency ---------------------------------------------------------------


def receipt(conn: sqlite3.Connection, user: int, cid: str, op: str | None = None) -> Receipt | None:
    """The first result of the write ``cid``; with ``op``, refused if that write
    was of another kind (its answer would acknowledge what was never done)."""
    row = conn.execute(
        "SELECT result FROM receipts WHERE user = ? AND cid = ?", (user, cid)
    ).fetchone()
    if row is None:
        return None
    data = json.loads(row[0])
    if op is not None and data.get("o", op) != op:
        raise ProtocolError(
            ErrorCode.BAD_FIELD,
            f"write id {cid!r} was used for another kind of write; each write needs its own",
        )
    if "e" in data:  # refused for good the first time: the same answer again
        raise ProtocolError(ErrorCode(data["e"]), data["m"])
    return Receipt(seq=data["s"], ts=data.get("ts"), group=data.get("g"))


def keep_refusal(
    conn: sqlite3.Connection, user: int, cid: str, op: str, error: ProtocolError
) -> None:
    """A write refused for good keeps its refusal as its answer: sent again
    (its answer lost on the way), it is refused again, never stored later,
    after the writes its client made after it, because the rules changed."""
    conn.execute(
        "INSERT INTO receipts (user, cid, result) VALUES (?, ?, ?)",
        (user, cid, json.dumps({"e": error.code.value, "m": error.message, "o": op})),
    )


def _label_receipt(conn: sqlite3.Connection, user: int, cid: str, op: str) -> None:
    conn.execute(
        "UPDATE receipts SET result = json_set(result, '$.o', ?) WHERE user = ? AND cid = ?",
        (op, user, cid),
    )


def keep_receipt(conn: sqlite3.Connection, user: int, cid: str, result: Receipt) -> None:
    data = {"s": result.seq, "ts": result.ts, "g": result.group}
    conn.execute(
        "INSERT INTO receipts (user, cid, result) VALUES (?, ?, ?)",
        (user, cid, json.dumps({k: v for k, v in data.items() if v is not None})),
    )


# -- the charter gate ------------------------------------------------------------


def charter_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(version), 0) FROM charters").fetchone()[0])


class Overtakes(Exception):
    """The write would be stored before one its client sent earlier and must resend."""


def as_user(
    conn: sqlite3.Connection,
    user: int,
    fn: Callable[Concatenate[sqlite3.Connection, int, P], T],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run ``fn(conn, user, ...)``, a write others see: only once ``user`` has
    accepted the current charter."""
    current = charter_version(conn)
    if current:
        row = conn.execute("SELECT charter FROM users WHERE id = ?", (user,)).fetchone()
        if row is None or row[0] < current:
            raise ProtocolError(
                ErrorCode.CHARTER,
                f"accept the usage charter (version {current}) before writing",
            )
    return fn(conn, user, *args, **kwargs)


def as_client(
    conn: sqlite3.Connection,
    user: int,
    op: str,
    after: str | None,
    fn: Callable[Concatenate[sqlite3.Connection, int, P], Outcome[Receipt]],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> Outcome[Receipt]:
    """Run a write a client sent for ``user``: the gate every such write goes through.

    A write whose client id (``cid``) was already stored answers with its first
    result and stores nothing (before any other check: a resend must get the
    same answer even if the rules changed since). A write that must come
    ``after`` another (the client's earlier write, refused for now) raises
    Overtakes until that one is stored. Otherwise the user must have accepted
    the current charter (``as_user``). ``op`` (the request's type) is kept with
    the result: a client id reused for another kind of write is refused, not
    answered.
    """
    cid = cast(str | None, kwargs.get("cid"))
    if cid is not None:
        done = receipt(conn, user, cid, op)
        if done is not None:
            return Outcome(done, replayed=True)
    if after is not None and receipt(conn, user, after) is None:
        raise Overtakes(after)
    if cid is None:
        return as_user(conn, user, fn, *args, **kwargs)
    conn.execute("SAVEPOINT attempt")
    try:
        result = as_user(conn, user, fn, *args, **kwargs)
    except ProtocolError as exc:
        conn.execute("ROLLBACK TO attempt")
        conn.execute("RELEASE attempt")
        if exc.code in RESEND_LATER:
            raise  # refused for now: sent again, it may be stored
        keep_refusal(conn, user, cid, op, exc)
        return Outcome(Receipt(seq=0), refused=exc)
    conn.execute("RELEASE attempt")
    _label_receipt(conn, user, cid, op)
    return result
