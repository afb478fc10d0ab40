"""The one key-binding table: the app's bindings and the help screen come from it.

Each entry says where it works ("app" everywhere, "timeline" in the message
list, "composer" while writing), its keys, and what it does in words. The
help screen (F1 or ?) is generated from this table, and a test checks that
every entry is bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True, slots=True)
class Key:
    where: str
    keys: str
    action: str
    description: str
    show: bool = False


KEYMAP: tuple[Key, ...] = (
    Key("app", "f1", "help", "Show keys (also ? outside the composer)", show=True),
    Key("app", "ctrl+k", "command_palette", "Quick switcher and commands", show=True),
    Key("app", "ctrl+t", "toggle_kind", "Switch between chat and feed", show=True),
    Key("app", "alt+down,ctrl+down", "next_group", "Next group"),
    Key("app", "alt+up,ctrl+up", "previous_group", "Previous group"),
    Key("app", "ctrl+b", "toggle_groups", "Show or hide the groups pane", show=True),
    Key("app", "ctrl+o", "toggle_details", "Show or hide the details pane"),
    Key("app", "ctrl+r", "reconnect", "Reconnect now"),
    Key("app", "f2", "directory", "Directory: find people, write to them", show=True),
    Key("app", "f3", "requests", "Join requests waiting for you (moderators)"),
    Key("app", "f4", "settings", "Group settings (moderators)"),
    Key("app", "ctrl+q", "quit", "Quit", show=True),
    Key("app", "question_mark", "help_unless_typing", "Show keys (outside the composer)"),
    Key("timeline", "up,k", "select_previous", "Previous message"),
    Key("timeline", "down,j", "select_next", "Next message"),
    Key("timeline", "pageup", "page_up", "Page up"),
    Key("timeline", "pagedown", "page_down", "Page down"),
    Key("timeline", "home,g", "first", "Oldest loaded message (loads older ones)"),
    Key("timeline", "end,G", "last", "Newest message"),
    Key("timeline", "i,enter", "compose", "Write a message"),
    Key("timeline", "d,delete", "delete", "Delete the message (yours, or any as moderator)"),
    Key("timeline", "p", "pin", "Pin or unpin the message (moderators)"),
    Key("composer", "enter", "send", "Send"),
    Key("composer", "ctrl+j,alt+enter", "newline", "New line"),
    Key("composer", "ctrl+e", "editor", "Edit in $EDITOR"),
    Key("composer", "escape", "leave", "Back to the messages"),
    Key("groups", "enter", "open", "Open the group (join it, or ask to, if needed)"),
    Key("groups", "left", "collapse", "Fold the branch"),
    Key("groups", "right", "expand", "Unfold the branch"),
)


def bindings(where: str) -> list[BindingType]:
    return [
        Binding(k.keys, k.action, k.description, show=k.show) for k in KEYMAP if k.where == where
    ]


def _pretty_one(key: str) -> str:
    names = {
        "question_mark": "?",
        "pageup": "PgUp",
        "pagedown": "PgDn",
        "escape": "Esc",
        "enter": "Enter",
        "home": "Home",
        "end": "End",
        "up": "↑",
        "down": "↓",
    }
    if key in names:
        return names[key]
    for prefix, shown in (("ctrl+", "^"), ("alt+", "M-")):
        if key.startswith(prefix):
            rest = key[len(prefix) :]
            return shown + (rest.upper() if len(rest) == 1 else _pretty_one(rest))
    if key[0] == "f" and key[1:].isdigit():
        return key.upper()
    return key


def pretty(keys: str) -> str:
    """How a binding's keys are written in the help: ``^K``, ``M-↓``, ``F1``."""
    return " / ".join(_pretty_one(k) for k in keys.split(","))
