"""What an acknowledged write of ours did, as the events the server stored.

The server does not send a connection the events of its own writes (the
client has their text already: sending it back would double the bytes of
every message). The acknowledgement says where the write went (its sequence
number, time and, for a new group or direct chat, the group); this module
turns the request and its acknowledgement into the events the server
stored, and the cache applies them with the same reducer as pushed events.

One function per kind of write, in ``OWN_EVENTS``; a write with no entry
changes nothing here until the server's list says so (a role change, say).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from rse_tui.protocol import (
    AckEvent,
    Acknowledge,
    AddMember,
    Approve,
    ChatEvent,
    CommentEvent,
    CreateGroup,
    DeleteEvent,
    DeleteMessage,
    EditEvent,
    EditMessage,
    Feature,
    FeatureEvent,
    GroupEvent,
    GroupSettings,
    JoinEvent,
    JoinGroup,
    LeaveEvent,
    LeaveGroup,
    MarkRead,
    PinEvent,
    PinMessage,
    PostEvent,
    React,
    ReactEvent,
    ReadEvent,
    RemoveMember,
    RequestEvent,
    RequestJoin,
    Role,
    SendChat,
    SendComment,
    SendDirect,
    SendPost,
    Vote,
    WriteOk,
    WriteRequest,
    settings_of,
)

from .feed import MyVote
from .reduce import DirectChat, Fact, NewGroup


class Known(Protocol):
    """What the cache knows that an acknowledgement does not say."""

    def group_of(self, message: int) -> int | None:
        """The group of a cached message."""

    def settings(self, group: int) -> dict[str, Any]:
        """A cached group's name and settings, as GroupEvent fields."""


@dataclass(frozen=True, slots=True)
class Ack:
    """One acknowledged write: who wrote it, where it went, when (``ts``)."""

    me: int
    ok: WriteOk
    ts: int
    known: Known


def _chat(req: SendChat, a: Ack) -> list[Fact]:
    return [
        ChatEvent(seq=a.ok.seq, group=req.group, user=a.me, ts=a.ts, text=req.text, reply=req.reply)
    ]


def _post(req: SendPost, a: Ack) -> list[Fact]:
    return [
        PostEvent(
            seq=a.ok.seq, group=req.group, user=a.me, ts=a.ts, text=req.text,
            title=req.title or None, ack=req.ack, poll=req.poll,
        )
    ]  # fmt: skip


def _comment(req: SendComment, a: Ack) -> list[Fact]:
    group = a.known.group_of(req.post) or 0
    if not group:
        return []  # a post this cache does not hold: its thread will say, when read
    return [
        CommentEvent(seq=a.ok.seq, group=group, user=a.me, ts=a.ts, text=req.text, post=req.post)
    ]


def _vote(req: Vote, a: Ack) -> list[Fact]:
    return [MyVote(target=req.target, choices=list(req.choices), seq=a.ok.seq)]


def _acknowledge(req: Acknowledge, a: Ack) -> list[Fact]:
    group = a.known.group_of(req.target) or 0
    return [AckEvent(seq=a.ok.seq, group=group, user=a.me, target=req.target)]


def _read(req: MarkRead, a: Ack) -> list[Fact]:
    return [ReadEvent(seq=a.ok.seq, group=req.group, user=a.me, upto=req.upto)]


def _feature(req: Feature, a: Ack) -> list[Fact]:
    group = a.known.group_of(req.target) or 0
    return [FeatureEvent(seq=a.ok.seq, group=group, user=a.me, target=req.target, on=req.on)]


def _direct(req: SendDirect, a: Ack) -> list[Fact]:
    if a.ok.group is None:
        return []
    return [
        DirectChat(group=a.ok.group, user=req.user, seq=a.ok.seq),
        ChatEvent(seq=a.ok.seq, group=a.ok.group, user=a.me, ts=a.ts, text=req.text),
    ]


