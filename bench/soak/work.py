"""The work each user does in the soak: one random operation at a time, drawn
from everything the protocol offers, through the real engine (so, when the
link is down, into the outbox), plus reads aimed at groups one may not see."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rse_tui.protocol import (
    Acknowledge,
    AddMember,
    Approve,
    CreateGroup,
    DeleteMessage,
    EditMessage,
    GetHome,
    GetThread,
    History,
    JoinGroup,
    JoinRequests,
    LeaveGroup,
    MarkRead,
    Members,
    PinMessage,
    Poll,
    React,
    Reaction,
    RemoveMember,
    RequestJoin,
    SearchDirectory,
    SendChat,
    SendComment,
    SendDirect,
    SendPost,
    Vote,
    WriteRequest,
)
from rse_tui.sync.cache import new_write
from rse_tui.sync.models import GroupRow, MessageRow

from .actors import Client

#: A write the user makes: the protocol request the engine queues.
Write = WriteRequest


@dataclass
class View:
    """What the user's cache shows when they act."""

    client: Client
    others: list[Client]
    groups: list[GroupRow]
    rng: random.Random
    text: str  # a fresh text, unique in the run

    @property
    def mine(self) -> list[GroupRow]:
        return [g for g in self.groups if g.in_group and g.dm is None]

    @property
    def moderated(self) -> list[GroupRow]:
        return [g for g in self.mine if g.moderator]

    def peer(self) -> int:
        return self.rng.choice(self.others).user

    async def messages(self, groups: list[GroupRow]) -> list[MessageRow]:
        """Cached messages of one of ``groups`` (never a CLI line: those are checked by text)."""
        if not groups:
            return []
        engine = self.client.engine
        assert engine is not None
        g = self.rng.choice(groups)
        rows = await engine.worker(engine.cache.messages, g.group, self.rng.choice("cp"), limit=30)
        return [r for r in rows if r.seq is not None and "~" not in r.text]


Op = Callable[[View], Awaitable[Write | None]]


async def gcreate(v: View) -> Write:
    vis = v.rng.choice(["open", "open", "private", "secret"])
    return new_write(CreateGroup, name=f"g-{v.text}", visibility=vis)


async def join(v: View) -> Write | None:
    outside = [g for g in v.groups if not g.in_group and g.visibility == "open"]
    return new_write(JoinGroup, group=v.rng.choice(outside).group) if outside else None


async def leave(v: View) -> Write | None:
    return new_write(LeaveGroup, group=v.rng.choice(v.mine).group) if v.mine else None


async def add(v: View) -> Write | None:
    if not v.moderated:
        return None
    return new_write(AddMember, group=v.rng.choice(v.moderated).group, user=v.peer())


async def remove(v: View) -> Write | None:
    if not v.moderated:
        return None
    return new_write(RemoveMember, group=v.rng.choice(v.moderated).group, user=v.peer())


async def request(v: View) -> Write | None:
    private = [g for g in v.groups if not g.in_group and g.visibility == "private"]
    return new_write(RequestJoin, group=v.rng.choice(private).group) if private else None


async def approve(v: View) -> Write | None:
    waiting = [g for g in v.moderated if g.pending]
    engine = v.client.engine
    if not waiting or engine is None or not engine.online:
        return None
    g = v.rng.choice(waiting)
    listing = await engine.call(JoinRequests, group=g.group)
    if not listing.requests:
        return None
    return new_write(Approve, group=g.group, user=listing.requests[0].user)


async def direct(v: View) -> Write:
    return new_write(SendDirect, user=v.peer(), text=v.text)


async def delete(v: View) -> Write | None:
    rows = await v.messages(v.mine)
    moderated = {g.group for g in v.moderated}
    rows = [r for r in rows if r.user == v.client.user or r.group in moderated]
    return new_write(DeleteMessage, target=v.rng.choice(rows).seq) if rows else None


async def pin(v: View) -> Write | None:
    rows = await v.messages(v.moderated)
    if not rows:
        return None
    row = v.rng.choice(rows)
    return new_write(PinMessage, target=row.seq, on=not row.pinned)


async def react(v: View) -> Write | None:
    """A reaction, put or taken back, on a message of a group one is in (the
    comment policy may refuse it: that is checked too)."""
    rows = await v.messages(v.mine)
    if not rows:
        return None
    emoji = v.rng.choice(Reaction.words())
    return new_write(React, target=v.rng.choice(rows).seq, emoji=emoji, on=v.rng.random() < 0.8)


async def posts(v: View) -> list[MessageRow]:
    """Cached feed posts of a group one is in."""
    if not v.mine:
        return []
    engine = v.client.engine
    assert engine is not None
    g = v.rng.choice(v.mine)
    rows = await engine.worker(engine.cache.messages, g.group, "p", limit=30)
    return [r for r in rows if r.seq is not None and "~" not in r.text]


