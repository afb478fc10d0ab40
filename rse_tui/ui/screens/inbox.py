"""The inbox (F5, ctrl+n): what concerns me, newest first, the unread marked;
and its flow (``open_inbox``: see ``rse_tui.ui.surface``).

Mentions of me (or of my groups), replies to my messages and comments on my
posts, reactions to mine, announcements to acknowledge and polls closing
within a day. Enter opens one where it was said (the post view, or a chat
message's thread) on top of the inbox; Esc there comes back here. Leaving
the inbox marks everything in it read, here and on my other devices.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, cast

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from rse_tui.sync.models import Changes, InboxItem, InboxKind
from rse_tui.textsafe import clean_line

from ..render import reaction_label, when
from .dialog import Dialog, Follows

if TYPE_CHECKING:
    from ..gates import Gate
    from ..surface import AppSurface

_WORDS = {
    InboxKind.MENTION: "mention",
    InboxKind.REPLY: "reply",
    InboxKind.COMMENT: "comment",
    InboxKind.REACTION: "reaction",
    InboxKind.ACK: "to acknowledge",
    InboxKind.POLL: "poll closing",
}


def inbox_line(item: InboxItem, group: str, plain: bool, now: float | None = None) -> Content:
    """``● reply       14:05 #Ops · bob: on it``."""
    what = _WORDS.get(item.kind, str(item.kind))
    parts: list[str | tuple[str, str]] = [
        ("* " if plain else "● ", "bold") if item.unread else "  ",
        (f"{what:<14}", "bold" if item.unread else "dim"),
    ]
    if item.ts:
        parts.append((f" {when(item.ts, now)}", "dim"))
    parts += [(f" #{clean_line(group)}", "dim"), " · ", (clean_line(item.who), "bold")]
    if item.kind == InboxKind.REACTION:  # and on which (found by a new user)
        label = reaction_label(item.text, plain)
        parts.append(f" {label} on yours: {clean_line(item.about)[:200]}")
    else:
        parts.append(f": {clean_line(item.text)[:300]}")
    return Content.assemble(*parts)


class InboxList(OptionList, inherit_bindings=False):
    """The items; Enter is the inbox's (``decide``), after the keys before it."""

    BINDINGS = [
        Binding("up", "cursor_up", show=False),
        Binding("down", "cursor_down", show=False),
        Binding("home", "first", show=False),
        Binding("end", "last", show=False),
        Binding("pageup", "page_up", show=False),
        Binding("pagedown", "page_down", show=False),
    ]


class InboxScreen(Dialog[None], Follows):
    BINDINGS = [Binding("escape", "close", "Close")]
    DEFAULT_CSS = """
    InboxScreen { align: center middle; }
    InboxScreen > Vertical {
        width: 110; max-width: 100%; height: 90%;
        border: tall $accent; background: $surface; padding: 0 1;
    }
    InboxScreen OptionList { height: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.items: list[InboxItem] = []

    @property
    def surface(self) -> AppSurface:
        return cast("AppSurface", self.app)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Inbox · Enter opens it where it was said · Esc leaves: all read")
            yield InboxList(id="inbox", markup=False)

    async def on_mount(self) -> None:
        await self.load()
        self.query_one(OptionList).focus()

    async def load(self) -> None:
        items = await self.surface.client.inbox()
        names = {r.group: r.label for r in self.surface.groups.rows}
        plain = self.surface.plain_symbols
        now = self.surface.clock()
        listed = self.query_one(OptionList)
        kept = listed.highlighted
        self.items = items
        listed.clear_options()
        if not items:
            listed.add_option(
                Option(
                    Content.styled(
                        "Nothing yet: mentions, replies, reactions come here.", "italic"
                    ),
                    disabled=True,
                )
            )
            return
        listed.add_options(
            [
                Option(inbox_line(item, names.get(item.group, f"group {item.group}"), plain, now))
                for item in items
            ]
        )
        listed.highlighted = min(kept or 0, len(items) - 1)

    def cache_changed(self, changes: Changes) -> None:
        if changes.home or changes.messages or changes.groups:
            self.reload()

    @work(exclusive=True, group="reload")
    async def reload(self) -> None:
        if self.answered:
            return
        with contextlib.suppress(NoMatches):  # closed meanwhile: its parts are gone
            await self.load()

    def decides(self, event: events.Key) -> bool:
        return event.key == "enter" or super().decides(event)

    def decide(self, event: events.Key) -> None:
        if event.key == "enter":
            self.action_open()
        else:
            super().decide(event)

    def action_open(self) -> None:
        self._open(self.query_one(OptionList).highlighted)

    @on(OptionList.OptionSelected, "#inbox")
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        self._open(event.option_index)

    def _open(self, index: int | None) -> None:
        if index is None or not 0 <= index < len(self.items):
            return
        self.surface.open_thread(self.items[index].target)

    def action_close(self) -> None:
        self.dismiss(None)

    async def before_quit(self) -> None:
        """The app quits with the inbox open: it was read, as when left (found
        by a new user: its items were unread again at the next start)."""
        await self.surface.client.read_inbox()


async def open_inbox(app: AppSurface, gate: Gate) -> None:
    """Show the inbox; once left, everything in it is read."""
    await app.ask(InboxScreen(), gate)
    await app.client.read_inbox()
    app.refresh_inbox_count()
