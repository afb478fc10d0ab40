"""Turn cache rows into terminal lines, treating every text as untrusted.

Texts are built with Rich ``Text`` objects from plain strings (never parsed
as markup) after ``textsafe.clean`` has replaced control characters. Feed
posts are Markdown, rendered without hyperlinks so that no URL from a post
becomes a terminal escape sequence.
"""

from __future__ import annotations

import hashlib
import time

from rich.console import Console, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from rse_tui.protocol import PostEvent
from rse_tui.sync.models import MessageRow
from rse_tui.textsafe import clean, clean_line

#: Author colours from the 16-colour palette, so they read on any terminal.
_AUTHOR_COLOURS = ("cyan", "green", "magenta", "yellow", "blue", "red")
_DIM = Style(dim=True)
_PENDING = Style(dim=True, italic=True)
_FAILED = Style(color="red", bold=True)


def author_style(name: str) -> Style:
    digest = hashlib.blake2s(name.encode("utf-8"), digest_size=1).digest()[0]
    return Style(color=_AUTHOR_COLOURS[digest % len(_AUTHOR_COLOURS)], bold=True)


def when(ts: float, now: float | None = None) -> str:
    moment = time.localtime(ts)
    today = time.localtime(now if now is not None else time.time())
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M", moment)
    if moment.tm_year == today.tm_year:
        return time.strftime("%d %b %H:%M", moment)
    return time.strftime("%Y-%m-%d", moment)


def _author(row: MessageRow, text: Text) -> None:
    text.append(clean_line(row.author), author_style(row.author))
    if row.badge == "ambassador":
        text.append(" ★", Style(color="yellow"))


def _state(row: MessageRow, text: Text) -> None:
    if row.pinned:
        text.append("  ⚑ pinned", Style(dim=True, bold=True))
    if row.error is not None:
        text.append(f"  ✗ not sent: {clean_line(row.error)}", _FAILED)
    elif row.pending:
        text.append("  ⋯ waiting to send", _PENDING)


def _strips(console: Console, renderable: RenderableType, width: int) -> list[Strip]:
    options = console.options.update(width=max(width, 1), height=None)
    lines = console.render_lines(renderable, options, pad=False)
    return [Strip(Segment.simplify(line)) for line in lines]


def row_lines(
    row: MessageRow, console: Console, width: int, now: float | None = None
) -> list[Strip]:
    """The lines of one message or post at ``width`` cells."""
    if row.kind == PostEvent.TYPE:
        head = Text(no_wrap=True, overflow="ellipsis")
        _author(row, head)
        head.append(f" · {when(row.ts, now)}", _DIM)
        _state(row, head)
        from rich.markdown import Markdown  # loaded on the first post, not at start-up

        body = Markdown(clean(row.text), hyperlinks=False)
        return [*_strips(console, head, width), *_strips(console, body, width), Strip.blank(0)]
    text = Text()
    text.append(when(row.ts, now), _DIM)
    text.append(" ")
    _author(row, text)
    text.append(" ")
    text.append(clean(row.text))
    _state(row, text)
    return _strips(console, text, width)
