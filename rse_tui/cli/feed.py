"""The feed's conversation on the command line: ``rse show`` (a post or
message with its comments or replies, reactions, poll), ``rse comment``,
``rse reply``, ``rse edit``, ``rse poll``, ``rse vote``, ``rse ack``,
``rse inbox``, ``rse feature``."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rse_tui.protocol import MAX_POLL_OPTIONS, ErrorCode, Kind, Poll, ProtocolError

from ..glyphs import UNICODE, Glyphs
from ..sync.models import InboxItem, MessageRow, PollState, Thread
from .messages import _stdin_text, _styles, unsent
from .run import EXIT_OK, EXIT_QUEUED, EXIT_USAGE, CliError, Run, notice, running


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


async def _thread(run: Run, target: int) -> Thread:
    """The thread of message ``target``: the server's when it answers in
    time, else the cache's (said on stderr); an error when neither has it."""
    online = await run.online()
    try:
        thread = await run.client.thread(target)
    except ProtocolError as exc:
        if exc.code is ErrorCode.NOT_FOUND:
            raise CliError(f"unknown message #{target}") from None
        raise
    if thread is None:
        if online:
            raise CliError(f"unknown message #{target}")
        raise CliError(f"{run.unreachable()}; message #{target} is not cached", EXIT_QUEUED)
    if not online:
        notice(f"{run.unreachable()}; showing what is cached")
    return thread


def poll_lines(poll: PollState, now: float, glyphs: Glyphs = UNICODE) -> list[str]:
    """A poll's results, its options numbered from 1 (as ``rse vote`` takes them)."""
    rules = [
        "anonymous" if poll.anonymous else "",
        "several choices" if poll.multiple else "",
        (f"closed {_when(poll.closes)}" if poll.closed(now) else f"closes {_when(poll.closes)}")
        if poll.closes is not None
        else "",
    ]
    head = ", ".join(r for r in rules if r)
    voters = f"{poll.voters} voter{'s' if poll.voters != 1 else ''}"
    lines = [f"poll ({head + ', ' if head else ''}{voters}):"]
    most = max(poll.counts, default=0) or 1
    width = max((len(glyphs.line(o)) for o in poll.options), default=0)
    digits = len(str(len(poll.options)))  # " 9." above "10.": the options in one column
    for n, option in enumerate(poll.options):
        count = poll.counts[n] if n < len(poll.counts) else 0
        bar = "#" * round(20 * count / most) if count else ""
        mine = "  (your vote)" if poll.mine and n in poll.mine else ""
        line = f"  {n + 1:>{digits}}. {glyphs.line(option):<{width}}  {count:>4} {bar}{mine}"
        lines.append(line.rstrip())
    if poll.mine == ():
        lines.append("  you voted (anonymously)")
    if poll.anonymous and poll.mine is not None and not poll.closed(now):
        lines.append("  (an anonymous poll's votes are counted in batches, every 30 s or so)")
    return lines


def _body(row: MessageRow, indent: str, glyphs: Glyphs) -> list[str]:
    return [f"{indent}{line}" for line in glyphs.text(row.text).splitlines() or [""]]


def _head(row: MessageRow, group: str, styles: tuple[str, str, str], glyphs: Glyphs) -> str:
    dim, bold, reset = styles
    line = glyphs.line
    what = {Kind.POST.value: "post", Kind.COMMENT.value: "comment"}.get(row.kind, "chat")
    edited = f", edited {_when(row.edited)}" if row.edited else ""
    return (
        f"{dim}#{row.seq} {_when(row.ts)}{reset} {bold}{line(row.author)}{reset}"
        f" in {line(group)} ({what}{edited})"
    )


