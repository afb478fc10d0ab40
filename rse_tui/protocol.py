"""The wire contract shared by the rse client and server.

Every frame is a JSON object whose ``t`` field names its type; the other
fields use short wire names (``g`` for a group id, ``x`` for text, ...) to keep
frames small on thin links. Each frame type is a frozen dataclass here whose
fields map to wire names through ``wire()``; ``decode_*`` turns text into one
typed frame or raises :class:`ProtocolError`, ``encode`` does the reverse.

This module is stdlib only: the server and the headless client both import it.
docs/protocol.md documents every frame and error code.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, TypeVar, Union

PROTOCOL_VERSION = 1

#: The largest integer a frame may carry (JSON numbers are doubles elsewhere).
MAX_INT = 2**53 - 1
#: Client write ids: 1 to 64 characters from this alphabet (UUIDs, ULIDs, ...).
CID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
MAX_CID_LEN = 64


class ErrorCode(StrEnum):
    """Typed error codes carried by ``err`` frames."""

    BAD_FRAME = "bad_frame"  # not JSON, not an object, not UTF-8
    UNKNOWN_TYPE = "unknown_type"  # ``t`` names no request
    BAD_FIELD = "bad_field"  # a field is missing or has the wrong type
    TOO_BIG = "too_big"  # the frame exceeds the server's frame limit
    TOO_LONG = "too_long"  # a text exceeds its length limit
    VERSION = "version"  # protocol version not supported
    AUTH_REQUIRED = "auth_required"  # request needs an authenticated connection
    AUTH_FAILED = "auth_failed"  # bad token, name or password
    INVITE_INVALID = "invite_invalid"  # unknown, used or expired invitation
    NAME_TAKEN = "name_taken"  # user or group name already in use
    NOT_FOUND = "not_found"  # unknown id, or one the user may not see
    FORBIDDEN = "forbidden"  # the user may see it but not do this
    CHARTER = "charter"  # accept the current usage charter before writing
    RATE_LIMITED = "rate_limited"  # slow down; ``ra`` says for how many seconds
    TOO_MANY_CONNECTIONS = "too_many_connections"
    INTERNAL = "internal"  # the server failed; the request may be retried


#: Refusals that leave a write to be sent again later (it stays in the client's
#: outbox). After one, the server refuses the same connection's later writes
#: the same way until that write comes again: no write overtakes another.
RESEND_LATER = frozenset(
    {
        ErrorCode.RATE_LIMITED,
        ErrorCode.INTERNAL,
        ErrorCode.CHARTER,
        ErrorCode.TOO_MANY_CONNECTIONS,
    }
)


class ProtocolError(Exception):
    """A request the server refuses, or a frame either side cannot decode."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        request_id: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after


F = TypeVar("F")


def wire(
    name: str,
    default: Any = dataclasses.MISSING,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """Declare a dataclass field carried on the wire under ``name``."""
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata={"wire": name})
    return field(default=default, metadata={"wire": name})


@typing.dataclass_transform(kw_only_default=True, field_specifiers=(wire,))
def frame(cls: type[F]) -> type[F]:
    """Make ``cls`` a frame: a keyword-only, slotted dataclass.

    The protocol module is on the start-up path of every rse process, and
    dataclasses pay for each generated method: frames get only their
    ``__init__`` generated and share one ``__eq__`` and ``__repr__``. Frames are
    treated as immutable values (not declared frozen, for the same reason).
    """
    made = dataclass(kw_only=True, slots=True, repr=False, eq=False)(cls)
    made.__eq__ = _frame_eq  # type: ignore[method-assign]
    made.__repr__ = _frame_repr  # type: ignore[method-assign]
    made.__hash__ = None  # type: ignore[assignment]
    return made


def _frame_eq(self: Any, other: Any) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return all(getattr(self, f.name) == getattr(other, f.name) for f in dataclasses.fields(self))


def _frame_repr(self: Any) -> str:
    fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
    return f"{type(self).__name__}({fields})"


# --------------------------------------------------------------------------
# The vocabulary: the closed sets of words some fields carry.
#
# Each word travels as its plain string (a StrEnum member equals its string
# and JSON-encodes as it). The frame fields that carry them stay typed ``str``
# on purpose: the decoder lets any string through, so that a client still
# decodes a frame naming a word a newer server added (a role, a visibility),
# and the server refuses an unknown word where it always has, inside the write
# gate, with the message naming the allowed words (a refusal kept as that
# write's answer).


class Vocabulary(StrEnum):
    """Base of the word sets below (no members of its own)."""

    @classmethod
    def words(cls) -> tuple[str, ...]:
        """The words as plain strings, in declaration order."""
        return tuple(member.value for member in cls)

    @classmethod
    def knows(cls, word: object) -> bool:
        """Is ``word`` (a string off the wire, say) one of these?"""
        return word in cls._value2member_map_


class Visibility(Vocabulary):
    """Who may see that a group exists, and its content (see server/policy.py)."""

    OPEN = "open"
    PRIVATE = "private"
    SECRET = "secret"


