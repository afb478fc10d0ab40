"""Turn cache rows into terminal lines, treating every text as untrusted.

Texts are built with Rich ``Text`` objects from plain strings (never parsed
as markup) after ``textsafe.clean`` has replaced control characters. Feed
posts are Markdown, rendered without hyperlinks so that no URL from a post
becomes a terminal escape sequence.

A chat message is ``HH:MM author text``; its wrapped and continued lines
start under the text (a hanging indent), so the time and the name stay a
column of their own. The date is not repeated on each line: the timeline
draws a separator where the day changes (``day_label``).
"""

from __future__ import annotations

import hashlib
import re
import time

from rich.console import Console, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from rse_tui.protocol import Badge, PostEvent
from rse_tui.sync.models import MessageRow
from rse_tui.textsafe import clean, clean_line

#: Author colours from the 16-colour palette, so they read on any terminal.
_AUTHOR_COLOURS = ("cyan", "green", "magenta", "yellow", "blue", "red")
#: Secondary text (times, states). Not ``dim``: dimmed grey on a dark
#: background drops below a readable contrast in 256 colours.
MUTED = Style(color="bright_black")
_PENDING = Style(color="bright_black", italic=True)
_FAILED = Style(color="red", bold=True)
_MENTION = Style(bold=True, reverse=True)


def author_style(name: str) -> Style:
    digest = hashlib.blake2s(name.encode("utf-8"), digest_size=1).digest()[0]
    return Style(color=_AUTHOR_COLOURS[digest % len(_AUTHOR_COLOURS)], bold=True)


def clock(ts: float) -> str:
    return time.strftime("%H:%M", time.localtime(ts))


def day_key(ts: float) -> tuple[int, int, int]:
    moment = time.localtime(ts)
    return moment.tm_year, moment.tm_mon, moment.tm_mday


def day_label(ts: float, now: float | None = None) -> str:
    """``Today``, ``Yesterday``, ``Monday 23 November``, or with the year when not this one."""
    today = time.localtime(now if now is not None else time.time())
    moment = time.localtime(ts)
    if day_key(ts) == (today.tm_year, today.tm_mon, today.tm_mday):
        return "Today"
    yesterday = time.localtime(time.mktime((*today[:2], today.tm_mday - 1, 12, 0, 0, 0, 0, -1)))
    if moment[:3] == yesterday[:3]:
        return "Yesterday"
    label = f"{time.strftime('%A', moment)} {moment.tm_mday} {time.strftime('%B', moment)}"
    if moment.tm_year != today.tm_year:
        label += f" {moment.tm_year}"
    return label


def when(ts: float, now: float | None = None) -> str:
    """A full date and time, short when recent: ``14:05``, ``3 Nov 14:05``, ``2025-11-03 14:05``."""
    moment = time.localtime(ts)
    today = time.localtime(now if now is not None else time.time())
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M", moment)
    if moment.tm_year == today.tm_year:
        return f"{moment.tm_mday} {time.strftime('%b %H:%M', moment)}"
    return time.strftime("%Y-%m-%d %H:%M", moment)


_TASK = re.compile(r"^(\s*(?:[-*+]|\d+[.)])\s+)\[([ xX])\](?=\s)", re.MULTILINE)


def task_boxes(markdown: str) -> str:
    """Markdown task lists (``- [ ] call the vendor``) as boxes: ☐ to do, ☑ done."""
    return _TASK.sub(lambda m: m.group(1) + ("☐" if m.group(2) == " " else "☑"), markdown)


def _author(row: MessageRow, text: Text) -> None:
    text.append(clean_line(row.author), author_style(row.author))
    if row.badge == Badge.AMBASSADOR:
        text.append(" ★", Style(color="yellow"))


#: Reactions as emoji, where the terminal shows them (else ``:word:``).
EMOJI = {
    "+1": "👍",
    "-1": "👎",
    "heart": "💜",
    "tada": "🎉",
    "eyes": "👀",
    "check": "✅",
    "laugh": "😄",
    "rocket": "🚀",
}


def reaction_label(word: str, plain: bool) -> str:
    return f":{word}:" if plain or word not in EMOJI else EMOJI[word]


def replies_label(row: MessageRow) -> str:
    """``3 comments`` under a post, ``1 reply`` under a chat message ("" with none)."""
    n = row.comments
    if not n:
        return ""
    if row.kind == PostEvent.TYPE:
        return f"{n} comment" if n == 1 else f"{n} comments"
    return f"{n} reply" if n == 1 else f"{n} replies"


