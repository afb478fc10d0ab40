"""``rse``: the terminal client, and the same engine as commands for scripts.

``rse`` alone opens the TUI on the current profile. The other commands are
for scripts and outages; each write goes through the outbox, so a write that
cannot reach the server within ``--timeout`` stays queued (exit 3) and the
next ``rse`` run of any kind delivers it.

Exit codes: 0 done, 1 refused or failed, 2 bad usage, 3 server unreachable
(writes stay queued), 130 interrupted. Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import math
import os
import shlex
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, TextIO

from rse_tui.protocol import (
    CHAT_POLICIES,
    POST_POLICIES,
    VISIBILITIES,
    ChatEvent,
    ErrorCode,
    GetCharter,
    GetUsers,
    History,
    Members,
    PostEvent,
    ProtocolError,
    SearchDirectory,
    UserInfo,
)
from rse_tui.typeahead import Typeahead

from .sync import account as accounts
from .sync.connection import BadAddress, check_url, describe_failure, tls_context
from .sync.credentials import CredentialError
from .sync.engine import Engine, Offline
from .sync.models import Changes, GroupRow, MessageRow, OutboxItem
from .sync.profile import ProfileError, home
from .textsafe import clean, clean_line

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_QUEUED = 0, 1, 2, 3


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _said(text: str) -> str:
    """A name as given on the command line, safe and short enough to echo in a message."""
    line = clean_line(text)
    return f"{line[:60]}…" if len(line) > 61 else line


def _notice(message: str) -> None:
    print(f"rse: {message}", file=sys.stderr)


# -- engine plumbing -------------------------------------------------------------------


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
            _notice(
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
            _notice(said)
            code = EXIT_FAILED
        if not delivered:
            waiting = await self.engine.db(self.engine.cache.outbox_count)
            if self.engine.online:
                _notice(
                    f"{waiting} write(s) not acknowledged within --timeout {self.timeout:g} s"
                    " (a slow link, or the server's limit on how fast one user writes);"
                    " they stay queued, sent by the next rse command"
                )
            else:
                _notice(
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
    account = accounts.load(home(), _notice)
    run = Run(account, args.timeout)
    task = asyncio.create_task(run.engine.run(), name="rse-engine")
    try:
        yield run
    finally:
        await run.engine.stop()
        await task
        run.engine.close()


def _read_password(args: argparse.Namespace, confirm: bool) -> str:
    if args.password_stdin:
        line = sys.stdin.buffer.readline()
        try:
            password = line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise CliError("the password on standard input is not UTF-8 text", EXIT_USAGE) from None
        if not password:
            raise CliError("no password on standard input", EXIT_USAGE)
        return password
    if not _has_terminal():
        raise CliError(
            "no terminal to ask for the password on: pipe it with --password-stdin", EXIT_USAGE
        )
    try:
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Password (again): ") != password:
            raise CliError("the passwords differ", EXIT_USAGE)
    except EOFError:
        raise CliError("no password given", EXIT_USAGE) from None
    if not password:
        raise CliError("no password given", EXIT_USAGE)
    return password


def _has_terminal() -> bool:
    """Can getpass ask on a terminal (it uses /dev/tty, else standard input)?"""
    if os.name != "posix":
        return sys.stdin.isatty()
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return sys.stdin.isatty()
    return True


def _check_server(args: argparse.Namespace) -> None:
    """The address and CA file of join/login, checked before asking for a password."""
    check_url(args.url)
    if args.ca is None:
        return
    if not args.ca.is_file():
        what = "is a directory" if args.ca.is_dir() else "does not exist"
        raise CliError(f"the CA file {args.ca} {what}", EXIT_USAGE)
    import ssl

    try:
        tls_context(args.ca)
    except ssl.SSLError:
        raise CliError(f"the CA file {args.ca} holds no PEM certificate", EXIT_USAGE) from None
    except OSError as exc:
        raise CliError(f"cannot read the CA file {args.ca}: {exc.strerror}", EXIT_USAGE) from None


# -- commands --------------------------------------------------------------------------


def _read_code(args: argparse.Namespace) -> str:
    """The invitation code: an argument, or (``--code-stdin``) the first line of
    standard input, where ``ps`` and shell history do not show it."""
    if args.code_stdin == (args.code is not None):
        raise CliError("give the invitation code, or --code-stdin (not both)", EXIT_USAGE)
    if args.code is not None:
        return str(args.code)
    try:
        code = sys.stdin.buffer.readline().decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CliError("the code on standard input is not UTF-8 text", EXIT_USAGE) from None
    if not code:
        raise CliError("no invitation code on standard input", EXIT_USAGE)
    return code


async def cmd_join(args: argparse.Namespace) -> int:
    _check_server(args)
    code = _read_code(args)  # first line of standard input, before the password's
    password = _read_password(args, confirm=True)
    account, where = await accounts.join(
        home(), args.url, code, args.name, password, args.ca, _notice
    )
    print(f"joined {args.url} as {account.settings.name}; token stored in {where}")
    return EXIT_OK


async def cmd_login(args: argparse.Namespace) -> int:
    _check_server(args)
    password = _read_password(args, confirm=False)
    account, where = await accounts.login(home(), args.url, args.name, password, args.ca, _notice)
    print(f"logged in to {args.url} as {account.settings.name}; token stored in {where}")
    return EXIT_OK


async def cmd_logout(args: argparse.Namespace) -> int:
    account = accounts.load(home(), _notice)
    if await accounts.logout(account, open_timeout=args.timeout):
        print(f"logged out of {account.settings.url}")
        return EXIT_OK
    _notice(f"cannot reach {account.settings.url}; the token was forgotten here only")
    return EXIT_QUEUED


async def _write(args: argparse.Namespace, op: str, texts: Callable[[], AsyncIterator[str]]) -> int:
    async with running(args) as run:
        group = await run.group(args.group) if op in ("chat", "post") else None
        bad_input: CliError | None = None
        try:
            async for text in texts():
                await run.submit(op, group.group if group else None, text)
        except CliError as exc:  # what was read before it is still sent
            bad_input = exc
        code = await run.deliver()
        if bad_input is not None:
            _notice(str(bad_input))
            return code or bad_input.code
        return code


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{where} is not UTF-8 text", EXIT_USAGE) from None


async def _stdin_lines() -> AsyncIterator[str]:
    number = 0
    while True:
        data = await asyncio.to_thread(sys.stdin.buffer.readline)
        if not data:
            return
        number += 1
        line = _decode(data, f"line {number} of standard input").rstrip("\r\n")
        if line.strip():
            yield line


def _one(text: str) -> Callable[[], AsyncIterator[str]]:
    async def gen() -> AsyncIterator[str]:
        yield text

    return gen


async def cmd_chat(args: argparse.Namespace) -> int:
    if args.text is not None:
        return await _write(args, "chat", _one(args.text))
    return await _write(args, "chat", _stdin_lines)


async def cmd_post(args: argparse.Namespace) -> int:
    if args.text is not None:
        text = args.text
    else:
        text = _decode(await asyncio.to_thread(sys.stdin.buffer.read), "standard input")
        text = text.rstrip()  # a file or a heredoc ends in a newline: not part of the post
    if not text.strip():
        raise CliError("nothing to post", EXIT_USAGE)
    return await _write(args, "post", _one(text))


async def cmd_group(args: argparse.Namespace) -> int:
    handler = GROUP_COMMANDS[args.group_command]
    return await handler(args)


async def cmd_group_create(args: argparse.Namespace) -> int:
    async with running(args) as run:
        settings: dict[str, object] = {
            "visibility": args.visibility,
            "post_policy": args.post_policy,
            "chat_policy": args.chat_policy,
        }
        if args.description:
            settings["description"] = args.description
        if args.parent:
            settings["parent"] = (await run.group(args.parent)).group
        await run.submit("gcreate", None, args.name, **settings)
        return await run.deliver()


async def _moderate(args: argparse.Namespace, op: str, **extra: object) -> int:
    async with running(args) as run:
        group = await run.group(args.name)
        user = await run.user(args.user)
        await run.submit(op, group.group, None, user=user, **extra)
        return await run.deliver()


async def cmd_group_request(args: argparse.Namespace) -> int:
    return await _membership(args, "greq")


async def cmd_group_approve(args: argparse.Namespace) -> int:
    return await _moderate(args, "gapprove")


async def cmd_group_add(args: argparse.Namespace) -> int:
    return await _moderate(args, "gadd", moderator=args.moderator)


async def cmd_group_remove(args: argparse.Namespace) -> int:
    return await _moderate(args, "gremove")


def _tag(row: GroupRow) -> str:
    parts = [row.visibility]
    if row.member:
        parts.append("member")
    if row.moderator:
        parts.append("moderator")
    if row.requested:
        parts.append("requested")
    if row.post_policy == "moderators":
        parts.append("announcements")
    if row.pending:
        parts.append(f"{row.pending} requests")
    return ", ".join(parts)


async def cmd_group_tree(args: argparse.Namespace) -> int:
    async with running(args) as run:
        fresh = await run.online()
        if fresh:
            await run.engine.refresh_groups()
        rows = [r for r in await run.engine.db(run.engine.cache.groups) if r.dm is None]
        known = {r.group for r in rows}
        children: dict[int | None, list[GroupRow]] = {}
        for row in rows:
            children.setdefault(row.parent if row.parent in known else None, []).append(row)

        def show(parent: int | None, depth: int) -> None:
            for row in sorted(children.get(parent, []), key=lambda r: r.name.casefold()):
                print(f"{'  ' * depth}{clean_line(row.name)}  ({_tag(row)})")
                show(row.group, depth + 1)

        show(None, 0)
        if not fresh:
            _notice(f"{run.unreachable()}; showing the cached tree")
            return EXIT_QUEUED
        return EXIT_OK


async def cmd_dm(args: argparse.Namespace) -> int:
    async with running(args) as run:
        user = await run.user(args.user)
        texts = _one(args.text) if args.text is not None else _stdin_lines
        async for text in texts():
            await run.submit("dm", None, text, user=user)
        return await run.deliver()


async def cmd_directory(args: argparse.Namespace) -> int:
    async with running(args) as run:
        if not await run.online():
            raise CliError(run.unreachable(), EXIT_QUEUED)
        badge = "ambassador" if args.ambassadors else None
        found = await run.engine.call(SearchDirectory, query=args.query or "", badge=badge)
        await run.engine.refresh_groups()
        names = {r.group: r.name for r in await run.engine.db(run.engine.cache.groups)}
        if not found.users:
            _notice("nobody matches" + (f" {clean_line(args.query)[:40]!r}" if args.query else ""))
        for entry in found.users:
            mark = " [ambassador]" if entry.badge == "ambassador" else ""
            title = f" — {clean_line(entry.title)}" if entry.title else ""
            groups = ", ".join(clean_line(names.get(g, f"#{g}")) for g in entry.groups)
            print(f"{clean_line(entry.name)}{mark}{title}" + (f"  ({groups})" if groups else ""))
        return EXIT_OK


async def cmd_charter(args: argparse.Namespace) -> int:
    async with running(args) as run:
        if not await run.online():
            raise CliError(run.unreachable(), EXIT_QUEUED)
        charter = await run.engine.call(GetCharter)
        if charter.version == 0:
            print("no usage charter has been published")
            return EXIT_OK
        print(clean(charter.text).rstrip())
        print()
        if args.accept:
            await run.engine.accept_charter(charter.version)
            print(f"accepted the usage charter, version {charter.version}")
            return await run.deliver()
        if charter.accepted >= charter.version:
            print(f"you accepted version {charter.version}")
            return EXIT_OK
        print(f"version {charter.version} is not accepted yet: rse charter --accept")
        return EXIT_FAILED


async def _membership(args: argparse.Namespace, op: str) -> int:
    async with running(args) as run:
        group = await run.group(args.name)
        await run.submit(op, group.group)
        return await run.deliver()


async def cmd_group_join(args: argparse.Namespace) -> int:
    return await _membership(args, "join")


async def cmd_group_leave(args: argparse.Namespace) -> int:
    return await _membership(args, "leave")


async def cmd_group_list(args: argparse.Namespace) -> int:
    async with running(args) as run:
        fresh = await run.online()
        if fresh:
            await run.engine.refresh_groups()
        for g in await run.engine.db(run.engine.cache.groups):
            if g.dm is not None:
                continue
            mark = "*" if g.member else " "
            count = "1 member" if g.members == 1 else f"{g.members} members"
            print(f"{mark} {clean_line(g.name)}\t{count}")
        if not fresh:
            _notice(f"{run.unreachable()}; showing the cached list")
            return EXIT_QUEUED
        return EXIT_OK


async def cmd_group_members(args: argparse.Namespace) -> int:
    async with running(args) as run:
        group = await run.group(args.name)
        if not await run.online():
            raise CliError(run.unreachable(), EXIT_QUEUED)
        ids = (await run.engine.call(Members, group=group.group)).users
        users = (await run.engine.call(GetUsers, users=ids)).users if ids else []
        for name in sorted(clean_line(u.name) for u in users):
            print(name)
        return EXIT_OK


def _styles(stream: TextIO) -> tuple[str, str, str]:
    if stream.isatty() and "NO_COLOR" not in os.environ:
        return "\x1b[2m", "\x1b[1m", "\x1b[0m"
    return "", "", ""


def format_line(row: MessageRow, styles: tuple[str, str, str] = ("", "", "")) -> str:
    dim, bold, reset = styles
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.ts))
    return (
        f"{dim}#{row.seq} {when}{reset} {bold}{clean_line(row.author)}{reset}:"
        f" {clean_line(row.text)}"
    )


async def cmd_tail(args: argparse.Namespace) -> int:
    kind = PostEvent.TYPE if args.feed else ChatEvent.TYPE
    styles = _styles(sys.stdout)
    async with running(args) as run:
        engine, cache = run.engine, run.engine.cache
        group = await run.group(args.group)
        name = clean_line(group.name)
        online = await run.online()
        if not group.member:
            return await _tail_outside(run, group, kind, args, styles)
        if online:
            while await _missing_some(run, group.group, kind, args.lines):
                if not await engine.load_older(group.group, kind, None):
                    break
        rows = [
            r
            for r in await engine.db(cache.messages, group.group, kind, limit=max(1, args.lines))
            if r.seq is not None
        ]
        shown = rows[-args.lines :] if args.lines else []
        for row in shown:
            print(format_line(row, styles), flush=True)
        last = (rows[-1].seq or 0) if rows else 0
        if not online:
            what = "showing cached messages" if shown else f"no cached messages of {name}"
            _notice(f"{run.unreachable()}; {what}")
            if args.no_follow:
                return EXIT_QUEUED
        elif not rows and args.lines:
            _notice(_nothing_yet(name, args))
        if args.no_follow:
            return EXIT_OK
        while True:
            run.changed.clear()
            for row in await engine.db(cache.messages_after, group.group, kind, last):
                print(format_line(row, styles), flush=True)
                last = row.seq or last
            await run.changed.wait()


def _shell(text: str) -> str:
    """A name as one would type it again in a shell (quoted when it has spaces)."""
    return shlex.quote(clean_line(text))


def _nothing_yet(name: str, args: argparse.Namespace) -> str:
    """Said (on stderr) when a tail has nothing to print: an empty output is not a hang."""
    if args.feed:
        return f"no feed posts in {name} yet"
    return f"no chat messages in {name} yet (its feed: rse tail {_shell(args.group)} --feed)"


async def _missing_some(run: Run, group: int, kind: str, lines: int) -> bool:
    """Does the cache lack some of the newest ``lines`` messages (a hole among them)?"""
    if lines <= 0:
        return False
    db, cache = run.engine.db, run.engine.cache
    hole = await db(cache.hole_below, group, kind, None)
    if hole is None:
        return False
    stored = [r for r in await db(cache.messages, group, kind, limit=lines) if r.seq is not None]
    return len(stored) < lines or (stored[0].seq or 0) <= hole[1]


async def _tail_outside(
    run: Run, group: GroupRow, kind: str, args: argparse.Namespace, styles: tuple[str, str, str]
) -> int:
    """Tail a group one is not in: an open group's history is there to read
    (as a public channel is), but its news is pushed to members only."""
    name = clean_line(group.name)
    if not run.engine.online:
        raise CliError(
            f"{run.unreachable()}; nothing of {name} is cached (not a member)", EXIT_QUEUED
        )
    events: list[ChatEvent | PostEvent] = []
    authors: dict[int, str] = {}
    before: int | None = None
    while len(events) < args.lines:
        try:
            page = await run.engine.call(
                History,
                group=group.group,
                kind=kind,
                before=before,
                limit=min(500, args.lines - len(events)),
            )
        except ProtocolError as exc:
            if exc.code is not ErrorCode.FORBIDDEN:
                raise
            raise CliError(
                f"{name} is {group.visibility}: only its members read it"
                f" (ask to join: rse group request {_shell(args.group)})"
            ) from None
        authors.update((u.user, u.name) for u in page.users)
        events[:0] = [e for e in page.events if isinstance(e, ChatEvent | PostEvent)]
        if not page.more or not page.events:
            break
        before = page.events[0].seq
    for event in events:
        author = authors.get(event.user)
        if author is None:
            author = await run.engine.db(run.engine.cache.user_name, event.user)
        row = MessageRow(event.seq, group.group, kind, event.user, author, event.ts, event.text)
        print(format_line(row, styles), flush=True)
    if not events and args.lines:
        _notice(_nothing_yet(name, args))
    if args.no_follow:
        return EXIT_OK
    raise CliError(
        f"you are not a member of {name}: join it to follow it live"
        f" (rse group join {_shell(args.group)})"
    )


async def cmd_sync(args: argparse.Namespace) -> int:
    async with running(args) as run:
        return await run.deliver()


def _need_terminal() -> None:
    """The app draws a full screen: without a terminal it would write escape
    codes into a pipe or a file."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError(
            "the app needs a terminal; for scripts use rse tail, rse chat, rse post, rse sync",
            EXIT_USAGE,
        )