class PostPolicy(Vocabulary):
    """Who may publish to a group's feed."""

    EVERYONE = "everyone"
    MODERATORS = "moderators"


class ChatPolicy(Vocabulary):
    """Who may chat in a group; also who may comment and react (``cm``).

    The post policies are these but ``nobody``: a group's feed is never closed.
    """

    EVERYONE = "everyone"
    MODERATORS = "moderators"
    NOBODY = "nobody"


class Role(Vocabulary):
    """A member's role in a group."""

    MEMBER = "member"
    MODERATOR = "moderator"


class Badge(Vocabulary):
    """A badge a site admin gives a user (shown in the directory)."""

    AMBASSADOR = "ambassador"


class Kind(Vocabulary):
    """The kinds of message: a group's chat, its feed, comments on its posts.
    Each is the ``t`` of its event (ChatEvent, PostEvent, CommentEvent) and
    what a ``hist`` request asks for."""

    CHAT = "c"
    POST = "p"
    COMMENT = "m"


class Reaction(Vocabulary):
    """The reactions one may put on a message (shortcodes; shown as emoji where
    the terminal can)."""

    PLUS_ONE = "+1"
    MINUS_ONE = "-1"
    HEART = "heart"
    TADA = "tada"
    EYES = "eyes"
    CHECK = "check"
    LAUGH = "laugh"
    ROCKET = "rocket"


# --------------------------------------------------------------------------
# Nested records (no ``t``): used inside replies.


@frame
class TokenInfo:
    token_id: int = wire("id")
    created: int = wire("ct")
    last_used: int | None = wire("lu", default=None)
    current: bool = wire("cur", default=False)


@frame
class GroupInfo:
    group: int = wire("g")
    name: str = wire("n")
    member: bool = wire("m", default=False)
    members: int = wire("mc", default=0)
    head: int = wire("h", default=0)  # newest sequence number in the group
    parent: int | None = wire("pa", default=None)
    visibility: str = wire("vis", default=Visibility.OPEN)
    moderator: bool = wire("mod", default=False)
    post_policy: str = wire("pp", default=PostPolicy.EVERYONE)
    chat_policy: str = wire("cp", default=ChatPolicy.EVERYONE)
    comment_policy: str = wire("cm", default=ChatPolicy.EVERYONE)
    description: str = wire("d", default="")
    dm: int | None = wire("dm", default=None)  # a direct chat: the other person
    requested: bool = wire("rq", default=False)  # my request to join is pending
    pins: list[int] = wire("pn", default_factory=list)  # pinned messages, oldest first


#: A group's name and settings: the fields GroupInfo, GroupEvent and CreateGroup
#: share (GroupSettings too, but for ``parent``), and the cache's columns for them.
GROUP_SETTINGS = (
    "name",
    "parent",
    "visibility",
    "post_policy",
    "chat_policy",
    "comment_policy",
    "description",
)


def settings_of(obj: Any) -> dict[str, Any]:
    """A group's settings as carried by ``obj`` (a GroupInfo, GroupEvent, CreateGroup...)."""
    return {name: getattr(obj, name, None) for name in GROUP_SETTINGS}


@frame
class ReactionInfo:
    """Who has reaction ``emoji`` on message ``target`` (a history page's)."""

    target: int = wire("tg")
    emoji: str = wire("e")
    users: list[int] = wire("l", default_factory=list)


@frame
class Poll:
    """A poll a post carries: its options and, as of vote event ``version``,
    how many chose each (``counts``) and how many voted (``voters``)."""

    options: list[str] = wire("o")
    multiple: bool = wire("mu", default=False)
    #: Nobody, admins included, can learn who voted for what (docs/protocol.md).
    anonymous: bool = wire("an", default=False)
    closes: int | None = wire("cl", default=None)  # Unix seconds
    counts: list[int] = wire("n", default_factory=list)
    voters: int = wire("vt", default=0)
    version: int = wire("v", default=0)


@frame
class Ballot:
    """How ``user`` voted (a poll that is not anonymous): option numbers from 0."""

    user: int = wire("u")
    choices: list[int] = wire("c")


@frame
class ThreadInfo:
    """How many comments (or replies) message ``target`` has."""

    target: int = wire("tg")
    count: int = wire("n")


@frame
class UserInfo:
    user: int = wire("u")
    name: str = wire("n")
    title: str = wire("ti", default="")
    badge: str | None = wire("b", default=None)  # a Badge


@frame
class DirectoryEntry:
    user: int = wire("u")
    name: str = wire("n")
    title: str = wire("ti", default="")
    badge: str | None = wire("b", default=None)  # a Badge
    groups: list[int] = wire("gr", default_factory=list)


@frame
class JoinRequestInfo:
    user: int = wire("u")
    ts: int = wire("ts")


# --------------------------------------------------------------------------
# Events: stored changes, pushed live and replayed on sync.


