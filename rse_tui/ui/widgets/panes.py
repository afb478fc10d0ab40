"""Small panes: the group title, the details of a selection, the status bar."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from rse_tui.protocol import ChatEvent, Visibility
from rse_tui.sync.models import GroupRow, Link, MessageRow, Status
from rse_tui.textsafe import clean, clean_line

from ..render import author_style, post_state, replies_label


def size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"


def members(n: int) -> str:
    return "1 member" if n == 1 else f"{n} members"


class Title(Static):
    DEFAULT_CSS = """
    Title { height: 1; padding: 0 1; background: $panel; text-wrap: nowrap;
        text-overflow: ellipsis; }
    """

    def show(self, group: GroupRow | None, kind: str) -> None:
        if group is None:
            self.update(Text("No group yet: ctrl+k to find one", style="dim"))
            return
        text = Text()
        if group.dm is not None:
            text.append(f"@ {clean_line(group.name)}", "bold")
            text.append("  direct chat", "dim")
            self.update(text)
            return
        text.append(f"# {clean_line(group.name)}", "bold")
        chat, feed = ("[chat]", " feed ") if kind == ChatEvent.TYPE else (" chat ", "[feed]")
        text.append(f"  {chat} {feed}", "dim")
        if group.visibility != Visibility.OPEN:
            text.append(f"  {group.visibility}", "dim")
        if group.members_shown:
            text.append(f"  {members(group.members)}", "dim")
        if group.moderator:
            text.append("  · moderator", "dim")
        if not group.member:
            if group.requested:
                text.append("  · asked to join", "italic")
            else:
                join = "joins" if group.visibility == Visibility.OPEN else "asks to join"
                text.append(f"  · not a member: Enter in the groups pane {join}", "italic")
        self.update(text)

    def show_home(self, online: bool = True) -> None:
        text = Text()
        text.append("⌂ Home", "bold")
        text.append("  featured posts, then the newest of your groups", "dim")
        if not online:
            text.append("  · from the cache", "italic")
        self.update(text)

    def show_direct(self, name: str) -> None:
        text = Text()
        text.append(f"@ {clean_line(name)}", "bold")
        text.append("  new direct chat: only the two of you", "dim")
        self.update(text)


class Details(Static):
    DEFAULT_CSS = """
    Details { width: 32; height: 1fr; padding: 0 1; border-left: tall $panel; }
    """

    def show(self, group: GroupRow | None, row: MessageRow | None) -> None:
        text = Text()
        if group is not None and group.dm is not None:
            text.append(f"@ {clean_line(group.name)}\n", "bold")
            text.append("direct chat: only the two of you\n\n", "dim")
        elif group is not None:
            text.append(f"# {clean_line(group.name)}\n", "bold")
            state = "moderator" if group.moderator else "member" if group.member else "not a member"
            count = f" · {members(group.members)}" if group.members_shown else ""
            text.append(f"{group.visibility}{count} · {state}\n", "dim")
            rules = f"posts: {group.post_policy} · chat: {group.chat_policy}"
            text.append(f"{rules}\n", "dim")
            if group.description:
                text.append(f"{clean_line(group.description)}\n", "italic")
            text.append("\n")
        if row is not None:
            text.append(clean_line(row.author), author_style(row.author))
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.ts))
            text.append(f"\n{stamp}", "dim")
            if row.seq is not None:
                text.append(f"  #{row.seq}", "dim")
            elif row.error:
                text.append(f"\nnot sent: {clean_line(row.error)}", "bold red")
            else:
                text.append("\nwaiting to send", "italic")
            text.append("\n\n")
            if row.title:
                text.append(f"{clean_line(row.title)}\n", "bold")
            text.append(clean(row.text))
        self.update(text)

    def show_post(self, row: MessageRow, group: str, now: float | None = None) -> None:
        """A post chosen on Home: where, who, when, what it holds; not its
        Markdown source (Enter shows it rendered)."""
        text = Text()
        text.append(f"# {clean_line(group)}\n\n", "bold")
        text.append(clean_line(row.author), author_style(row.author))
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.ts))
        text.append(f"\n{stamp}  #{row.seq}\n\n", "dim")
        if row.title:
            text.append(f"{clean_line(row.title)}\n", "bold")
        state = [s for s in (replies_label(row), post_state(row, now)) if s]
        if state:
            text.append(f"{' · '.join(state)}\n", "dim")
        text.append("\nEnter opens it", "italic")
        self.update(text)


class StatusBar(Static):
    DEFAULT_CSS = "StatusBar { height: 1; padding: 0 1; background: $panel; }"

    #: What the bar says, as plain text (for tests and screen readers).
    text = ""

    def show(
        self,
        status: Status,
        now: float | None = None,
        hotlist: Sequence[GroupRow] = (),
        inbox: int = 0,
    ) -> None:
        now = time.monotonic() if now is None else now
        # (rank, part): on a narrow terminal the highest ranks go first, so
        # that the link, the outbox and the inbox always show.
        parts: list[tuple[int, Text]] = []
        link = status.link
        if link is Link.ONLINE:
            parts.append((0, Text("● online", "bold green")))
        elif link is Link.SYNCING:
            parts.append((0, Text("⟳ syncing", "yellow")))
        elif link is Link.CONNECTING:
            parts.append((0, Text("◌ connecting", "yellow")))
        elif link is Link.LOGGED_OUT:
            parts.append((0, Text("✗ logged out: run rse login", "bold red")))
        else:
            parts.append((0, Text("○ offline", "bold red")))
            if status.retry_at is not None:
                left = max(0, round(status.retry_at - now))
                wait = f"{left} s" if left < 90 else f"{-(-left // 60)} min"
                parts.append((2, Text(f" · retry in {wait}", "dim")))
                parts.append((4, Text(" (^R now)", "dim")))
        if status.outbox:
            parts.append((0, Text(f" · {status.outbox} waiting to send", "bold yellow")))
        if inbox:
            parts.append((0, Text(f" · inbox {inbox}", "bold")))
            parts.append((5, Text(" (F5)", "dim")))
        if hotlist:
            listed = Text(" · ")
            _hotlist(listed, hotlist)
            parts.append((1, listed))  # cut at the end (…) rather than dropped
        parts.append((3, Text(f" · ↑{size(status.sent)} ↓{size(status.received)}", "dim")))
        parts.append((6, Text(" · F1 keys", "dim")))
        room = self.content_size.width
        while room and sum(p.cell_len for _, p in parts) > room:
            worst = max(parts, key=lambda p: p[0])
            if worst[0] <= 1:
                break
            parts.remove(worst)
        text = Text(no_wrap=True, overflow="ellipsis")
        for _, part in parts:
            text.append_text(part)
        self.text = text.plain
        self.update(text)


def _hotlist(text: Text, rows: Sequence[GroupRow]) -> None:
    """Groups with unread messages, those that call me first (``!``), as weechat shows them:
    ``Act: @ana 1! #Incidents 4! #General 2`` (alt+a goes to the first)."""
    ordered = sorted(rows, key=lambda r: (not r.mentions, -r.unread))
    text.append("Act:", "bold")
    for row in ordered:
        mark = "@" if row.dm is not None else "#"
        text.append(f" {mark}{clean_line(row.name)} {row.unread}", "bold" if row.mentions else "")
        if row.mentions:
            text.append("!", "bold red")
