"""What the UI and the command line render: plain records from the cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class GroupRow:
    group: int
    name: str
    member: bool
    members: int
    unread: int = 0


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

    @property
    def pending(self) -> bool:
        return self.seq is None and self.error is None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    cid: str
    op: str  # "chat", "post", "gcreate", "join", "leave"
    group: int | None
    text: str | None
    created: float
    attempts: int = 0
    error: str | None = None


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

    def __bool__(self) -> bool:
        return self.groups or bool(self.messages) or bool(self.mentions) or self.outbox

    def merge(self, other: Changes) -> None:
        self.groups |= other.groups
        self.outbox |= other.outbox
        for group, seqs in other.messages.items():
            self.messages.setdefault(group, []).extend(seqs)
        self.mentions.extend(other.mentions)
