"""The feed's pieces, as the post view and the portal draw them: a post's
Markdown, its head line, its reactions, its poll with bars, a comment.

Every text here is untrusted. Texts become Rich ``Text`` from plain strings
(never parsed as markup) after ``textsafe`` has replaced control characters.
A post's Markdown goes to Textual's ``Markdown`` widget through a parser that
keeps raw HTML as text, turns every link into its text followed by its URL
(no link stays clickable: nothing is ever opened), and every image into its
description and address (nothing is fetched).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text

from rse_tui.protocol import Badge
from rse_tui.sync.models import MessageRow, PollState
from rse_tui.textsafe import clean, clean_line

from ..render import MUTED, author_style, reaction_label, when

_BOLD = Style(bold=True)
_PENDING = Style(color="bright_black", italic=True)


def author(row: MessageRow, text: Text) -> None:
    text.append(clean_line(row.author), author_style(row.author))
    if row.badge == Badge.AMBASSADOR:
        text.append(" ★", Style(color="yellow"))


def head_line(row: MessageRow, group: str, now: float | None = None) -> Text:
    """``karim · #Ops · 14:05 · edited 14:07 · ⚑ pinned``."""
    text = Text()
    author(row, text)
    text.append(f" · #{clean_line(group)} · {when(row.ts, now)}", MUTED)
    if row.edited is not None:
        text.append(f" · edited {when(row.edited, now)}", MUTED)
    if row.pinned:
        text.append("  ⚑ pinned", _BOLD)
    return text


def title_line(row: MessageRow) -> Text:
    """A post's title ("" when it has none: its first line is the body's)."""
    return Text(clean_line(row.title), style=_BOLD) if row.title else Text()


def first_line(text: str) -> str:
    """The first line with words in it, without its Markdown heading marks."""
    for line in text.splitlines():
        words = line.strip().lstrip("#").strip()
        if words:
            return clean_line(words)
    return ""


def reactions_line(
    row: MessageRow, who: Sequence[tuple[str, Sequence[str]]], plain: bool, names: int = 3
) -> Text:
    """``👍 2 ana, bob · 🎉 1 karim``; mine in bold; "" when there are none."""
    text = Text()
    people = dict(who)
    for n, (word, count, mine) in enumerate(row.reactions):
        if n:
            text.append(" · ", MUTED)
        text.append(f"{reaction_label(word, plain)} {count}", _BOLD if mine else Style())
        named = [clean_line(p) for p in people.get(word, ())]
        if named:
            more = f" +{len(named) - names}" if len(named) > names else ""
            text.append(f" {', '.join(named[:names])}{more}", MUTED)
    return text


def poll_head(
    poll: PollState, now: float, sent: tuple[int, ...] | None = None, selected: bool = False
) -> Text:
    """What the poll is and where my vote stands; how to vote (``selected``:
    the post is selected, its keys act)."""
    rules = ["Poll"]
    rules.append("several choices" if poll.multiple else "one choice")
    if poll.anonymous:
        rules.append("anonymous")
    rules.append(f"{poll.voters} voter" + ("" if poll.voters == 1 else "s"))
    if poll.closed(now):
        rules.append("closed")
    elif poll.closes is not None:
        rules.append(f"closes {when(poll.closes, now)}")
    text = Text(" · ".join(rules), style=_BOLD)
    if sent is not None and poll.mine != sent:
        text.append("  ⋯ your vote waits to be sent", _PENDING)
    elif poll.mine == ():
        text.append("  you voted (anonymously, from another device)", MUTED)
    elif poll.mine is not None:
        # An anonymous poll's results move in batches (every 30 s, by default):
        # a vote not counted yet is not lost.
        final = ": final, counted with the next batch" if poll.anonymous else ""
        text.append(f"  you voted{final}", MUTED)
    elif not poll.closed(now):
        how = "1-9 chooses, Enter votes" if selected else "to vote: Tab, then 1-9 and Enter"
        if poll.anonymous:  # said before, not only after (found by a new user)
            how += " (final: an anonymous vote cannot be changed)"
        text.append(f"  {how}", MUTED)
    return text


def option_line(
    poll: PollState,
    index: int,
    chosen: bool,
    plain: bool,
    bar_width: int = 12,
    *,
    sent: tuple[int, ...] | None = None,
) -> Text:
    """`` 2 (•)   12 ██████░░░░░░ 40% Friday``: number, choice, count, bar, option.
    ``sent``: my vote as written here and not yet counted by the server (it
    is the one marked "your vote", instead of the one counted)."""
    count = poll.counts[index] if index < len(poll.counts) else 0
    total = poll.voters or sum(poll.counts) or 1
    share = min(count / total, 1.0)
    full = round(share * bar_width)
    fill, empty = ("#", ".") if plain else ("█", "░")
    marks = ("[x]", "[ ]") if poll.multiple else ("(*)", "( )")
    mark = marks[0] if chosen else marks[1]
    number = f"{index + 1:>2}"
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{number} {mark} ", _BOLD if chosen else Style())
    text.append(f"{count:>4} ")
    text.append(fill * full, Style(bold=True))
    text.append(empty * (bar_width - full), MUTED)
    text.append(f" {round(share * 100):>3}% ", MUTED)
    text.append(clean_line(poll.options[index]), _BOLD if chosen else Style())
    waiting = sent is not None and tuple(sorted(sent)) != tuple(sorted(poll.mine or ()))
    mine = sent if waiting else poll.mine
    if mine is not None and index in mine:
        # (Whether it waits to be sent, the poll's head line says.)
        text.append("  ✓ your vote" if not plain else "  (your vote)", MUTED)
    return text


def with_my_ballot(
    ballots: Sequence[tuple[str, tuple[int, ...]]], me: str, mine: tuple[int, ...] | None
) -> list[tuple[str, tuple[int, ...]]]:
    """The server's list of who voted for what, with my vote as this device
    knows it now (it may have changed since the list was asked for)."""
    out = [(name, choices) for name, choices in ballots if name != me]
    if mine:
        out.append((me, mine))
    return sorted(out)


def ballots_line(ballots: Sequence[tuple[str, tuple[int, ...]]]) -> Text:
    """Who voted for what, in a poll that is not anonymous."""
    text = Text("Votes: ", style=MUTED)
    said = [f"{clean_line(name)} ({', '.join(str(c + 1) for c in c_)})" for name, c_ in ballots]
    text.append("; ".join(said), MUTED)
    return text


def reply_block(row: MessageRow, now: float | None, plain: bool) -> Text:
    """A comment or reply: its head line (author, time, state) and its text."""
    text = Text()
    author(row, text)
    text.append(f" · {when(row.ts, now)}", MUTED)
    if row.edited is not None:
        text.append(" (edited)", MUTED)
    for word, count, mine in row.reactions:
        text.append(f"  {reaction_label(word, plain)} {count}", _BOLD if mine else MUTED)
    if row.error is not None:
        text.append(f"  ✗ not sent: {clean_line(row.error)}", Style(color="red", bold=True))
    elif row.pending:
        text.append("  ⋯ waiting to send", _PENDING)
    text.append("\n")
    text.append(clean(row.text))
    return text