def cmd_demo(args: argparse.Namespace) -> int:
    _need_terminal()
    typeahead = Typeahead()  # what is typed while the demo starts is kept
    from .demo import DemoRunning, run_demo

    try:
        return run_demo(home(), reset=args.reset, typeahead=typeahead)
    except DemoRunning as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    finally:
        typeahead.take()  # the terminal as it was, whatever stopped the demo early


def cmd_tui(args: argparse.Namespace) -> int:
    account = accounts.load(home(), _notice)
    _need_terminal()
    typeahead = Typeahead()
    try:
        from .ui.app import run_tui

        return run_tui(account, typeahead=typeahead)
    finally:
        typeahead.take()  # the terminal as it was, whatever stopped the app early


GROUP_COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "create": cmd_group_create,
    "join": cmd_group_join,
    "leave": cmd_group_leave,
    "list": cmd_group_list,
    "members": cmd_group_members,
    "request": cmd_group_request,
    "approve": cmd_group_approve,
    "add": cmd_group_add,
    "remove": cmd_group_remove,
    "tree": cmd_group_tree,
}
ASYNC_COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "join": cmd_join,
    "login": cmd_login,
    "logout": cmd_logout,
    "group": cmd_group,
    "chat": cmd_chat,
    "post": cmd_post,
    "tail": cmd_tail,
    "sync": cmd_sync,
    "dm": cmd_dm,
    "directory": cmd_directory,
    "charter": cmd_charter,
}
SYNC_COMMANDS: dict[str | None, Callable[[argparse.Namespace], int]] = {
    None: cmd_tui,
    "demo": cmd_demo,
}


