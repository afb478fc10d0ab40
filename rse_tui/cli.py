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
import os
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
    GetCharter,
    GetUsers,
    Members,
    PostEvent,
    ProtocolError,
    SearchDirectory,
)

from .sync import account as accounts
from .sync.credentials import CredentialError
from .sync.engine import Engine
from .sync.models import Changes, GroupRow, MessageRow, OutboxItem
from .sync.profile import ProfileError, home
from .textsafe import clean, clean_line

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_QUEUED = 0, 1, 2, 3


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


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
        self.changed = asyncio.Event()
        self.engine = Engine(
            account.open_cache(),
            url=account.settings.url,
            token=account.token,
            ca_file=account.ca_file,
            on_change=self._changed,
            on_error=lambda item, why: self.failures.append((item, why)),
            open_timeout=max(1.0, timeout),
        )

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
        why = self.engine.last_error or "no answer"
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
                raise CliError(f"{self.unreachable()}; no cached group named {name!r}", EXIT_QUEUED)
            raise CliError(f"no such group: {name}")
        return row

    async def user(self, name: str) -> int:
        """A user id by name (from the cache, else the directory)."""
        found = await self.engine.db(self.engine.cache.user_by_name, name)
        if found is not None:
            return found
        if not await self.online():
            raise CliError(f"{self.unreachable()}; unknown user {name!r} here", EXIT_QUEUED)
        listing = await self.engine.call(SearchDirectory, query=name)
        for entry in listing.users:
            if entry.name.casefold() == name.strip().casefold():
                return int(entry.user)
        raise CliError(f"no such user: {name}")

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
            where = f" to group {item.group}" if item.group else ""
            _notice(f"{item.op}{where} refused: {why}")
            await self.engine.db(self.engine.cache.discard, item.cid)
            code = EXIT_FAILED
        if not delivered:
            waiting = await self.engine.db(self.engine.cache.outbox_count)
            _notice(
                f"{self.unreachable()}; {waiting} write(s) queued, sent by the next rse command"
            )
            return EXIT_QUEUED
        return code


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
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("no password on standard input", EXIT_USAGE)
        return password
    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Password (again): ") != password:
        raise CliError("the passwords differ", EXIT_USAGE)
    return password


# -- commands --------------------------------------------------------------------------


async def cmd_join(args: argparse.Namespace) -> int:
    password = _read_password(args, confirm=True)
    account, where = await accounts.join(
        home(), args.url, args.code, args.name, password, args.ca, _notice
    )
    print(f"joined {args.url} as {account.settings.name}; token stored in {where}")
    return EXIT_OK


async def cmd_login(args: argparse.Namespace) -> int:
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
        async for text in texts():
            await run.engine.submit(op, group.group if group else None, text)
        return await run.deliver()


async def _stdin_lines() -> AsyncIterator[str]:
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            return
        line = line.rstrip("\r\n")
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
    text = args.text if args.text is not None else await asyncio.to_thread(sys.stdin.read)
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
        await run.engine.submit("gcreate", None, args.name, **settings)
        return await run.deliver()


async def _moderate(args: argparse.Namespace, op: str, **extra: object) -> int:
    async with running(args) as run:
        group = await run.group(args.name)
        user = await run.user(args.user)
        await run.engine.submit(op, group.group, None, user=user, **extra)
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
            await run.engine.submit("dm", None, text, user=user)
        return await run.deliver()


async def cmd_directory(args: argparse.Namespace) -> int:
    async with running(args) as run:
        if not await run.online():
            raise CliError(run.unreachable(), EXIT_QUEUED)
        badge = "ambassador" if args.ambassadors else None
        found = await run.engine.call(SearchDirectory, query=args.query or "", badge=badge)
        await run.engine.refresh_groups()
        names = {r.group: r.name for r in await run.engine.db(run.engine.cache.groups)}
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
        await run.engine.submit(op, group.group)
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
            print(f"{mark} {clean_line(g.name)}\t{g.members} members")
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
        online = await run.online()
        if online:
            await engine.load_older(group.group, kind, None)
        rows = await engine.db(cache.messages, group.group, kind, limit=args.lines)
        last = 0
        for row in rows:
            if row.seq is not None:
                print(format_line(row, styles), flush=True)
                last = row.seq
        if not online:
            _notice(f"{run.unreachable()}; showing cached messages")
            if args.no_follow:
                return EXIT_QUEUED
        if args.no_follow:
            return EXIT_OK
        while True:
            run.changed.clear()
            for row in await engine.db(cache.messages_after, group.group, kind, last):
                print(format_line(row, styles), flush=True)
                last = row.seq or last
            await run.changed.wait()


async def cmd_sync(args: argparse.Namespace) -> int:
    async with running(args) as run:
        return await run.deliver()


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(home(), reset=args.reset)