async def cmd_show(args: argparse.Namespace) -> int:
    styles = _styles(sys.stdout)
    async with running(args) as run:
        thread = await _thread(run, args.message)
        root = thread.root
        names = {g.group: g.name for g in await run.client.groups()}
        group = names.get(root.group, f"group #{root.group}")
        safe = run.glyphs.line
        print(_head(root, group, styles, run.glyphs))
        if root.title:
            print(f"{styles[1]}{safe(root.title)}{styles[2]}")
        for line in _body(root, "", run.glyphs):
            print(line)
        for emoji, who in await run.client.reactions(root.seq or 0):
            print(f":{safe(emoji)}: {len(who)} ({', '.join(safe(w) for w in who)})")
        if root.poll is not None:
            for line in poll_lines(root.poll, time.time(), run.glyphs):
                print(line)
            for name, choices in thread.ballots:
                said = ", ".join(str(c + 1) for c in choices)
                print(f"  {safe(name)} voted {said}")
        if root.ack:
            me, _ = await run.client.identity()
            if root.user == me:
                print(f"announcement: who acknowledged it: 'rse ack #{root.seq} --status'")
            elif root.acked:
                print("announcement: you acknowledged it")
            else:
                print(f"announcement: acknowledge it with 'rse ack #{root.seq}'")
        one, many = ("comment", "comments") if root.kind == Kind.POST else ("reply", "replies")
        if thread.replies:
            count = len(thread.replies)
            print(f"{count} {one if count == 1 else many}:")
        for reply in thread.replies:
            first = f"  {styles[0]}#{reply.seq or '-'} {_when(reply.ts)}{styles[2]}"
            author = f"{styles[1]}{safe(reply.author)}{styles[2]}"
            print(f"{first} {unsent(reply, run.glyphs)}{author}:")
            for line in _body(reply, "    ", run.glyphs):
                print(line)
        if thread.more:
            notice("more comments on the server than shown")
        return EXIT_OK


async def _text_arg(args: argparse.Namespace) -> str:
    if args.text is not None:
        text: str = args.text
    else:
        text = await _stdin_text()
    if not text.strip():
        raise CliError("nothing to send", EXIT_USAGE)
    return text


async def cmd_comment(args: argparse.Namespace) -> int:
    text = await _text_arg(args)
    async with running(args) as run:
        return await run.deliver_one(run.client.comment(args.message, text))


async def cmd_reply(args: argparse.Namespace) -> int:
    text = await _text_arg(args)
    async with running(args) as run:
        thread = await _thread(run, args.message)
        if thread.root.kind != Kind.CHAT or thread.root.seq != args.message:
            raise CliError(
                f"#{args.message} is not a chat message: comment on a post with 'rse comment'"
            )
        return await run.deliver_one(
            run.client.send_chat(thread.root.group, text, reply=args.message)
        )


async def cmd_edit(args: argparse.Namespace) -> int:
    text = await _text_arg(args)
    async with running(args) as run:
        await run.queue(run.client.edit(args.message, text, title=args.title))
        return await run.deliver()


def _closing(text: str) -> int:
    """An ISO 8601 time (local time when it names no zone) as Unix seconds."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO time such as 2026-12-01T17:00"
        ) from None
    return int(when.timestamp())


async def cmd_poll(args: argparse.Namespace) -> int:
    if len(args.option) < 2:
        raise CliError("a poll has at least two --option", EXIT_USAGE)
    if args.closes is not None and args.closes <= time.time():
        raise CliError("--closes is in the past", EXIT_USAGE)
    poll = Poll(
        options=list(args.option),
        multiple=args.multiple,
        anonymous=args.anonymous,
        closes=args.closes,
    )
    async with running(args) as run:
        group = (await run.group(args.group)).group
        return await run.deliver_one(run.client.send_post(group, args.question, poll=poll))


async def _options(run: Run, target: int) -> int | None:
    """How many options the poll ``target`` has: the cache's, else the
    server's when it answers in time; None when neither says."""
    thread = await run.client.thread(target, cached=True)
    if (thread is None or thread.root.poll is None) and await run.online():
        with contextlib.suppress(ProtocolError):  # unknown: the server says so to the vote
            thread = await run.client.thread(target)
    if thread is None or thread.root.seq != target or thread.root.poll is None:
        return None
    return len(thread.root.poll.options)


async def cmd_vote(args: argparse.Namespace) -> int:
    choices = [n - 1 for n in args.options]
    async with running(args) as run:
        count = await _options(run, args.message)
        if count is not None and max(args.options) > count:
            # Numbered from 1, as rse show prints them (the server counts from 0).
            raise CliError(f"the poll #{args.message} has options 1 to {count}", EXIT_USAGE)
        await run.queue(run.client.vote(args.message, choices))
        return await run.deliver()


async def cmd_ack(args: argparse.Namespace) -> int:
    async with running(args) as run:
        if not args.status:
            await run.queue(run.client.acknowledge(args.message))
            return await run.deliver()
        if not await run.online():
            raise CliError(
                f"{run.unreachable()}; who acknowledged is the server's to say", EXIT_QUEUED
            )
        done, waiting = await run.client.ack_status(args.message)
        for what, names in (("acknowledged", done), ("not yet", waiting)):
            print(f"{what} ({len(names)}): {', '.join(map(run.glyphs.line, names)) or '-'}")
        return EXIT_OK


