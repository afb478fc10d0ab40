"""``rse search``: full-text search on the server, as lines like ``rse tail``'s:
``#ID TIME #GROUP AUTHOR: TEXT``, the words found marked."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from ..glyphs import Glyphs
from .messages import _styles
from .run import EXIT_OK, EXIT_QUEUED, CliError, notice, running

_WORD = re.compile(r"\w+")


def marked(text: str, words: list[str], bold: str, reset: str, glyphs: Glyphs) -> str:
    """``text`` as one safe line, the query's words in it marked (bold on a
    terminal, ``*word*`` elsewhere)."""
    line = glyphs.line(text)
    if not words:
        return line
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    start, end = (bold, reset) if bold else ("*", "*")
    return pattern.sub(lambda m: f"{start}{m.group(0)}{end}", line)


async def cmd_search(args: argparse.Namespace) -> int:
    dim, bold, reset = _styles(sys.stdout)
    async with running(args) as run:
        group = (await run.group(args.group)).group if args.group else None
        author = None
        if args.author:
            author = await run.client.user_by_name(args.author.lstrip("@"))
            if author is None:
                raise CliError(f"nobody named @{run.said(args.author)} is known here")
        if not await run.online():
            raise CliError(f"{run.unreachable()}; search asks the server", EXIT_QUEUED)
        events, names, more = await run.client.search(
            args.query, group=group, author=author, limit=args.limit
        )
        groups = {g.group: g.name for g in await run.client.groups()}
        words = _WORD.findall(args.query)
        for event in events:
            seq, user = event.seq, getattr(event, "user", 0)
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(getattr(event, "ts", 0)))
            where = groups.get(getattr(event, "group", 0), f"group {getattr(event, 'group', 0)}")
            title = getattr(event, "title", None)
            text = f"{title} {run.glyphs.dash} {event.text}" if title else event.text  # type: ignore[attr-defined]
            print(
                f"{dim}#{seq} {when}{reset} #{run.glyphs.line(where)}"
                f" {bold}{run.glyphs.line(names.get(user, f'user{user}'))}{reset}:"
                f" {marked(text, words, bold, reset, run.glyphs)}"
            )
        if not events:
            notice("nothing found")
        elif more:
            notice(f"more matched: --limit {min(args.limit * 2, 500)} shows more")
        return EXIT_OK


def add_commands(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    search = add("search", "search the messages, posts and comments you may read (server)")
    search.add_argument("query", help="the words to find (all of them, any order)")
    search.add_argument("--group", help="only in this group (name or #ID)")
    search.add_argument("--from", dest="author", metavar="USER", help="only by this person")
    search.add_argument("--limit", type=int, default=50, help="at most this many (1-500)")


COMMANDS: dict[str, Callable[[argparse.Namespace], Any]] = {"search": cmd_search}
