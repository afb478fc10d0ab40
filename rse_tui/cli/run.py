"""What every ``rse`` command shares: the exit codes, the one-line errors, and
``Run``, one command's engine (started on entry, stopped on exit)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from rse_tui.protocol import SearchDirectory, UserInfo

from ..sync import account as accounts
from ..sync.engine import Engine
from ..sync.models import Changes, GroupRow, OutboxItem
from ..sync.profile import home
from ..textsafe import clean_line

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_QUEUED = 0, 1, 2, 3


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _said(text: str) -> str:
    """A name as given on the command line, safe and short enough to echo in a message."""
    line = clean_line(text)
    return f"{line[:60]}…" if len(line) > 61 else line


def notice(message: str) -> None:
    print(f"rse: {message}", file=sys.stderr)


class Run:
    """One command's engine: started on entry, stopped on exit."""

    def __init__(self, account: accounts.Account, timeout: float) -> None:
        self.account = account
        self.timeout = timeout
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

    async def submit(
        self, op: str, group: int | None, text: str | None = None, **args: Any
    ) -> None:
        """Queue a write of this command's (see :meth:`deliver`)."""
        self.queued.add(await self.engine.submit(op, group, text, **args))

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

    async def group(self, name: str) -> GroupRow:
        """A group by name; the same error whatever makes it unknown."""
        db, cache = self.engine.db, self.engine.cache
        try:
            row = await db(cache.group_by_name, name)
            if row is None and await self.online():
                row = await db(cache.group_by_name, name)
        except LookupError as exc:
            raise CliError(str(exc)) from None
        if row is None:
            if not self.engine.online:
                raise CliError(
                    f"{self.unreachable()}; no cached group named {_said(name)!r}", EXIT_QUEUED
                )
            raise CliError(f"no such group: {_said(name)}")
        return row

    async def user(self, name: str) -> int:
        """A user id by name (from the cache, else the directory)."""
        found = await self.engine.db(self.engine.cache.user_by_name, name)
        if found is not None:
            return found
        if not await self.online():
            raise CliError(f"{self.unreachable()}; unknown user {_said(name)!r} here", EXIT_QUEUED)
        listing = await self.engine.call(SearchDirectory, query=name)
        for entry in listing.users:
            if entry.name.casefold() == name.strip().casefold():
                known = UserInfo(
                    user=entry.user, name=entry.name, title=entry.title, badge=entry.badge
                )
                await self.engine.db(self.engine.cache.put_users, [known])
                return int(entry.user)
        raise CliError(f"no such user: {_said(name)}")

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
            said = f"{await self.describe(item)} was refused: {clean_line(why)}"
            if item.cid in self.queued:
                await self.engine.db(self.engine.cache.discard, item.cid)
            else:
                # Queued by the app (or an earlier command): it stays in the outbox,
                # marked refused, where the app shows it to edit or discard.
                said += " (written earlier or in the app: kept there, marked refused)"
            notice(said)
            code = EXIT_FAILED
        if not delivered:
            waiting = await self.engine.db(self.engine.cache.outbox_count)
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
        db, cache = self.engine.db, self.engine.cache
        names = {g.group: g.name for g in await db(cache.groups)}
        group = clean_line(names.get(item.group, f"group #{item.group}")) if item.group else ""
        args = json.loads(item.args) if item.args else {}
        user = clean_line(await db(cache.user_name, args["user"])) if "user" in args else ""
        text = clean_line(item.text or "")
        short = f"{text[:40]}…" if len(text) > 41 else text
        quoted = f" ({short})" if short else ""
        words = {
            "chat": f"your message to {group}{quoted}",
            "post": f"your feed post to {group}{quoted}",
            "dm": f"your direct message to {user}{quoted}",
            "gcreate": f"creating the group {short!r}",
            "gset": f"changing the settings of {group}",
            "join": f"joining {group}",
            "leave": f"leaving {group}",
            "greq": f"asking to join {group}",
            "gapprove": f"letting {user} into {group}",
            "gadd": f"adding {user} to {group}"
            + (" as a moderator" if args.get("moderator") else ""),
            "gremove": f"removing {user} from {group}",
            "del": f"deleting a message in {group}",
            "pin": f"pinning a message in {group}",
        }
        return words.get(item.op, f"a queued {item.op}")


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