@frame
class Event:
    """Base of every stored change; ``seq`` is server-wide and increasing."""

    TYPE: ClassVar[str] = ""
    seq: int = wire("s")


@frame
class ChatEvent(Event):
    TYPE: ClassVar[str] = Kind.CHAT
    group: int = wire("g")
    user: int = wire("u")
    ts: int = wire("ts")
    text: str = wire("x")
    #: The chat message this one answers (same group), if any.
    reply: int | None = wire("re", default=None)
    #: When its author last edited it (Unix seconds), if ever.
    edited: int | None = wire("ed", default=None)


@frame
class PostEvent(Event):
    TYPE: ClassVar[str] = Kind.POST
    group: int = wire("g")
    user: int = wire("u")
    ts: int = wire("ts")
    text: str = wire("x")  # Markdown
    edited: int | None = wire("ed", default=None)
    title: str | None = wire("ti", default=None)
    #: An announcement: its readers are asked to acknowledge it.
    ack: bool = wire("ak", default=False)
    poll: Poll | None = wire("po", default=None)


@frame
class CommentEvent(Event):
    """A comment on feed post ``post`` (of the same group)."""

    TYPE: ClassVar[str] = Kind.COMMENT
    group: int = wire("g")
    user: int = wire("u")
    ts: int = wire("ts")
    text: str = wire("x")
    post: int = wire("re")
    edited: int | None = wire("ed", default=None)


@frame
class EditEvent(Event):
    """Its author changed the text of message ``target`` in ``group`` at ``ts``."""

    TYPE: ClassVar[str] = "e"
    group: int = wire("g")
    user: int = wire("u")
    target: int = wire("tg")
    text: str = wire("x")
    ts: int = wire("ts")
    #: A post's new title ("": none any more); None: the title did not change.
    title: str | None = wire("ti", default=None)


@frame
class GroupEvent(Event):
    """A group was created, or its settings changed (by ``user``)."""

    TYPE: ClassVar[str] = "g"
    group: int = wire("g")
    user: int = wire("u")
    ts: int = wire("ts")
    name: str = wire("n")
    parent: int | None = wire("pa", default=None)
    visibility: str = wire("vis", default=Visibility.OPEN)
    post_policy: str = wire("pp", default=PostPolicy.EVERYONE)
    chat_policy: str = wire("cp", default=ChatPolicy.EVERYONE)
    comment_policy: str = wire("cm", default=ChatPolicy.EVERYONE)
    description: str = wire("d", default="")
    dm: bool = wire("dm", default=False)


@frame
class JoinEvent(Event):
    """``user`` joined ``group`` (or was added by ``by``), or their role changed."""

    TYPE: ClassVar[str] = "j"
    group: int = wire("g")
    user: int = wire("u")
    role: str = wire("r", default=Role.MEMBER)
    by: int | None = wire("by", default=None)
    #: How many members the group has after this change (None in old events).
    members: int | None = wire("mc", default=None)


@frame
class LeaveEvent(Event):
    """``user`` left ``group``, or was removed by ``by``."""

    TYPE: ClassVar[str] = "l"
    group: int = wire("g")
    user: int = wire("u")
    by: int | None = wire("by", default=None)
    members: int | None = wire("mc", default=None)


@frame
class DeleteEvent(Event):
    """Message ``target`` in ``group`` was deleted by ``user`` (its author or a moderator)."""

    TYPE: ClassVar[str] = "x"
    group: int = wire("g")
    user: int = wire("u")
    target: int = wire("tg")


@frame
class ReactEvent(Event):
    """``user`` put (``on``) or took back reaction ``emoji`` on message ``target``."""

    TYPE: ClassVar[str] = "k"
    group: int = wire("g")
    user: int = wire("u")
    target: int = wire("tg")
    emoji: str = wire("e")
    on: bool = wire("on", default=True)


@frame
class VoteEvent(Event):
    """Someone voted in poll ``target``: its results now. ``user`` and
    ``choices`` say who and what, for a poll that is not anonymous."""

    TYPE: ClassVar[str] = "v"
    group: int = wire("g")
    target: int = wire("tg")
    counts: list[int] = wire("n")
    voters: int = wire("vt")
    user: int | None = wire("u", default=None)
    choices: list[int] | None = wire("c", default=None)


@frame
class AckEvent(Event):
    """``user`` acknowledged announcement ``target`` (sent to that user's devices)."""

    TYPE: ClassVar[str] = "a"
    group: int = wire("g")
    user: int = wire("u")
    target: int = wire("tg")


@frame
class ReadEvent(Event):
    """The user read ``group`` (0: the inbox) up to event ``upto`` (sent to
    that user's devices: read state follows the user)."""

    TYPE: ClassVar[str] = "rd"  # ("r" is a reply's)
    group: int = wire("g")
    user: int = wire("u")
    upto: int = wire("up")