def cmd_tui(args: argparse.Namespace) -> int:
    from .ui.app import run_tui

    account = accounts.load(home(), _notice)
    return run_tui(account)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rse", description="The enterprise social network in your terminal."
    )
    parser.add_argument("--version", action="version", version=f"rse {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, timeout: bool = True) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if timeout:
            cmd.add_argument(
                "--timeout",
                type=float,
                default=10.0,
                metavar="S",
                help="seconds to reach the server before giving up (default 10)",
            )
        return cmd

    demo = add("demo", "start a local demo server and open the app on it", timeout=False)
    demo.add_argument("--reset", action="store_true", help="start over with fresh demo content")

    for name, what in (("join", "redeem an invitation"), ("login", "log in to a server")):
        cmd = add(name, what)
        cmd.add_argument("url", help="server address, ws://HOST:PORT/ or wss://HOST:PORT/")
        if name == "join":
            cmd.add_argument("code", help="the invitation code")
        cmd.add_argument("--name", required=True, help="your user name")
        cmd.add_argument("--password-stdin", action="store_true", help="read it from stdin")
        cmd.add_argument("--ca", type=Path, help="CA or pinned server certificate (PEM)")
    add("logout", "revoke this profile's token and forget it")

    group = add("group", "create, join, leave, list groups; list members", timeout=False)
    gsub = group.add_subparsers(dest="group_command", metavar="ACTION", required=True)

    def gadd(name: str, what: str, *, user: bool = False) -> argparse.ArgumentParser:
        cmd = gsub.add_parser(name, help=what, description=what)
        cmd.add_argument("name", help="group name (or #ID)")
        if user:
            cmd.add_argument("user", help="user name")
        cmd.add_argument("--timeout", type=float, default=10.0, metavar="S")
        return cmd

    create = gadd("create", "create a group (you moderate it)")
    create.add_argument("--parent", help="the group it goes under")
    create.add_argument("--visibility", choices=VISIBILITIES, default="open")
    create.add_argument(
        "--post-policy",
        choices=POST_POLICIES,
        default="everyone",
        help="who may post to the feed (moderators: an announcements group)",
    )
    create.add_argument("--chat-policy", choices=CHAT_POLICIES, default="everyone")
    create.add_argument("--description", default="")
    gadd("join", "join an open group")
    gadd("leave", "leave a group")
    gadd("members", "list a group's members")
    gadd("request", "ask to join a private group")
    gadd("approve", "let in someone who asked (moderators)", user=True)
    gadd("add", "add someone to a group (moderators)", user=True).add_argument(
        "--moderator", action="store_true", help="as a moderator"
    )
    gadd("remove", "remove someone from a group (moderators)", user=True)
    for name, what in (("list", "list groups (* = member)"), ("tree", "the tree of groups")):
        gsub.add_parser(name, help=what, description=what).add_argument(
            "--timeout", type=float, default=10.0, metavar="S"
        )

    for name, what in (("chat", "send chat"), ("post", "publish a feed post")):
        cmd = add(name, f"{what}: TEXT, or standard input")
        cmd.add_argument("group", help="group name")
        cmd.add_argument("text", nargs="?", help="the text (default: read standard input)")

    tail = add("tail", "print a group's chat (or feed), then follow it")
    tail.add_argument("group", help="group name")
    tail.add_argument("--feed", action="store_true", help="the feed instead of the chat")
    tail.add_argument("--no-follow", action="store_true", help="print and exit")
    tail.add_argument("-n", "--lines", type=int, default=50, help="how many to print first")
    add("sync", "deliver queued writes and catch up")
    dm = add("dm", "send a direct message: TEXT, or one per stdin line")
    dm.add_argument("user", help="user name")
    dm.add_argument("text", nargs="?")
    directory = add("directory", "find people by name or title")
    directory.add_argument("query", nargs="?", default="")
    directory.add_argument("--ambassadors", action="store_true", help="only ambassadors")
    charter = add("charter", "show the usage charter; --accept to accept it")
    charter.add_argument("--accept", action="store_true")
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "timeout", 1.0) <= 0:
        _notice("--timeout must be positive")
        return EXIT_USAGE
    try:
        if args.command in SYNC_COMMANDS:
            return SYNC_COMMANDS[args.command](args)
        return asyncio.run(ASYNC_COMMANDS[args.command](args))
    except CliError as exc:
        _notice(str(exc))
        return exc.code
    except (ProfileError, CredentialError) as exc:
        _notice(str(exc))
        return EXIT_FAILED
    except ProtocolError as exc:
        _notice(exc.message)
        return EXIT_FAILED
    except BrokenPipeError:  # the reader went away (rse tail | head): not an error
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (OSError, TimeoutError) as exc:
        _notice(f"cannot reach the server: {exc.strerror if isinstance(exc, OSError) else exc}")
        return EXIT_QUEUED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