def _create(req: CreateGroup, a: Ack) -> list[Fact]:
    if a.ok.group is None:
        return []
    event: Any = GroupEvent  # its settings are CreateGroup's, by name
    return [
        event(seq=a.ok.seq, group=a.ok.group, user=a.me, ts=a.ts, **settings_of(req)),
        NewGroup(group=a.ok.group, user=a.me, seq=a.ok.seq),
    ]


def _settings(req: GroupSettings, a: Ack) -> list[Fact]:
    settings = a.known.settings(req.group)
    if not settings:
        return []  # a group this cache does not hold: its list will say
    changed = {k: v for k, v in settings_of(req).items() if v is not None}
    event: Any = GroupEvent
    return [event(seq=a.ok.seq, group=req.group, user=a.me, ts=a.ts, **(settings | changed))]


def _join(req: JoinGroup, a: Ack) -> list[Fact]:
    return [JoinEvent(seq=a.ok.seq, group=req.group, user=a.me)]


def _leave(req: LeaveGroup, a: Ack) -> list[Fact]:
    return [LeaveEvent(seq=a.ok.seq, group=req.group, user=a.me)]


def _ask(req: RequestJoin, a: Ack) -> list[Fact]:
    return [RequestEvent(seq=a.ok.seq, group=req.group, user=a.me, ts=a.ts)]


def _approve(req: Approve, a: Ack) -> list[Fact]:
    return [JoinEvent(seq=a.ok.seq, group=req.group, user=req.user, by=a.me)]


def _add(req: AddMember, a: Ack) -> list[Fact]:
    role = Role.MODERATOR if req.moderator else Role.MEMBER
    return [JoinEvent(seq=a.ok.seq, group=req.group, user=req.user, role=role, by=a.me)]


def _remove(req: RemoveMember, a: Ack) -> list[Fact]:
    return [LeaveEvent(seq=a.ok.seq, group=req.group, user=req.user, by=a.me)]


# A message not cached has no known group (0): the change is kept for when it comes.


def _delete(req: DeleteMessage, a: Ack) -> list[Fact]:
    group = a.known.group_of(req.target) or 0
    return [DeleteEvent(seq=a.ok.seq, group=group, user=a.me, target=req.target)]


def _edit(req: EditMessage, a: Ack) -> list[Fact]:
    group = a.known.group_of(req.target) or 0
    return [
        EditEvent(
            seq=a.ok.seq, group=group, user=a.me, target=req.target, text=req.text, ts=a.ts,
            title=req.title,
        )
    ]  # fmt: skip


def _pin(req: PinMessage, a: Ack) -> list[Fact]:
    group = a.known.group_of(req.target) or 0
    return [PinEvent(seq=a.ok.seq, group=group, user=a.me, target=req.target, on=req.on)]


def _react(req: React, a: Ack) -> list[Fact]:
    group = a.known.group_of(req.target) or 0
    event = ReactEvent(
        seq=a.ok.seq, group=group, user=a.me, target=req.target, emoji=req.emoji, on=req.on
    )
    return [event]


Convert = Callable[[Any, Ack], list[Fact]]

#: For each kind of write, the events an acknowledgement of it stands for.
OWN_EVENTS: dict[type[WriteRequest], Convert] = {
    SendChat: _chat,
    SendPost: _post,
    SendDirect: _direct,
    CreateGroup: _create,
    GroupSettings: _settings,
    JoinGroup: _join,
    LeaveGroup: _leave,
    RequestJoin: _ask,
    Approve: _approve,
    AddMember: _add,
    RemoveMember: _remove,
    DeleteMessage: _delete,
    EditMessage: _edit,
    PinMessage: _pin,
    React: _react,
    SendComment: _comment,
    Vote: _vote,
    Acknowledge: _acknowledge,
    MarkRead: _read,
    Feature: _feature,
}


def own_events(request: WriteRequest, ack: Ack) -> list[Fact]:
    convert = OWN_EVENTS.get(type(request))
    return [] if convert is None else convert(request, ack)