async def comment(v: View) -> Write | None:
    """A comment on a post (the comment policy may refuse it: checked too)."""
    rows = await posts(v)
    return new_write(SendComment, post=v.rng.choice(rows).seq, text=v.text) if rows else None


async def vote(v: View) -> Write | None:
    """A vote in a poll (a closed one, or a second anonymous vote, is refused)."""
    rows = [r for r in await posts(v) if r.poll is not None]
    if not rows:
        return None
    row = v.rng.choice(rows)
    assert row.poll is not None
    options = range(len(row.poll.options))
    count = v.rng.randint(1, len(options)) if row.poll.multiple else 1
    choices = sorted(v.rng.sample(options, count))
    return new_write(Vote, target=row.seq, choices=choices)


async def acknowledge(v: View) -> Write | None:
    rows = [r for r in await posts(v) if r.ack]
    return new_write(Acknowledge, target=v.rng.choice(rows).seq) if rows else None


async def mark_read(v: View) -> Write | None:
    """A read marker, for a group one is in or the inbox (0), possibly behind
    the one the server has (it never goes back)."""
    rows = await v.messages(v.mine)
    if not rows:
        return None
    row = v.rng.choice(rows)
    assert row.seq is not None
    return new_write(MarkRead, group=v.rng.choice([row.group, 0]), upto=row.seq)


def _post(v: View, group: int) -> Write:
    """A feed post: now and then with a title, as an announcement, or a poll."""
    roll = v.rng.random()
    if roll < 0.3:
        poll = Poll(
            options=[f"{v.text}-{n}" for n in range(v.rng.randint(2, 4))],
            multiple=v.rng.random() < 0.5,
            anonymous=v.rng.random() < 0.5,
        )
        return new_write(SendPost, group=group, text=v.text, poll=poll)
    if roll < 0.5:
        return new_write(SendPost, group=group, text=v.text, ack=True)
    title = f"T{v.text}" if roll < 0.7 else None
    return new_write(SendPost, group=group, text=v.text, title=title)


async def edit(v: View) -> Write | None:
    rows = [r for r in await v.messages(v.mine) if r.user == v.client.user]
    if not rows:
        return None
    return new_write(EditMessage, target=v.rng.choice(rows).seq, text=f"{v.text}e")


async def message(v: View) -> Write | None:
    writable = [g for g in v.mine if g.may_write("c")]
    if not writable:
        return None
    g = v.rng.choice(writable)
    if v.rng.random() < 0.2 and g.may_write("p"):
        return _post(v, g.group)
    reply = None
    if v.rng.random() < 0.2:
        rows = [r for r in await v.messages([g]) if r.kind == "c"]
        if rows:
            reply = v.rng.choice(rows).seq
    return new_write(SendChat, group=g.group, text=v.text, reply=reply)


async def read(v: View) -> None:
    """A read the server must answer without telling what the user may not know:
    history and members of any group id seen (or made up), the directory, the list."""
    engine = v.client.engine
    if engine is None or not engine.online:
        return None
    ids = [g.group for g in v.groups] + [v.rng.randrange(1, 2**31)]
    target = v.rng.choice(ids)
    roll = v.rng.random()
    if roll < 0.3:
        await engine.call(History, group=target, kind=v.rng.choice("cp"), limit=20)
    elif roll < 0.4:  # a thread: of any message number seen, or made up
        rows = await v.messages(v.groups)
        seq = v.rng.choice(rows).seq if rows else v.rng.randrange(1, 10_000)
        await engine.call(GetThread, target=seq or 1)
    elif roll < 0.5:
        await engine.call(GetHome)
    elif roll < 0.7:
        await engine.call(Members, group=target)
    elif roll < 0.85:
        await engine.call(SearchDirectory, query="")
    else:
        await engine.refresh_groups()
    return None


#: (weight, operation): each step draws one by weight, falling through to a
#: message when the drawn one does not apply.
OPERATIONS: list[tuple[float, Op]] = [
    (5, gcreate),
    (6, join),
    (3, leave),
    (5, add),
    (3, remove),
    (2, request),
    (3, approve),
    (10, direct),
    (3, delete),
    (2, pin),
    (3, edit),
    (4, react),
    (3, comment),
    (3, vote),
    (2, acknowledge),
    (2, mark_read),
    (6, read),
    (39, message),
]


async def draw(v: View) -> Write | None:
    if not v.groups:
        return await gcreate(v)
    weights, ops = zip(*OPERATIONS, strict=True)
    op = v.rng.choices(ops, weights=weights)[0]
    chosen = await op(v)
    return chosen if chosen is not None or op is read else await message(v)