def _state(row: MessageRow, text: Text, plain: bool = False) -> None:
    if row.edited is not None:
        text.append(" (edited)", MUTED)
    if row.pinned:
        text.append("  ⚑ pinned", Style(bold=True))
    for n, (word, count, mine) in enumerate(row.reactions):
        label = f"{'  ' if n == 0 else ' '}{reaction_label(word, plain)} {count}"
        text.append(label, Style(bold=True) if mine else MUTED)
    replies = replies_label(row)
    if replies:  # Enter on the message opens them
        text.append(f"  ▸ {replies}", Style(bold=True))
    if row.error is not None:
        text.append(f"  ✗ not sent: {clean_line(row.error)}", _FAILED)
    elif row.pending:
        text.append("  ⋯ waiting to send", _PENDING)


def post_state(row: MessageRow, now: float | None = None) -> str:
    """A post's poll and announcement in one line: ``poll · 4 voters · you voted``."""
    parts: list[str] = []
    poll = row.poll
    if poll is not None:
        voters = f"{poll.voters} voter" + ("" if poll.voters == 1 else "s")
        parts += ["poll", f"{len(poll.options)} options", voters]
        closed = poll.closed(now if now is not None else time.time())
        if poll.mine is not None:
            parts.append("you voted")
        elif not closed:
            parts.append("not voted yet")
        if closed:
            parts.append("closed")
        elif poll.closes is not None:
            parts.append(f"closes {when(poll.closes, now)}")
    if row.ack:
        parts.append(
            "announcement: acknowledged" if row.acked else "announcement: please acknowledge"
        )
    return " · ".join(parts)


def _strips(console: Console, renderable: RenderableType, width: int) -> list[Strip]:
    options = console.options.update(width=max(width, 1), height=None)
    lines = console.render_lines(renderable, options, pad=False)
    return [Strip(Segment.simplify(line)) for line in lines]


def row_lines(
    row: MessageRow,
    console: Console,
    width: int,
    now: float | None = None,
    mention: re.Pattern[str] | None = None,
    plain: bool = False,
) -> list[Strip]:
    """The lines of one message or post at ``width`` cells."""
    if row.kind == PostEvent.TYPE:
        head = Text(no_wrap=True, overflow="ellipsis")
        _author(row, head)
        head.append(f" · {when(row.ts, now)}", MUTED)
        _state(row, head, plain)
        from rich.markdown import Markdown  # loaded on the first post, not at start-up

        lines = _strips(console, head, width)
        if row.title:
            title = Text(clean_line(row.title), style=Style(bold=True), no_wrap=True)
            title.truncate(width, overflow="ellipsis")
            lines += _strips(console, title, width)
        post = Markdown(task_boxes(clean(row.text)), hyperlinks=False)
        lines += _strips(console, post, width)
        extra = post_state(row, now)
        if extra:
            lines += _strips(console, Text(extra, style=MUTED), width)
        return [*lines, Strip.blank(0)]
    head = Text()
    head.append(clock(row.ts), MUTED)
    action = row.text.startswith("/me ")  # "* ana is rolling back", as on IRC
    head.append(" * " if action else " ")
    _author(row, head)
    head.append(" ")
    body = Text(clean(row.text[4:] if action else row.text), style="italic" if action else "")
    if mention is not None:
        body.highlight_regex(mention, _MENTION)
    _state(row, body, plain)
    indent = head.cell_len
    context = _reply_context(row, console, width, indent)
    longest = max((len(word) for word in row.text.split()), default=0)
    # A very long name, a very narrow pane, or a word (a URL) that would be cut
    # in the indented column but fits the whole width: the name on its own line.
    if indent > width // 2 or width - indent < longest <= width - 2:
        lines = _strips(console, body, width - 2)
        pad = Strip([Segment("  ", Style())])
        indented = (Strip.join([pad, line]) for line in lines)
        return [*context, *_strips(console, head, width), *indented]
    lines = _strips(console, body, width - indent) or [Strip.blank(0)]
    first = Strip.join([_strips(console, head, width)[0], lines[0]])
    pad = Strip([Segment(" " * indent, Style())])
    return [*context, first, *(Strip.join([pad, line]) for line in lines[1:])]


def _reply_context(row: MessageRow, console: Console, width: int, indent: int) -> list[Strip]:
    """One line above a reply: what it answers (``↳ bob: who is on call?``)."""
    if row.reply is None:
        return []
    quoted = clean_line(row.quote) if row.quote is not None else "an earlier message"
    line = Text(" " * min(indent, width // 2) + "↳ " + quoted, style=MUTED, no_wrap=True)
    line.truncate(width, overflow="ellipsis")
    return _strips(console, line, width)