@frame
class FeatureEvent(Event):
    """A site admin featured (``on``) or stopped featuring post ``target``
    for everyone."""

    TYPE: ClassVar[str] = "f"
    group: int = wire("g")
    user: int = wire("u")
    target: int = wire("tg")
    on: bool = wire("on", default=True)


@frame
class PinEvent(Event):
    """A moderator pinned (``on``) or unpinned message ``target`` in ``group``."""

    TYPE: ClassVar[str] = "n"
    group: int = wire("g")
    user: int = wire("u")
    target: int = wire("tg")
    on: bool = wire("on", default=True)


@frame
class RequestEvent(Event):
    """``user`` asks to join a private group (seen by its moderators and the user)."""

    TYPE: ClassVar[str] = "q"
    group: int = wire("g")
    user: int = wire("u")
    ts: int = wire("ts")


@frame
class CharterEvent(Event):
    """A new version of the usage charter was published."""

    TYPE: ClassVar[str] = "h"
    version: int = wire("v")
    ts: int = wire("ts")


AnyEvent = (
    ChatEvent
    | PostEvent
    | GroupEvent
    | JoinEvent
    | LeaveEvent
    | RequestEvent
    | CharterEvent
    | DeleteEvent
    | PinEvent
    | EditEvent
    | ReactEvent
    | CommentEvent
    | VoteEvent
    | AckEvent
    | ReadEvent
    | FeatureEvent
)
EVENTS: Mapping[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        ChatEvent,
        PostEvent,
        GroupEvent,
        JoinEvent,
        LeaveEvent,
        RequestEvent,
        CharterEvent,
        DeleteEvent,
        PinEvent,
        EditEvent,
        ReactEvent,
        CommentEvent,
        VoteEvent,
        AckEvent,
        ReadEvent,
        FeatureEvent,
    )
}
#: The servers' default text limits (characters): a client checks them before
#: queueing, so a text is refused while it is still in the composer.
MAX_CHAT_CHARS = 4_000
MAX_POST_CHARS = 20_000
MAX_TITLE_CHARS = 200
#: A poll has 2 to MAX_POLL_OPTIONS options of at most MAX_OPTION_CHARS.
MAX_POLL_OPTIONS = 20
MAX_OPTION_CHARS = 200

# --------------------------------------------------------------------------
# Replies: the body of a ``{"t": "r", "i": ...}`` frame.


@frame
class Reply:
    request_id: int = wire("i")


@frame
class Done(Reply):
    pass


@frame
class Welcome(Reply):
    version: int = wire("v", default=PROTOCOL_VERSION)  # sent only when it differs
    head: int = wire("h")
    user: int | None = wire("u", default=None)  # with a valid token: whose it is


@frame
class AuthOk(Reply):
    token: str = wire("tok")
    user: int = wire("u")
    name: str = wire("n")


@frame
class WriteOk(Reply):
    seq: int = wire("s")
    ts: int | None = wire("ts", default=None)
    group: int | None = wire("g", default=None)


@frame
class SyncDone(Reply):
    head: int = wire("h")


@frame
class TokenList(Reply):
    tokens: list[TokenInfo] = wire("l")


@frame
class GroupList(Reply):
    groups: list[GroupInfo] = wire("l")
    #: With ``recent``: the newest chat messages of member groups, and their authors.
    recent: list[Event] = wire("e", default_factory=list)
    users: list[UserInfo] = wire("us", default_factory=list)
    #: The reactions on ``recent``, as of event ``as_of`` or later (see Page).
    reactions: list[ReactionInfo] = wire("rx", default_factory=list)
    as_of: int = wire("h", default=0)


@frame
class MemberList(Reply):
    users: list[int] = wire("l")
    moderators: list[int] = wire("mods", default_factory=list)


@frame
class RequestList(Reply):
    requests: list[JoinRequestInfo] = wire("l")


@frame
class Directory(Reply):
    users: list[DirectoryEntry] = wire("l")


@frame
class CharterText(Reply):
    version: int = wire("v")  # 0: no charter published
    text: str = wire("x", default="")
    accepted: int = wire("acc", default=0)  # the version this user accepted


@frame
class InviteOk(Reply):
    code: str = wire("code")


@frame
class UserList(Reply):
    users: list[UserInfo] = wire("l")


@frame
class Page(Reply):
    events: list[Event] = wire("e")
    more: bool = wire("m", default=False)
    #: The authors on the page, so that showing it needs no second round trip.
    users: list[UserInfo] = wire("us", default_factory=list)
    #: The reactions on the page's messages, as of event ``as_of`` or later
    #: (the events after ``as_of`` come on the stream and win).
    reactions: list[ReactionInfo] = wire("rx", default_factory=list)
    as_of: int = wire("h", default=0)
    #: How many comments the page's posts have (those with any).
    threads: list[ThreadInfo] = wire("th", default_factory=list)


@frame
class ThreadPage(Page):
    """A thread: ``events`` are the message, then its comments or replies."""

    #: A poll that is not anonymous: who voted for what.
    ballots: list[Ballot] = wire("bl", default_factory=list)
    voted: bool = wire("vd", default=False)  # I voted in its poll
    acked: bool = wire("ak", default=False)  # I acknowledged it


