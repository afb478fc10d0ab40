"""The help screen, generated from the key-binding table."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..keys import KEYMAP, pretty
from .dialog import Dialog

_TITLES = {
    "app": "Anywhere",
    "timeline": "Message list",
    "composer": "Composer",
    "groups": "Groups pane",
    "portal": "Home (the portal)",
    "post": "Post view, selected",
    "post_composer": "Post view, writing",
    "inbox": "Inbox (F5)",
}


def keys_table() -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column()
    for where, title in _TITLES.items():
        table.add_row(Text(title, style="underline"), "")
        for key in KEYMAP:
            if key.where == where:
                table.add_row(Text(pretty(key.keys)), Text(key.description))
        table.add_row("", "")
    from ..commands import COMMANDS  # one table for the commands, as for the keys

    table.add_row(Text("Commands (typed in the composer)", style="underline"), "")
    for command in COMMANDS.values():
        table.add_row(Text(command.usage), Text(command.description))
    table.add_row(Text("//text"), Text("send a line that starts with a slash"))
    return table


class HelpScreen(Dialog[None]):
    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "Close")]
    CLOSE_KEYS = frozenset({"escape", "f1", "q", "question_mark"})
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 72; max-width: 100%; height: auto; max-height: 100%;
        border: tall $accent; background: $surface; padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("Keys  (Esc closes)", classes="title")
            yield Static(keys_table())
