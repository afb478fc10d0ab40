"""The client facade: everything the views (the app, the command line) ask
of the sync layer, as typed methods.

Reads come from the cache (on its own thread, never the event loop's);
writes go into the outbox as protocol requests and leave in order, exactly
once; the few questions only the server can answer (the directory, a
group's members, the charter) need the link and raise when it is down.
The views never name a cache method, an operation or a frame: adding a
kind of write means its frame (protocol), its acknowledgement's events
(cache/acks.py), and a method here.

Errors: :class:`~rse_tui.sync.engine.Offline` when a server question is
asked with no connection, ``LinkDown`` when the link drops under it, and
:class:`~rse_tui.protocol.ProtocolError` when the server refuses it. Writes
never raise for the network: they wait in the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rse_tui.protocol import (
    AckList,
    Acknowledge,
    AckStatus,
    AddMember,
    Approve,
    CharterText,
    CreateGroup,
    DeleteMessage,
    DirectoryEntry,
    EditMessage,
    Event,
    Feature,
    GetCharter,
    GetHome,
    GetThread,
    GetUsers,
    GroupSettings,
    History,
    HomePage,
    JoinGroup,
    JoinRequestInfo,
    JoinRequests,
    LeaveGroup,
    MarkRead,
    Members,
    Page,
    PinMessage,
    Poll,
    React,
    RemoveMember,
    RequestJoin,
    Search,
    SearchDirectory,
    SearchResults,
    SendChat,
    SendComment,
    SendDirect,
    SendPost,
    ThreadPage,
    UserInfo,
    Vote,
    WriteRequest,
)

from .cache import new_write
from .engine import Engine
from .models import GroupRow, Home, InboxItem, MessageRow, OutboxItem, Status, Thread


class Client:
    """One profile's client, as the views see it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache = engine.cache
        self._worker = engine.worker

    # -- the link ----------------------------------------------------------------------

    @property
    def online(self) -> bool:
        return self.engine.online

    @property
    def status(self) -> Status:
        return self.engine.status

    @property
    def profile_dir(self) -> Path:
        """The profile's folder (private to the user): for its scratch files."""
        return self._cache.path.parent

    # -- writes: queued in the outbox, sent in order; each returns its client id -------

    async def _write(self, kind: type[WriteRequest], **fields: Any) -> str:
        return await self.engine.submit(new_write(kind, **fields))

    async def send_chat(self, group: int, text: str, *, reply: int | None = None) -> str:
        """A chat line in ``group`` (answering message ``reply``, if given)."""
        return await self._write(SendChat, group=group, text=text, reply=reply)

    async def send_post(
        self,
        group: int,
        text: str,
        *,
        title: str | None = None,
        ack: bool = False,
        poll: Poll | None = None,
    ) -> str:
        """A feed post (Markdown) in ``group``."""
        return await self._write(
            SendPost, group=group, text=text, title=title or None, ack=ack, poll=poll
        )

    async def comment(self, post: int, text: str) -> str:
        """Comment on a feed post."""
        return await self._write(SendComment, post=post, text=text)

    async def vote(self, poll: int, choices: list[int]) -> str:
        """Vote in the poll of post ``poll``: option numbers from 0."""
        return await self._write(Vote, target=poll, choices=choices)

    async def pending_vote(self, poll: int) -> list[int] | None:
        """My vote in poll ``poll`` still waiting to be sent, if one does."""
        return await self._worker(self._cache.pending_vote, poll)

    async def acknowledge(self, post: int) -> str:
        """ "Got it": acknowledge an announcement."""
        return await self._write(Acknowledge, target=post)

    async def feature(self, post: int, on: bool = True) -> str:
        """Feature a post for everyone (site admins), or stop."""
        return await self._write(Feature, target=post, on=on)

    async def send_direct(self, user: int, text: str) -> str:
        """A direct message to ``user`` (the server finds or makes the chat)."""
        return await self._write(SendDirect, user=user, text=text)

    async def edit(self, message: int, text: str, *, title: str | None = None) -> str:
        """New text for one of my messages."""
        return await self._write(EditMessage, target=message, text=text, title=title)

    async def delete(self, message: int) -> str:
        """Delete a message (mine, or any where I moderate)."""
        return await self._write(DeleteMessage, target=message)

    async def pin(self, message: int, on: bool = True) -> str:
        """Pin (or unpin) a message where I moderate."""
        return await self._write(PinMessage, target=message, on=on)

    async def react(self, message: int, emoji: str, *, on: bool = True) -> str:
        """Put (``on``) or take back a reaction (a protocol.Reaction word) on a message."""
        return await self._write(React, target=message, emoji=emoji, on=on)

    async def create_group(self, name: str, **settings: Any) -> str:
        """A new group, with CreateGroup's settings (visibility, parent, policies...)."""
        return await self._write(CreateGroup, name=name, **settings)

    async def change_group(self, group: int, **changes: Any) -> str:
        """Change a group's settings (GroupSettings' fields; absent ones stay)."""
        return await self._write(GroupSettings, group=group, **changes)

    async def join(self, group: int) -> str:
        return await self._write(JoinGroup, group=group)

    async def leave(self, group: int) -> str:
        return await self._write(LeaveGroup, group=group)

    async def ask_to_join(self, group: int) -> str:
        """Ask the moderators of a private group to let me in."""
        return await self._write(RequestJoin, group=group)

    async def approve(self, group: int, user: int) -> str:
        """Let ``user``, who asked, into ``group``."""
        return await self._write(Approve, group=group, user=user)

    async def add_member(self, group: int, user: int, *, moderator: bool = False) -> str:
        """Add ``user`` to ``group`` (or change their role)."""
        return await self._write(AddMember, group=group, user=user, moderator=moderator)

    async def remove_member(self, group: int, user: int) -> str:
        return await self._write(RemoveMember, group=group, user=user)

    async def stored_as(self, cid: str) -> int | None:
        """The sequence number of my message written as ``cid``, once stored."""
        return await self._worker(self._cache.stored_as, cid)

    async def rewrite_unsent(self, cid: str, text: str) -> bool:
        """New text for my message ``cid`` if it has not left yet (False if it has)."""
        return await self._worker(self._cache.rewrite_unsent, cid, text)

    async def discard(self, cid: str) -> None:
        """Forget a write in the outbox (one refused, whose author has seen why)."""
        await self._worker(self._cache.discard, cid)

    async def outbox(self, *, include_failed: bool = False) -> list[OutboxItem]:
        return await self._worker(self._cache.outbox, include_failed=include_failed)

    async def outbox_count(self) -> int:
        return await self._worker(self._cache.outbox_count)

    # -- reads from the cache ------------------------------------------------------------

    async def identity(self) -> tuple[int | None, str | None]:
        """My user id and name, as this device knows them."""
        return await self._worker(self._cache.identity)

    async def groups(self) -> list[GroupRow]:
        return await self._worker(self._cache.groups)

    async def group_by_name(self, name: str) -> GroupRow | None:
        """By name (case-insensitive) or ``#ID``; LookupError if several share it."""
        return await self._worker(self._cache.group_by_name, name)

    async def direct_with(self, user: int) -> GroupRow | None:
        return await self._worker(self._cache.direct_with, user)

    async def user_by_name(self, name: str) -> int | None:
        return await self._worker(self._cache.user_by_name, name)

    async def user_name(self, user: int) -> str:
        return await self._worker(self._cache.user_name, user)

    async def learn_users(self, users: Iterable[UserInfo]) -> None:
        """Remember people's names the server told."""
        await self._worker(self._cache.put_users, list(users))

    async def messages(
        self, group: int, kind: str, *, before: int | None = None, limit: int = 200
    ) -> list[MessageRow]:
        """Up to ``limit`` messages before ``before``, oldest first; pending ones last."""
        return await self._worker(self._cache.messages, group, kind, before=before, limit=limit)

    async def messages_after(self, group: int, kind: str, after: int) -> list[MessageRow]:
        return await self._worker(self._cache.messages_after, group, kind, after)

    async def tail(
        self, group: int, kind: str, after: int
    ) -> tuple[list[MessageRow], list[MessageRow]]:
        """Messages newer than ``after`` and the outbox's rows, read together."""
        return await self._worker(self._cache.tail, group, kind, after)

    async def history_missing(
        self, group: int, kind: str, before: int | None = None
    ) -> tuple[int, int] | None:
        """The newest range of history below ``before`` that is on the server only."""
        return await self._worker(self._cache.hole_below, group, kind, before)

    async def pending_direct(self, user: int) -> list[MessageRow]:
        """First messages to ``user``, waiting while the direct chat does not exist yet."""
        return await self._worker(self._cache.pending_rows_direct, user)

    async def mark_read(self, group: int, upto: int | None = None) -> int:
        """Mark the group read here (up to message ``upto``, the newest a view
        has shown: a message cached meanwhile stays unread); returns where
        reading stood before (a seq). (``share_read`` tells the user's other
        devices.)"""
        return await self._worker(self._cache.mark_read, group, upto)

    async def see_post(self, seq: int) -> bool:
        """Post ``seq`` was opened: Home shows it read on this device (True
        when it was unread)."""
        return await self._worker(self._cache.see_post, seq)

    async def share_read(self, group: int) -> str | None:
        """Tell the user's other devices how far ``group`` (0: the inbox) is
        read here, if further than last told; the write id, or None."""
        upto = await self._worker(self._cache.read_to_share, group)
        if upto is None:
            return None
        return await self._write(MarkRead, group=group, upto=upto)

    async def read_inbox(self) -> str | None:
        """Everything in the inbox now is read (here, and on the user's other devices)."""
        await self._worker(self._cache.read_inbox)
        return await self.share_read(0)

    async def inbox(self, *, unread_only: bool = False) -> list[InboxItem]:
        return await self._worker(self._cache.inbox, unread_only=unread_only)

    async def thread(self, target: int, *, cached: bool = False) -> Thread | None:
        """A message with its comments or replies: asked of the server when
        online (and stored), else as cached; None when neither has it.

        ``cached``: the cache's alone, at once, without asking the server (a
        view shows that first, then what the server answers).
        """
        online = self.online and not cached
        ballots: list[tuple[str, tuple[int, ...]]] = []
        more = False
        if online:
            page: ThreadPage = await self.engine.call(GetThread, target=target)
            await self.engine.absorb(self._cache.put_thread, page)
            names = {u.user: u.name for u in page.users}
            for b in page.ballots:
                name = names.get(b.user) or await self.user_name(b.user)
                ballots.append((name, tuple(b.choices)))
            more = page.more
            target = page.events[0].seq if page.events else target
        found = await self._worker(self._cache.thread, target)
        if found is None:
            return None
        return Thread(found.root, found.replies, ballots, more, online)

    async def home(self, limit: int = 30, *, cached: bool = False) -> Home:
        """The home portal: asked of the server when online (and stored), else
        as cached (``cached``: the cache's alone, at once, without asking)."""
        online = self.online and not cached
        if online:
            page: HomePage = await self.engine.call(GetHome, limit=limit)
            await self.engine.absorb(self._cache.put_home, page)
        home = await self._worker(self._cache.home, limit)
        return Home(home.featured, home.posts, home.groups, home.unread, online)

    async def reactions(self, message: int) -> list[tuple[str, list[str]]]:
        """Who put each reaction on a message, as cached (``thread`` refreshes it)."""
        return await self._worker(self._cache.reactors, message)

    async def search(
        self,
        query: str,
        *,
        group: int | None = None,
        author: int | None = None,
        limit: int = 50,
    ) -> tuple[list[Event], dict[int, str], bool]:
        """Search the server (online only): the messages found, best first,
        their authors' names, and whether more matched."""
        reply: SearchResults = await self.engine.call(
            Search, query=query, group=group, author=author, limit=limit
        )
        return reply.events, {u.user: u.name for u in reply.users}, reply.more

    async def ack_status(self, post: int) -> tuple[list[str], list[str]]:
        """Who acknowledged an announcement, and who has not yet (its author
        and the group's moderators may ask)."""
        reply: AckList = await self.engine.call(AckStatus, target=post)
        everyone = [*reply.done, *reply.waiting]
        missing = await self._worker(self._cache.unnamed, everyone)
        if missing:
            await self.users(missing)
        done = [await self.user_name(u) for u in reply.done]
        waiting = [await self.user_name(u) for u in reply.waiting]
        return done, waiting

    async def draft(self, group: int) -> str:
        return await self._worker(self._cache.draft, group)

    async def save_draft(self, group: int, text: str) -> None:
        await self._worker(self._cache.save_draft, group, text)

    async def comment_draft(self, target: int) -> str:
        """A comment (or reply) begun under post or message ``target``."""
        return await self._worker(self._cache.draft, -target)

    async def save_comment_draft(self, target: int, text: str) -> None:
        await self._worker(self._cache.save_draft, -target, text)

    async def setting(self, key: str, default: str | None = None) -> str | None:
        """A setting of this device (the group last open, say)."""
        return await self._worker(self._cache.get, key, default)

    async def remember(self, key: str, value: str | int) -> None:
        await self._worker(self._cache.set, key, value)

    # -- questions for the server now (they need the link) ------------------------------

    async def load_older(self, group: int, kind: str, before: int | None) -> bool:
        """Fetch one page of the history the cache lacks below ``before``."""
        return await self.engine.load_older(group, kind, before)

    async def refresh_groups(self) -> None:
        await self.engine.refresh_groups()

    async def read_outside(
        self, group: int, kind: str, *, before: int | None = None, limit: int = 50
    ) -> Page:
        """A page of a group's history, newest first, not stored: a look at an
        open group one is not in (the server refuses the others)."""
        page: Page = await self.engine.call(
            History, group=group, kind=kind, before=before, limit=limit
        )
        return page

    async def directory(self, query: str = "", badge: str | None = None) -> list[DirectoryEntry]:
        """People whose name starts with ``query`` (with ``badge``, if given)."""
        reply = await self.engine.call(SearchDirectory, query=query, badge=badge)
        return list(reply.users)

    async def members(self, group: int) -> list[UserInfo]:
        """A group's members, named."""
        ids = (await self.engine.call(Members, group=group)).users
        return await self.users(ids)

    async def users(self, ids: list[int]) -> list[UserInfo]:
        """People by id (and the cache learns their names)."""
        if not ids:
            return []
        users = list((await self.engine.call(GetUsers, users=ids)).users)
        await self.learn_users(users)
        return users

    async def join_requests(self, group: int) -> list[JoinRequestInfo]:
        """Who asks to join a group I moderate."""
        return list((await self.engine.call(JoinRequests, group=group)).requests)

    async def charter(self) -> CharterText:
        """The usage charter in force (version 0: none published)."""
        reply: CharterText = await self.engine.call(GetCharter)
        return reply

    async def accept_charter(self, version: int) -> None:
        """Accept it; what waited for it is sent."""
        await self.engine.accept_charter(version)