@frame
class SearchResults(Page):
    """What a search found, best first (``more``: more matched)."""


@frame
class HomePage(Page):
    """The home portal: ``events`` are posts, featured ones first, then the
    newest of one's groups; ``featured`` are those featured for everyone
    (a group's featured posts are its pinned ones)."""

    featured: list[int] = wire("ft", default_factory=list)


@frame
class AckList(Reply):
    done: list[int] = wire("l")
    waiting: list[int] = wire("w", default_factory=list)


# --------------------------------------------------------------------------
# Server pushes besides events and replies.


@frame
class Batch:
    """Events in sequence order: replayed by ``sync``, or several live events
    committed together for one client."""

    TYPE: ClassVar[str] = "b"
    events: list[Event] = wire("e")


@frame
class Gap:
    """Events after ``since`` up to ``upto`` were skipped: fetch with ``hist``."""

    TYPE: ClassVar[str] = "gap"
    since: int = wire("s")
    upto: int = wire("z")


@frame
class ErrorFrame:
    TYPE: ClassVar[str] = "err"
    code: str = wire("e")
    message: str = wire("m")
    request_id: int | None = wire("i", default=None)
    retry_after: float | None = wire("ra", default=None)


# --------------------------------------------------------------------------
# Requests (client to server).


@frame
class Request:
    TYPE: ClassVar[str] = ""
    REPLY: ClassVar[type[Reply]] = Done
    #: Writes carry a client id and are idempotent.
    WRITE: ClassVar[bool] = False
    #: Allowed before the connection is authenticated.
    ANONYMOUS: ClassVar[bool] = False
    request_id: int = wire("i")


@frame
class WriteRequest(Request):
    WRITE: ClassVar[bool] = True
    REPLY: ClassVar[type[Reply]] = WriteOk
    cid: str = wire("c")


@frame
class Hello(Request):
    TYPE: ClassVar[str] = "hello"
    REPLY: ClassVar[type[Reply]] = Welcome
    ANONYMOUS: ClassVar[bool] = True
    version: int = wire("v")
    token: str | None = wire("tok", default=None)


@frame
class Login(Request):
    TYPE: ClassVar[str] = "login"
    REPLY: ClassVar[type[Reply]] = AuthOk
    ANONYMOUS: ClassVar[bool] = True
    name: str = wire("n")
    password: str = wire("pw")


@frame
class Redeem(Request):
    TYPE: ClassVar[str] = "redeem"
    REPLY: ClassVar[type[Reply]] = AuthOk
    ANONYMOUS: ClassVar[bool] = True
    code: str = wire("code")
    name: str = wire("n")
    password: str = wire("pw")


@frame
class Logout(Request):
    TYPE: ClassVar[str] = "logout"


@frame
class Tokens(Request):
    TYPE: ClassVar[str] = "tokens"
    REPLY: ClassVar[type[Reply]] = TokenList


@frame
class Revoke(Request):
    TYPE: ClassVar[str] = "revoke"
    token_id: int = wire("id")


@frame
class Sync(Request):
    TYPE: ClassVar[str] = "sync"
    REPLY: ClassVar[type[Reply]] = SyncDone
    #: Omitted: no catch-up, live from the current head (a new device).
    since: int | None = wire("s", default=None)


@frame
class CreateGroup(WriteRequest):
    TYPE: ClassVar[str] = "gcreate"
    name: str = wire("n")
    parent: int | None = wire("pa", default=None)
    visibility: str = wire("vis", default=Visibility.OPEN)
    post_policy: str = wire("pp", default=PostPolicy.EVERYONE)
    chat_policy: str = wire("cp", default=ChatPolicy.EVERYONE)
    comment_policy: str = wire("cm", default=ChatPolicy.EVERYONE)
    description: str = wire("d", default="")


@frame
class GroupSettings(WriteRequest):
    """Change a group's settings (moderators); absent fields stay as they are."""

    TYPE: ClassVar[str] = "gset"
    group: int = wire("g")
    name: str | None = wire("n", default=None)
    visibility: str | None = wire("vis", default=None)
    post_policy: str | None = wire("pp", default=None)
    chat_policy: str | None = wire("cp", default=None)
    comment_policy: str | None = wire("cm", default=None)
    description: str | None = wire("d", default=None)


@frame
class DeleteMessage(WriteRequest):
    """Delete a message: your own, or any in a group you moderate."""

    TYPE: ClassVar[str] = "del"
    target: int = wire("tg")


@frame
class EditMessage(WriteRequest):
    """Change the text of one's own chat message, post or comment (and a
    post's title: "" takes it away, None leaves it)."""

    TYPE: ClassVar[str] = "edit"
    target: int = wire("tg")
    text: str = wire("x")
    title: str | None = wire("ti", default=None)


