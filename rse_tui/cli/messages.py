"""``rse chat``, ``rse post``, ``rse dm`` (text from the command line or
standard input) and ``rse tail`` (print a group's chat or feed, then follow it)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import TextIO

from rse_tui.protocol import ChatEvent, ErrorCode, PostEvent, ProtocolError, Visibility

from ..glyphs import UNICODE, Glyphs
from ..sync.models import GroupRow, MessageRow
from .run import EXIT_OK, EXIT_QUEUED, EXIT_USAGE, CliError, Run, notice, running


async def _write(
    args: argparse.Namespace, feed: bool, texts: Callable[[], AsyncIterator[str]]
) -> int:
    async with running(args) as run:
        group = (await run.group(args.group)).group
        send = run.client.send_post if feed else run.client.send_chat
        bad_input: CliError | None = None
        try:
            async for text in texts():
                await run.queue(send(group, text))
        except CliError as exc:  # what was read before it is still sent
            bad_input = exc
        code = await run.deliver()
        if bad_input is not None:
            notice(str(bad_input))
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
        return await _write(args, False, _one(args.text))
    return await _write(args, False, _stdin_lines)


async def _stdin_text() -> str:
    """All of standard input, as one text."""
    text = _decode(await asyncio.to_thread(sys.stdin.buffer.read), "standard input")
    return text.rstrip()  # a file or a heredoc ends in a newline: not part of the text


async def cmd_post(args: argparse.Namespace) -> int:
    text = args.text if args.text is not None else await _stdin_text()
    if not text.strip():
        raise CliError("nothing to post", EXIT_USAGE)
    async with running(args) as run:
        group = (await run.group(args.group)).group
        cid = run.client.send_post(group, text, title=args.title, ack=args.ack)
        return await run.deliver_one(cid)


async def cmd_dm(args: argparse.Namespace) -> int:
    async with running(args) as run:
        user = await run.user(args.user)
        texts = _one(args.text) if args.text is not None else _stdin_lines
        async for text in texts():
            await run.queue(run.client.send_direct(user, text))
        return await run.deliver()


async def cmd_react(args: argparse.Namespace) -> int:
    async with running(args) as run:
        await run.queue(run.client.react(args.message, args.emoji, on=not args.remove))
        return await run.deliver()


def _styles(stream: TextIO) -> tuple[str, str, str]:
    if stream.isatty() and "NO_COLOR" not in os.environ:
        return "\x1b[2m", "\x1b[1m", "\x1b[0m"
    return "", "", ""


def unsent(row: MessageRow, glyphs: Glyphs) -> str:
    """A write of one's own the server has not stored, marked as the app
    marks it: ``(waiting) `` to be sent, or ``(refused, not sent: WHY) ``
    (kept in the outbox); nothing for a stored message."""
    if row.error is not None:
        return f"(refused, not sent: {glyphs.line(row.error)}) "
    return "(waiting) " if row.pending else ""


def format_line(
    row: MessageRow, styles: tuple[str, str, str] = ("", "", ""), glyphs: Glyphs = UNICODE
) -> str:
    """``#ID TIME AUTHOR: TEXT``; a post's title first ("Title — text"), and
    its comment count last ("[3 comments]")."""
    dim, bold, reset = styles
    line = glyphs.line
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.ts))
    title = f"{bold}{line(row.title)}{reset} {glyphs.dash} " if row.title else ""
    count = ""
    if row.comments and row.kind == PostEvent.TYPE:
        count = f" {dim}[{row.comments} comment{'s' if row.comments != 1 else ''}]{reset}"
    return (
        f"{dim}#{row.seq} {when}{reset} {bold}{line(row.author)}{reset}:"
        f" {title}{line(row.text)}{count}"
    )


async def cmd_tail(args: argparse.Namespace) -> int:
    kind = PostEvent.TYPE if args.feed else ChatEvent.TYPE
    styles = _styles(sys.stdout)
    async with running(args) as run:
        group = await run.group(args.group)
        name = run.glyphs.line(group.name)
        online = await run.online()
        if not group.member:
            return await _tail_outside(run, group, kind, args, styles)
        if online:
            while await _missing_some(run, group.group, kind, args.lines):
                if not await run.client.load_older(group.group, kind, None):
                    break
        rows = [
            r
            for r in await run.client.messages(group.group, kind, limit=max(1, args.lines))
            if r.seq is not None
        ]
        shown = rows[-args.lines :] if args.lines else []
        for row in shown:
            print(format_line(row, styles, run.glyphs), flush=True)
        last = (rows[-1].seq or 0) if rows else 0
        if not online:
            what = "showing cached messages" if shown else f"no cached messages of {name}"
            notice(f"{run.unreachable()}; {what}")
            if args.no_follow:
                return EXIT_QUEUED
        elif not rows and args.lines:
            notice(_nothing_yet(name, args, run.glyphs))
        if args.no_follow:
            return EXIT_OK
        while True:
            run.changed.clear()
            for row in await run.client.messages_after(group.group, kind, last):
                print(format_line(row, styles, run.glyphs), flush=True)
                last = row.seq or last
            await run.changed.wait()


def _shell(text: str, glyphs: Glyphs) -> str:
    """A name as one would type it again in a shell (quoted when it has spaces)."""
    return shlex.quote(glyphs.line(text))


def _nothing_yet(name: str, args: argparse.Namespace, glyphs: Glyphs) -> str:
    """Said (on stderr) when a tail has nothing to print: an empty output is not a hang."""
    if args.feed:
        return f"no feed posts in {name} yet"
    feed = f"rse tail {_shell(args.group, glyphs)} --feed"
    return f"no chat messages in {name} yet (its feed: {feed})"


async def _missing_some(run: Run, group: int, kind: str, lines: int) -> bool:
    """Does the cache lack some of the newest ``lines`` messages (a hole among them)?"""
    if lines <= 0:
        return False
    hole = await run.client.history_missing(group, kind, None)
    if hole is None:
        return False
    stored = [r for r in await run.client.messages(group, kind, limit=lines) if r.seq is not None]
    return len(stored) < lines or (stored[0].seq or 0) <= hole[1]


async def _tail_outside(
    run: Run, group: GroupRow, kind: str, args: argparse.Namespace, styles: tuple[str, str, str]
) -> int:
    """Tail a group one is not in: an open group's history is there to read
    (as a public channel is), but its news is pushed to members only."""
    name = run.glyphs.line(group.name)
    if not run.client.online:
        raise CliError(
            f"{run.unreachable()}; nothing of {name} is cached (not a member)", EXIT_QUEUED
        )
    events: list[ChatEvent | PostEvent] = []
    authors: dict[int, str] = {}
    before: int | None = None
    while len(events) < args.lines:
        try:
            page = await run.client.read_outside(
                group.group, kind, before=before, limit=min(500, args.lines - len(events))
            )
        except ProtocolError as exc:
            if exc.code is not ErrorCode.FORBIDDEN:
                raise
            raise CliError(
                f"{name} is {group.visibility}: only its members read it"
                f" (ask to join: rse group request {_shell(args.group, run.glyphs)})"
            ) from None
        authors.update((u.user, u.name) for u in page.users)
        events[:0] = [e for e in page.events if isinstance(e, ChatEvent | PostEvent)]
        if not page.more or not page.events:
            break
        before = page.events[0].seq
    for event in events:
        author = authors.get(event.user)
        if author is None:
            author = await run.client.user_name(event.user)
        row = MessageRow(event.seq, group.group, kind, event.user, author, event.ts, event.text)
        print(format_line(row, styles, run.glyphs), flush=True)
    if not events and args.lines:
        notice(_nothing_yet(name, args, run.glyphs))
    if args.no_follow:
        return EXIT_OK
    shell = _shell(args.group, run.glyphs)
    how = (
        f"ask to join: rse group request {shell}"
        if group.visibility == Visibility.PRIVATE
        else f"rse group join {shell}"
    )
    raise CliError(f"you are not a member of {name}: join it to follow it live ({how})")
