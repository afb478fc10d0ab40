"""What the UI and the command line render: plain records from the cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from rse_tui.protocol import ChatPolicy, Kind, PostPolicy, Visibility, WriteRequest


@dataclass(frozen=True, slots=True)
class GroupRow:
    group: int
    name: str  # for a direct chat: the other person's name
    member: bool
    members: int
    unread: int = 0
    mentions: int = 0  # unread messages that mention me
    parent: int | None = None
    visibility: str = Visibility.OPEN
    moderator: bool = False
    post_policy: str = PostPolicy.EVERYONE
    chat_policy: str = ChatPolicy.EVERYONE
    comment_policy: str = ChatPolicy.EVERYONE
    description: str = ""
    dm: int | None = None  # a direct chat: the other person's id
    requested: bool = False  # my request to join is pending
    pending: int = 0  # requests waiting for me, a moderator
    queued: str | None = None  # "join" or "leave": mine, still in the outbox

    @property
    def in_group(self) -> bool:
        """Member, counting a join or leave of mine still in the outbox: what I
        write after it goes out after it."""
        if self.queued is not None:
            return self.queued == "join"
        return self.member

    @property
    def members_shown(self) -> bool:
        """Whether the member count is known here: a private group's members
        and count are for its members (the server says 0 to others)."""
        return self.member or self.visibility != Visibility.PRIVATE

    @property
    def label(self) -> str:
        """What to call it: the group's name, or "direct chat with NAME"."""
        return f"direct chat with {self.name}" if self.dm is not None else self.name

    def may_write(self, kind: str) -> bool:
        """What the group's rules let me do ("c" chat, "p" post)."""
        if not self.in_group:
            return False
        policy = self.chat_policy if kind == Kind.CHAT else self.post_policy
        if policy == ChatPolicy.EVERYONE:
            return True
        return policy == ChatPolicy.MODERATORS and self.moderator


@dataclass(frozen=True, slots=True)
class PollState:
    """A post's poll as the cache knows it: options, rules, results, my vote."""

    options: tuple[str, ...]
    multiple: bool = False
    anonymous: bool = False
    closes: int | None = None
    counts: tuple[int, ...] = ()
    voters: int = 0
    #: My choices (option numbers from 0); () when I voted anonymously from
    #: another device (the server does not say what); None: not voted.
    mine: tuple[int, ...] | None = None

    def closed(self, now: float) -> bool:
        return self.closes is not None and now >= self.closes


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A chat message or feed post; ``seq`` is None while it waits in the outbox."""

    seq: int | None
    group: int
    kind: str
    user: int
    author: str
    ts: float
    text: str
    cid: str | None = None
    error: str | None = None
    pinned: bool = False
    badge: str | None = None  # the author's badge ("ambassador")
    edited: float | None = None  # when its author last changed it
    reply: int | None = None  # the message it answers
    quote: str | None = None  # "author: text" of that message, when cached
    #: (reaction word, how many, whether one is mine), in the words' order.
    reactions: tuple[tuple[str, int, bool], ...] = ()
    title: str | None = None  # a post's
    ack: bool = False  # an announcement: readers acknowledge it
    acked: bool = False  # ... and I did
    poll: PollState | None = None
    comments: int = 0  # a post's comments, a chat message's replies

    @property
    def pending(self) -> bool:
        return self.seq is None and self.error is None


class InboxKind(StrEnum):
    MENTION = "mention"
    REPLY = "reply"  # to my chat message
    COMMENT = "comment"  # on my post
    REACTION = "reaction"  # to something of mine
    ACK = "ack"  # an announcement asks me to acknowledge it
    POLL = "poll"  # a poll I have not voted in closes within a day


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One thing that concerns me. ``seq`` orders the inbox (the event that
    made it); ``target`` is the message to open."""

    seq: int
    kind: InboxKind
    group: int
    target: int
    who: str  # who did it
    text: str  # what it says (a reaction: its word)
    unread: bool = True
    ts: float = 0.0  # when it was said (0: not known, a reaction)
    about: str = ""  # a reaction: the text of my message it is on


@dataclass(frozen=True, slots=True)
class Thread:
    """A message and its comments (a post) or replies (a chat message)."""

    root: MessageRow
    replies: list[MessageRow]
    #: A poll that is not anonymous: (voter's name, their choices).
    ballots: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    more: bool = False  # the server has more than this (asked online)
    online: bool = True  # False: from the cache alone


@dataclass(frozen=True, slots=True)
class Home:
    """The portal: featured posts, then the newest posts of my groups."""

    featured: list[MessageRow]
    posts: list[MessageRow]
    groups: dict[int, str]  # the groups' names
    unread: frozenset[int]  # posts I have not read yet
    online: bool = True


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A write waiting in the outbox: the request as it will be sent."""

    cid: str
    request: WriteRequest
    group: int | None  # the group it goes to, when it names one
    text: str | None  # what it shows while it waits (a message, a group's name)
    created: float
    attempts: int = 0
    error: str | None = None  # refused for good: why
    n: int = 0  # place in the outbox: writes are sent, and stored, in this order


class Link(StrEnum):
    OFFLINE = "offline"
    CONNECTING = "connecting"
    SYNCING = "syncing"
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    LOGGED_OUT = "logged out"


@dataclass(frozen=True, slots=True)
class Status:
    link: Link = Link.OFFLINE
    retry_at: float | None = None  # monotonic time of the next attempt
    outbox: int = 0
    sent: int = 0
    received: int = 0
    detail: str = ""


@dataclass(slots=True)
class Changes:
    """What one batch of events changed in the cache, for the views to refresh."""

    groups: bool = False
    messages: dict[int, list[int]] = field(default_factory=dict)  # group -> seqs
    mentions: list[MessageRow] = field(default_factory=list)
    outbox: bool = False
    removed: list[int] = field(default_factory=list)  # groups I was removed from
    deleted: list[int] = field(default_factory=list)  # messages that are gone
    #: Groups whose cached history went back to the server (left, or rejoined):
    #: a view of one reads it again.
    forgotten: list[int] = field(default_factory=list)
    edited: list[int] = field(default_factory=list)  # messages to draw again (pins)
    users: dict[int, str] = field(default_factory=dict)  # names just learned
    charter: int = 0  # a new charter version was published (its number)
    charter_required: bool = False  # a write was refused until the charter is accepted
    #: The portal or the inbox changed (a featured post, a read marker).
    home: bool = False

    def __bool__(self) -> bool:
        return (
            self.groups
            or bool(self.messages)
            or bool(self.mentions)
            or self.outbox
            or bool(self.removed)
            or bool(self.forgotten)
            or bool(self.charter)
            or self.charter_required
            or self.home
        )

    def merge(self, other: Changes) -> None:
        self.groups |= other.groups
        self.outbox |= other.outbox
        self.removed.extend(other.removed)
        self.deleted.extend(other.deleted)
        self.forgotten.extend(other.forgotten)
        self.edited.extend(other.edited)
        self.users.update(other.users)
        self.charter = self.charter or other.charter
        self.charter_required |= other.charter_required
        self.home |= other.home
        for group, seqs in other.messages.items():
            self.messages.setdefault(group, []).extend(seqs)
        self.mentions.extend(other.mentions)