@frame
class React(WriteRequest):
    """Put (or with ``on`` false, take back) a reaction on a message, where the
    group's comment policy lets you."""

    TYPE: ClassVar[str] = "react"
    target: int = wire("tg")
    emoji: str = wire("e")
    on: bool = wire("on", default=True)


@frame
class PinMessage(WriteRequest):
    """Pin (or with ``on`` false, unpin) a message in a group you moderate."""

    TYPE: ClassVar[str] = "pin"
    target: int = wire("tg")
    on: bool = wire("on", default=True)


@frame
class RequestJoin(WriteRequest):
    TYPE: ClassVar[str] = "greq"
    group: int = wire("g")


@frame
class Approve(WriteRequest):
    TYPE: ClassVar[str] = "gapprove"
    group: int = wire("g")
    user: int = wire("u")


@frame
class AddMember(WriteRequest):
    """Add ``user`` to ``group`` (moderators), or change their role."""

    TYPE: ClassVar[str] = "gadd"
    group: int = wire("g")
    user: int = wire("u")
    moderator: bool = wire("mod", default=False)


@frame
class RemoveMember(WriteRequest):
    TYPE: ClassVar[str] = "gremove"
    group: int = wire("g")
    user: int = wire("u")


@frame
class JoinRequests(Request):
    TYPE: ClassVar[str] = "greqs"
    REPLY: ClassVar[type[Reply]] = RequestList
    group: int = wire("g")


@frame
class SendDirect(WriteRequest):
    """A direct message: the server finds or makes the two-person chat."""

    TYPE: ClassVar[str] = "dm"
    user: int = wire("u")
    text: str = wire("x")
    written: int | None = wire("w", default=None)


@frame
class SearchDirectory(Request):
    TYPE: ClassVar[str] = "dir"
    REPLY: ClassVar[type[Reply]] = Directory
    query: str = wire("q", default="")
    badge: str | None = wire("b", default=None)  # a Badge


@frame
class GetCharter(Request):
    TYPE: ClassVar[str] = "charter"
    REPLY: ClassVar[type[Reply]] = CharterText


@frame
class AcceptCharter(Request):
    TYPE: ClassVar[str] = "accept"
    version: int = wire("v")


@frame
class SetProfile(Request):
    TYPE: ClassVar[str] = "me"
    title: str = wire("ti")


@frame
class CreateInvite(Request):
    """An invitation code; it may pre-assign groups the inviter may add to."""

    TYPE: ClassVar[str] = "invite"
    REPLY: ClassVar[type[Reply]] = InviteOk
    groups: list[int] = wire("gr", default_factory=list)
    hours: int = wire("hrs", default=168)


@frame
class ListGroups(Request):
    TYPE: ClassVar[str] = "groups"
    REPLY: ClassVar[type[Reply]] = GroupList
    #: Also send up to this many of the newest chat messages, filling the
    #: member groups in list order: the first takes up to all of them, the
    #: next what the first left, and so on (a new device's first screen).
    recent: int = wire("r", default=0)
    #: Only these groups (those of them the user may see): what a client asks
    #: when events name a group it does not know yet.
    only: list[int] | None = wire("l", default=None)


@frame
class JoinGroup(WriteRequest):
    TYPE: ClassVar[str] = "join"
    group: int = wire("g")


@frame
class LeaveGroup(WriteRequest):
    TYPE: ClassVar[str] = "leave"
    group: int = wire("g")


@frame
class Members(Request):
    TYPE: ClassVar[str] = "members"
    REPLY: ClassVar[type[Reply]] = MemberList
    group: int = wire("g")


@frame
class SendChat(WriteRequest):
    TYPE: ClassVar[str] = "chat"
    group: int = wire("g")
    text: str = wire("x")
    #: When it was written (Unix seconds), for a write that waited in an outbox.
    written: int | None = wire("w", default=None)
    #: The chat message of the same group this one answers.
    reply: int | None = wire("re", default=None)


@frame
class SendPost(WriteRequest):
    TYPE: ClassVar[str] = "post"
    group: int = wire("g")
    text: str = wire("x")
    written: int | None = wire("w", default=None)
    title: str | None = wire("ti", default=None)
    ack: bool = wire("ak", default=False)
    #: A poll: its options, multiple, anonymous and closes (results are the server's).
    poll: Poll | None = wire("po", default=None)


@frame
class SendComment(WriteRequest):
    """Comment on a feed post, where the group's comment policy lets you."""

    TYPE: ClassVar[str] = "comment"
    post: int = wire("re")
    text: str = wire("x")
    written: int | None = wire("w", default=None)


@frame
class Vote(WriteRequest):
    """Vote in a poll: option numbers from 0 (one, unless it allows several).
    A vote in a poll that is not anonymous may be changed; an anonymous one
    is final."""

    TYPE: ClassVar[str] = "vote"
    target: int = wire("tg")
    choices: list[int] = wire("ch")


@frame
class Acknowledge(WriteRequest):
    """ "Got it": acknowledge an announcement."""

    TYPE: ClassVar[str] = "ack"
    target: int = wire("tg")