def inbox_line(
    item: InboxItem, group: str, styles: tuple[str, str, str], glyphs: Glyphs = UNICODE
) -> str:
    dim, bold, reset = styles
    star = "*" if item.unread else " "
    short = glyphs.cut(f":{item.text}:" if item.kind == "reaction" else item.text, 120)
    return (
        f"{star} {dim}#{item.target}{reset} {item.kind:<8} {glyphs.line(group)}"
        f" {bold}{glyphs.line(item.who)}{reset}: {short}"
    )


async def cmd_inbox(args: argparse.Namespace) -> int:
    styles = _styles(sys.stdout)
    async with running(args) as run:
        online = await run.online()
        items = await run.client.inbox(unread_only=args.unread)
        names = {g.group: g.name for g in await run.client.groups()}
        for item in items:
            print(inbox_line(item, names.get(item.group, f"#{item.group}"), styles, run.glyphs))
        if not items:
            notice("nothing unread in your inbox" if args.unread else "your inbox is empty")
        if not online:
            notice(f"{run.unreachable()}; showing what is cached")
        if args.keep:
            return EXIT_OK
        await run.queue_maybe(run.client.read_inbox())
        return await run.deliver() if online else EXIT_OK


async def cmd_feature(args: argparse.Namespace) -> int:
    async with running(args) as run:
        await run.queue(run.client.feature(args.message, on=not args.remove))
        return await run.deliver()


def _option_number(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_POLL_OPTIONS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an option number (1 to {MAX_POLL_OPTIONS}, as rse show prints)"
        )
    return int(text)


def add_commands(
    add: Callable[[str, str], argparse.ArgumentParser], message_id: Callable[[str], int]
) -> None:
    """The feed's commands on the parser (``add(name, help)`` makes one)."""
    show = add("show", "print a post or message with its comments or replies, reactions, poll")
    show.add_argument("message", type=message_id, metavar="ID", help="#ID, as rse tail prints")
    for name, what in (
        ("comment", "comment on a feed post: TEXT, or standard input"),
        ("reply", "reply to a chat message: TEXT, or standard input"),
        ("edit", "change the text of your message, post or comment"),
    ):
        cmd = add(name, what)
        cmd.add_argument("message", type=message_id, metavar="ID", help="#ID, as rse tail prints")
        cmd.add_argument("text", nargs="?", help="the text (default: all of standard input)")
        if name == "edit":
            cmd.add_argument("--title", help="a post's new title ('' removes it)")
    poll = add("poll", "publish a poll to a group's feed")
    poll.add_argument("group", help="group name (or #ID)")
    poll.add_argument("question", help="the question")
    poll.add_argument("--option", action="append", default=[], required=True, metavar="TEXT",
                      help="an option (give two or more)")  # fmt: skip
    poll.add_argument("--multiple", action="store_true", help="voters may choose several")
    poll.add_argument("--anonymous", action="store_true",
                      help="nobody, admins included, can learn who voted for what")  # fmt: skip
    poll.add_argument("--closes", type=_closing, metavar="ISO_TIME",
                      help="when voting ends, e.g. 2026-12-01T17:00 (local time)")  # fmt: skip
    vote = add("vote", "vote in a poll: option numbers as rse show prints them")
    vote.add_argument("message", type=message_id, metavar="ID", help="the poll's #ID")
    vote.add_argument("options", type=_option_number, nargs="+", metavar="N",
                      help="option numbers, from 1 (several where the poll allows)")  # fmt: skip
    ack = add("ack", "acknowledge an announcement ('got it'); --status: who has, who has not")
    ack.add_argument("message", type=message_id, metavar="ID", help="the announcement's #ID")
    ack.add_argument("--status", action="store_true",
                     help="who has and who has not yet (its author and moderators)")  # fmt: skip
    inbox = add("inbox", "mentions, replies, reactions to yours, announcements, closing polls")
    inbox.add_argument("--unread", action="store_true", help="only what is unread")
    inbox.add_argument("--keep", action="store_true", help="leave them unread")
    feature = add("feature", "feature a post for everyone (site admins)")
    feature.add_argument("message", type=message_id, metavar="ID", help="the post's #ID")
    feature.add_argument("--remove", action="store_true", help="stop featuring it")


COMMANDS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "show": cmd_show,
    "comment": cmd_comment,
    "reply": cmd_reply,
    "edit": cmd_edit,
    "poll": cmd_poll,
    "vote": cmd_vote,
    "ack": cmd_ack,
    "inbox": cmd_inbox,
    "feature": cmd_feature,
}
__all__ = ["COMMANDS", "add_commands", "poll_lines"]
