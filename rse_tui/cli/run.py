"""What every ``rse`` command shares: the exit codes, the one-line errors, and
``Run``, one command's engine (started on entry, stopped on exit)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Awaitable

from rse_tui.protocol import (
    Acknowledge,
    AddMember,
    Approve,
    CreateGroup,
    DeleteMessage,
    EditMessage,
    Feature,
    GroupSettings,
    JoinGroup,
    LeaveGroup,
    MarkRead,
    PinMessage,
    React,
    RemoveMember,
    RequestJoin,
    SendChat,
    SendComment,
    SendDirect,
    SendPost,
    UserInfo,
    Vote,
)

from ..glyphs import Glyphs
from ..sync import account as accounts
from ..sync.client import Client
from ..sync.engine import Engine
from ..sync.models import Changes, GroupRow, OutboxItem
from ..sync.profile import home

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_QUEUED = 0, 1, 2, 3


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def notice(message: str) -> None:
    print(f"rse: {message}", file=sys.stderr)


class Run:
    """One command's engine: started on entry, stopped on exit."""

    def __init__(
        self, account: accounts.Account, timeout: float, glyphs: Glyphs | None = None
    ) -> None:
        self.account = account
        self.timeout = timeout
        #: The symbols its output is drawn with (ASCII under RSE_ASCII=1 or NO_COLOR).
        self.glyphs = glyphs or Glyphs.from_env()
        self.deadline = time.monotonic() + timeout
        self.failures: list[tuple[OutboxItem, str]] = []
        #: The writes this command queued: only these are its to report and forget.
        self.queued: set[str] = set()
        self.changed = asyncio.Event()
        ca_file = account.ca_file
        if ca_file is not None and not ca_file.is_file():
            raise CliError(
                f"the CA file {ca_file} this profile trusts is missing: put it back, or run"
                f" 'rse login {account.settings.url} --name {account.settings.name} --ca FILE'"
            )
        try:
            cache = account.open_cache()
        except sqlite3.Error as exc:
            raise CliError(
                f"cannot open the local cache {account.profile.cache_path}: {exc}"
            ) from None
        self.engine = Engine(
            cache,
            url=account.settings.url,
            token=account.token,
            ca_file=account.ca_file,
            on_change=self._changed,
            on_error=lambda item, why: self.failures.append((item, why)),
            open_timeout=max(1.0, timeout),
        )
        self.client = Client(self.engine)

    async def queue(self, write: Awaitable[str]) -> None:
        """Queue a write of this command's (a Client write; see :meth:`deliver`)."""
        self.queued.add(await write)

    async def deliver_one(self, write: Awaitable[str]) -> int:
        """Queue one write and deliver it; once stored, print its ``#ID`` (what
        ``rse show``, ``comment``, ``vote``... take)."""
        cid = await write
        self.queued.add(cid)
        code = await self.deliver()
        seq = await self.client.stored_as(cid) if code == EXIT_OK else None
        if seq is not None:
            print(f"#{seq}", flush=True)
        return code

    async def queue_maybe(self, write: Awaitable[str | None]) -> None:
        """Queue a write that may have had nothing to say (None)."""
        cid = await write
        if cid is not None:
            self.queued.add(cid)

    def _changed(self, changes: Changes) -> None:
        if changes.outbox:
            # Writes are being taken or answered: a long stream (seq 1 1000 |
            # rse chat G, slowed by the server's rate limit) is not cut short.
            self.deadline = max(self.deadline, time.monotonic() + self.timeout)
        self.changed.set()

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    async def online(self) -> bool:
        try:
            async with asyncio.timeout(self.remaining()):
                await self.engine.wait_online()
            return True
        except TimeoutError:
            return False

    async def idle(self) -> bool:
        while True:
            try:
                async with asyncio.timeout(self.remaining()):
                    await self.engine.wait_idle()
                return True
            except TimeoutError:
                if not self.remaining():  # else the deadline moved on: writes are going
                    return False

    def unreachable(self) -> str:
        why = self.engine.last_error or f"no answer within --timeout {self.timeout:g} s"
        return f"cannot reach {self.account.settings.url}: {why}"

    def said(self, text: str) -> str:
        """A name as given on the command line, safe and short enough to echo in a message."""
        return self.glyphs.cut(text, 60)

    async def group(self, name: str) -> GroupRow:
        """A group by name; the same error whatever makes it unknown."""
        try:
            row = await self.client.group_by_name(name)
            if row is None and await self.online():
                row = await self.client.group_by_name(name)
        except LookupError as exc:
            raise CliError(str(exc)) from None
        if row is None:
            if not self.engine.online:
                raise CliError(
                    f"{self.unreachable()}; no cached group named {self.said(name)!r}", EXIT_QUEUED
                )
            raise CliError(f"no such group: {self.said(name)}")
        return row

    async def user(self, name: str) -> int:
        """A user id by name (from the cache, else the directory)."""
        found = await self.client.user_by_name(name)
        if found is not None:
            return found
        if not await self.online():
            raise CliError(
                f"{self.unreachable()}; unknown user {self.said(name)!r} here", EXIT_QUEUED
            )
        for entry in await self.client.directory(name):
            if entry.name.casefold() == name.strip().casefold():
                known = UserInfo(
                    user=entry.user, name=entry.name, title=entry.title, badge=entry.badge
                )
                await self.client.learn_users([known])
                return int(entry.user)
        raise CliError(f"no such user: {self.said(name)}")

    async def deliver(self) -> int:
        """Wait until the outbox is empty; report what the server refused."""
        delivered = await self.idle()
        if self.engine.charter_required:
            notice(
                f"{self.engine.last_error}: read it with 'rse charter', accept it with"
                " 'rse charter --accept'; the write stays queued"
            )
            return EXIT_FAILED
        code = EXIT_OK
        for item, why in self.failures:
            said = f"{await self.describe(item)} was refused: {self.glyphs.line(why)}"
            if item.cid in self.queued:
                await self.client.discard(item.cid)
                code = EXIT_FAILED
            else:
                # Queued by the app (or an earlier command): it stays in the outbox,
                # marked refused, where the app shows it to edit or discard. Said,
                # but this command did what it was asked ('rse charter --accept').
                said += " (written earlier or in the app: kept there, marked refused)"
            notice(said)
        if not delivered:
            waiting = await self.client.outbox_count()
            if self.engine.online:
                notice(
                    f"{waiting} write(s) not acknowledged within --timeout {self.timeout:g} s"
                    " (a slow link, or the server's limit on how fast one user writes);"
                    " they stay queued, sent by the next rse command"
                )
            else:
                notice(
                    f"{self.unreachable()}; {waiting} write(s) queued, sent by the next rse command"
                )
            return EXIT_QUEUED
        return code

    async def describe(self, item: OutboxItem) -> str:
        """A queued write in the words the user asked for it."""
        names = {g.group: g.name for g in await self.client.groups()}
        line = self.glyphs.line
        group = line(names.get(item.group, f"group #{item.group}")) if item.group else ""
        person = getattr(item.request, "user", None)
        user = line(await self.client.user_name(person)) if person is not None else ""
        short = self.glyphs.cut(item.text or "", 40)
        quoted = f" ({short})" if short else ""
        match item.request:
            case SendChat():
                return f"your message to {group}{quoted}"
            case SendPost():
                return f"your feed post to {group}{quoted}"
            case SendDirect():
                return f"your direct message to {user}{quoted}"
            case CreateGroup():
                return f"creating the group {short!r}"
            case GroupSettings():
                return f"changing the settings of {group}"
            case JoinGroup():
                return f"joining {group}"
            case LeaveGroup():
                return f"leaving {group}"
            case RequestJoin():
                return f"asking to join {group}"
            case Approve():
                return f"letting {user} into {group}"
            case AddMember(moderator=moderator):
                return f"adding {user} to {group}" + (" as a moderator" if moderator else "")
            case RemoveMember():
                return f"removing {user} from {group}"
            case EditMessage():
                return f"your edit{quoted}"
            case DeleteMessage():
                return "deleting a message"
            case PinMessage(on=on):
                return "pinning a message" if on else "unpinning a message"
            case React(target=target, emoji=emoji, on=on):
                return f"{'reacting' if on else 'taking back'} :{emoji}: on #{target}"
            case SendComment(post=post):
                return f"your comment on #{post}{quoted}"
            case Vote(target=target):
                return f"your vote in #{target}"
            case Acknowledge(target=target):
                return f"acknowledging #{target}"
            case Feature(target=target, on=on):
                return f"{'featuring' if on else 'no longer featuring'} #{target}"
            case MarkRead():
                return "marking what you read"
        return f"a queued {item.request.TYPE}"


@contextlib.asynccontextmanager
async def running(args: argparse.Namespace) -> AsyncIterator[Run]:
    account = accounts.load(home(), notice)
    run = Run(account, args.timeout)
    task = asyncio.create_task(run.engine.run(), name="rse-engine")
    try:
        yield run
    finally:
        await run.engine.stop()
        await task
        run.engine.close()