@frame
class MarkRead(WriteRequest):
    """Read ``group`` (0: the inbox) up to event ``upto``; it never goes back."""

    TYPE: ClassVar[str] = "read"
    group: int = wire("g")
    upto: int = wire("up")


@frame
class Feature(WriteRequest):
    """Feature a post for everyone (site admins; posts of open groups), or
    stop featuring it. Moderators feature in their group by pinning."""

    TYPE: ClassVar[str] = "feature"
    target: int = wire("tg")
    on: bool = wire("on", default=True)


@frame
class GetThread(Request):
    """A message with its comments (a post) or replies (a chat message),
    oldest first, up to ``limit`` after ``after``."""

    TYPE: ClassVar[str] = "thread"
    REPLY: ClassVar[type[Reply]] = ThreadPage
    target: int = wire("tg")
    after: int = wire("a", default=0)
    limit: int = wire("n", default=100)


@frame
class AckStatus(Request):
    """Who has and who has not yet acknowledged an announcement (its author
    and the group's moderators)."""

    TYPE: ClassVar[str] = "acks"
    REPLY: ClassVar[type[Reply]] = AckList
    target: int = wire("tg")


@frame
class Search(Request):
    """Full-text search over the messages, posts and comments one may read
    now, best match first: every word of ``query`` (any order, accents and
    case ignored), in ``group``, by ``author``, from ``after`` (Unix seconds,
    included) until ``before`` (excluded), when given."""

    TYPE: ClassVar[str] = "search"
    REPLY: ClassVar[type[Reply]] = SearchResults
    query: str = wire("q")
    group: int | None = wire("g", default=None)
    author: int | None = wire("u", default=None)
    after: int | None = wire("af", default=None)
    before: int | None = wire("bf", default=None)
    limit: int = wire("n", default=50)


@frame
class GetHome(Request):
    """The home portal: featured posts, then the newest posts of one's groups."""

    TYPE: ClassVar[str] = "home"
    REPLY: ClassVar[type[Reply]] = HomePage
    limit: int = wire("n", default=30)


@frame
class History(Request):
    """Events of one kind in a group, newest first, before ``before``."""

    TYPE: ClassVar[str] = "hist"
    REPLY: ClassVar[type[Reply]] = Page
    group: int = wire("g")
    kind: str = wire("k")  # a Kind
    before: int | None = wire("b", default=None)
    limit: int = wire("n", default=50)


@frame
class GetUsers(Request):
    TYPE: ClassVar[str] = "users"
    REPLY: ClassVar[type[Reply]] = UserList
    users: list[int] = wire("l")


REQUESTS: Mapping[str, type[Request]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        Login,
        Redeem,
        Logout,
        Tokens,
        Revoke,
        Sync,
        CreateGroup,
        ListGroups,
        JoinGroup,
        LeaveGroup,
        Members,
        SendChat,
        SendPost,
        History,
        GetUsers,
        GroupSettings,
        RequestJoin,
        Approve,
        AddMember,
        RemoveMember,
        JoinRequests,
        SendDirect,
        SearchDirectory,
        GetCharter,
        AcceptCharter,
        SetProfile,
        CreateInvite,
        DeleteMessage,
        PinMessage,
        EditMessage,
        React,
        SendComment,
        Vote,
        Acknowledge,
        MarkRead,
        Feature,
        GetThread,
        AckStatus,
        GetHome,
        Search,
    )
}

ServerFrame = Union[Reply, ErrorFrame, Event, Batch, Gap]  # noqa: UP007

# --------------------------------------------------------------------------
# Encoding and decoding.


@dataclass(frozen=True, slots=True)
class _Field:
    attr: str
    wire: str
    hint: Any
    default: Any
    #: The default's type, ``str`` for a word (a Vocabulary member): a value
    #: equal to the default is left out, be it the word or its plain string
    #: (but not 0 for False, nor 1.0 for 1).
    default_type: type

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


def _layout(cls: Any) -> tuple[_Field, ...]:
    """The wire layout of a frame class (computed once per class)."""
    hints = typing.get_type_hints(cls)
    out: list[_Field] = []
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        default_type = str if isinstance(default, str) else type(default)
        out.append(_Field(f.name, f.metadata["wire"], hints[f.name], default, default_type))
    return tuple(out)


_fields_of: Callable[[Any], tuple[_Field, ...]] = functools.cache(_layout)


def _bad(message: str, request_id: int | None) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_FIELD, message, request_id=request_id)