MAX_LINES = 1_000_000


def _lines(text: str) -> int:
    """A count of lines: ASCII digits only ('¹'.isdigit() is true, int('¹') fails)."""
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_LINES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 0 to {MAX_LINES}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


TIMEOUT_HELP = "seconds to reach the server before giving up (default 10)"
DESCRIPTION = """\
The enterprise social network in your terminal.

Plain 'rse', with no command, opens the app on the saved profile (join or
log in first). The commands below do the same things from scripts and
during outages."""
EPILOG = """\
Exit codes: 0 done, 1 refused (one line on stderr), 2 bad usage, 3 server
unreachable within --timeout (writes stay queued; the next rse command of
any kind delivers them). Data directory: $RSE_HOME, else the platform's."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rse",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rse {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, timeout: bool = True) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if timeout:
            cmd.add_argument(
                "--timeout", type=_seconds, default=10.0, metavar="S", help=TIMEOUT_HELP
            )
        return cmd

    demo = add("demo", "start a local demo server and open the app on it", timeout=False)
    demo.add_argument("--reset", action="store_true", help="start over with fresh demo content")

    for name, what in (("join", "redeem an invitation"), ("login", "log in to a server")):
        cmd = add(name, what)
        cmd.add_argument("url", help="server address, ws://HOST:PORT/ or wss://HOST:PORT/")
        if name == "join":
            cmd.add_argument("code", nargs="?", help="the invitation code (or --code-stdin)")
            cmd.add_argument(
                "--code-stdin",
                action="store_true",
                help="read the code from the first line of standard input (not shown by ps);"
                " with --password-stdin the password is the next line",
            )
        cmd.add_argument("--name", required=True, help="your user name")
        cmd.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )
        cmd.add_argument(
            "--ca",
            type=Path,
            metavar="FILE",
            help="trust this CA or pinned server certificate (PEM) for wss://",
        )
    add("logout", "revoke this profile's token and forget it")

    group = add("group", "create, join, leave, list groups; list and manage members", timeout=False)
    gsub = group.add_subparsers(dest="group_command", metavar="ACTION", required=True)

    def gadd(name: str, what: str, *, user: bool = False) -> argparse.ArgumentParser:
        cmd = gsub.add_parser(name, help=what, description=what)
        if name not in ("list", "tree"):
            cmd.add_argument("name", help="group name (or #ID)")
        if user:
            cmd.add_argument("user", help="user name")
        cmd.add_argument("--timeout", type=_seconds, default=10.0, metavar="S", help=TIMEOUT_HELP)
        return cmd

    create = gadd("create", "create a group (you moderate it)")
    create.add_argument("--parent", metavar="GROUP", help="the group it goes under")
    create.add_argument(
        "--visibility",
        choices=VISIBILITIES,
        default="open",
        help="open: anyone reads and joins; private: listed, members read, join by request;"
        " secret: invisible to non-members (default open)",
    )
    create.add_argument(
        "--post-policy",
        choices=POST_POLICIES,
        default="everyone",
        help="who may post to the feed (moderators: an announcements group)",
    )
    create.add_argument(
        "--chat-policy",
        choices=CHAT_POLICIES,
        default="everyone",
        help="who may chat (nobody: the chat is closed)",
    )
    create.add_argument("--description", default="", help="one line saying what it is for")
    gadd("join", "join an open group")
    gadd("leave", "leave a group")
    gadd("members", "list a group's members")
    gadd("request", "ask to join a private group")
    gadd("approve", "let in someone who asked (moderators)", user=True)
    gadd(
        "add",
        "add someone to a group: moderators and site admins, to any group they manage;"
        " any member, to an open group",
        user=True,
    ).add_argument("--moderator", action="store_true", help="as a moderator (moderators only)")
    gadd("remove", "remove someone from a group (moderators)", user=True)
    gadd("list", "list groups (* = member)")
    gadd("tree", "the tree of groups")

    for name, what in (("chat", "send chat"), ("post", "publish a feed post")):
        cmd = add(name, f"{what}: TEXT, or standard input")
        cmd.add_argument("group", help="group name (or #ID)")
        help_text = (
            "the text (default: one message per line of standard input)"
            if name == "chat"
            else "the text (default: all of standard input)"
        )
        cmd.add_argument("text", nargs="?", help=help_text)

    tail = add("tail", "print a group's chat (or feed), then follow it")
    tail.add_argument("group", help="group name (or #ID)")
    tail.add_argument("--feed", action="store_true", help="the feed instead of the chat")
    tail.add_argument("--no-follow", action="store_true", help="print and exit")
    tail.add_argument(
        "-n",
        "--lines",
        type=_lines,
        default=50,
        metavar="N",
        help="how many to print first (default 50)",
    )
    add("sync", "deliver queued writes and catch up")
    dm = add("dm", "send a direct message: TEXT, or one per stdin line")
    dm.add_argument("user", help="user name")
    dm.add_argument(
        "text", nargs="?", help="the text (default: one message per line of standard input)"
    )
    directory = add("directory", "find people by name or title")
    directory.add_argument(
        "query", nargs="?", default="", help="part of a name or title (default: everyone)"
    )
    directory.add_argument("--ambassadors", action="store_true", help="only ambassadors")
    charter = add("charter", "show the usage charter; --accept to accept it")
    charter.add_argument("--accept", action="store_true", help="accept the version shown")
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def _undecodable(args: argparse.Namespace) -> str | None:
    """The first argument that is not text (bytes that are not UTF-8), if any."""
    for key, value in vars(args).items():
        if isinstance(value, str | Path):
            try:
                str(value).encode("utf-8")
            except UnicodeEncodeError:
                return key.replace("_", "-")
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    bad = _undecodable(args)
    if bad is not None:
        _notice(f"the {bad} argument is not UTF-8 text")
        return EXIT_USAGE
    try:
        if args.command in SYNC_COMMANDS:
            return SYNC_COMMANDS[args.command](args)
        return asyncio.run(ASYNC_COMMANDS[args.command](args))
    except CliError as exc:
        _notice(str(exc))
        return exc.code
    except BadAddress as exc:
        _notice(str(exc))
        return EXIT_USAGE
    except (ProfileError, CredentialError) as exc:
        _notice(str(exc))
        return EXIT_FAILED
    except ProtocolError as exc:
        _notice(clean_line(exc.message))
        return EXIT_FAILED
    except BrokenPipeError:  # the reader went away (rse tail | head): not an error
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Offline:  # the link dropped between two requests of one command
        _notice("the connection to the server dropped; try again")
        return EXIT_QUEUED
    except Exception as exc:
        why = describe_failure(exc, getattr(args, "url", None) or "the server")
        if why is not None:
            _notice(why)
            return EXIT_QUEUED
        if isinstance(exc, OSError) and exc.filename is not None:
            _notice(f"cannot use {exc.filename}: {exc.strerror or exc}")
            return EXIT_FAILED
        if isinstance(exc, sqlite3.Error):
            _notice(f"the local cache failed: {exc}")
            return EXIT_FAILED
        if os.environ.get("RSE_DEBUG"):
            raise
        _notice(f"internal error: {type(exc).__name__}: {exc} (RSE_DEBUG=1 shows where)")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