def _convert(value: Any, hint: Any, where: str, rid: int | None) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (inner,) = (a for a in args if a is not type(None))
        return _convert(value, inner, where, rid)
    if origin is list:
        if not isinstance(value, list):
            raise _bad(f"{where} must be a list", rid)
        (inner,) = typing.get_args(hint)
        return [_convert(v, inner, f"{where}[{n}]", rid) for n, v in enumerate(value)]
    if hint is bool:
        if not isinstance(value, bool):
            raise _bad(f"{where} must be a boolean", rid)
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _bad(f"{where} must be an integer", rid)
        if not 0 <= value <= MAX_INT:
            raise _bad(f"{where} is out of range", rid)
        return value
    if hint is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _bad(f"{where} must be a number", rid)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _bad(f"{where} must be a string", rid)
        try:  # JSON carries lone surrogates ("\ud800"), which no UTF-8 text holds
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _bad(f"{where} is not valid Unicode text", rid) from None
        return value
    if hint is Event:
        return decode_event(value, rid)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise _bad(f"{where} must be an object", rid)
        return _build(hint, value, rid)
    raise TypeError(f"unsupported wire type {hint!r}")


def from_wire(cls: type[F], obj: Mapping[str, Any]) -> F:
    """A nested record (a Poll, say) from its wire mapping, as stored."""
    return _build(cls, obj, None)


def _build(cls: type[F], obj: Mapping[str, Any], rid: int | None) -> F:
    kwargs: dict[str, Any] = {}
    for f in _fields_of(cls):
        if f.wire not in obj:
            if f.required:
                raise _bad(f"missing field {f.wire!r}", rid)
            continue
        kwargs[f.attr] = _convert(obj[f.wire], f.hint, repr(f.wire), rid)
    return cls(**kwargs)


def _parse(data: str | bytes) -> dict[str, Any]:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        obj = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(ErrorCode.BAD_FRAME, "frame is not UTF-8 JSON") from exc
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.BAD_FRAME, "frame is not a JSON object")
    return obj


def _request_id(obj: Mapping[str, Any]) -> int | None:
    rid = obj.get("i")
    return rid if isinstance(rid, int) and not isinstance(rid, bool) and rid >= 0 else None


def decode_request(data: str | bytes) -> Request:
    """Decode one client frame into a typed request, or raise ProtocolError."""
    obj = _parse(data)
    rid = _request_id(obj)
    kind = obj.get("t")
    cls = REQUESTS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown frame type {kind!r}", request_id=rid)
    request = _build(cls, obj, rid)
    if isinstance(request, WriteRequest):
        cid = request.cid
        if not 0 < len(cid) <= MAX_CID_LEN or not CID_CHARS.issuperset(cid):
            raise _bad("'c' must be 1-64 characters of [A-Za-z0-9_-]", rid)
    return request


def decode_event(obj: Any, rid: int | None = None) -> Event:
    if not isinstance(obj, dict):
        raise _bad("event must be an object", rid)
    kind = obj.get("t")
    cls = EVENTS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown event type {kind!r}")
    return _build(cls, obj, rid)


def decode_server(
    data: str | bytes, reply_type: Callable[[int], type[Reply] | None]
) -> ServerFrame:
    """Decode one server frame; ``reply_type`` maps a request id to its reply class."""
    obj = _parse(data)
    kind = obj.get("t")
    if kind == "r":
        rid = _request_id(obj)
        cls = reply_type(rid) if rid is not None else None
        if cls is None:
            raise ProtocolError(ErrorCode.BAD_FRAME, f"reply to unknown request {rid!r}")
        return _build(cls, obj, rid)
    if kind == ErrorFrame.TYPE:
        return _build(ErrorFrame, obj, None)
    if kind == Batch.TYPE:
        return _build(Batch, obj, None)
    if kind == Gap.TYPE:
        return _build(Gap, obj, None)
    return decode_event(obj)


def to_wire(obj: Any) -> dict[str, Any]:
    """The JSON-ready mapping of one frame (fields left at None are omitted)."""
    out: dict[str, Any] = {}
    kind = getattr(obj, "TYPE", "")
    if isinstance(obj, Reply):
        out["t"] = "r"
    elif kind:
        out["t"] = kind
    for f in _fields_of(type(obj)):
        value = getattr(obj, f.attr)
        if (
            value is None
            or value is f.default
            or (
                (
                    type(value) is f.default_type
                    or (f.default_type is str and isinstance(value, str))
                )
                and value == f.default
            )
        ):
            continue
        if isinstance(value, list):
            value = [to_wire(v) if dataclasses.is_dataclass(v) else v for v in value]
        elif dataclasses.is_dataclass(value):
            value = to_wire(value)
        out[f.wire] = value
    return out


def encode(obj: Any) -> str:
    """Encode one frame as compact JSON text."""
    return json.dumps(to_wire(obj), separators=(",", ":"), ensure_ascii=False)


def encode_batch(encoded_events: Sequence[bytes]) -> bytes:
    """A :class:`Batch` frame from events already encoded (UTF-8 JSON objects),
    without decoding and encoding them again."""
    return b'{"t":"%s","e":[%s]}' % (Batch.TYPE.encode(), b",".join(encoded_events))


def error_frame(exc: ProtocolError) -> ErrorFrame:
    return ErrorFrame(
        code=exc.code.value,
        message=exc.message,
        request_id=exc.request_id,
        retry_after=exc.retry_after,
    )
