"""The one key-binding table: the app's bindings and the help screen come from it.

Each entry says where it works ("app" everywhere, "timeline" in the message
list, "composer" while writing, "portal" on Home, "post" and
"post_composer" in the post view, "inbox"), its keys, and what it does in
words. The help screen (F1) is generated from this table, and a test checks
that every entry is bound.

Typing always reaches the composer: printable keys are never commands unless
a message was selected on purpose (alt+up, or Esc then an arrow), and then
only the few letters below act on it. The composer handles its own keys, and
the app's keys while it has focus, in the order they were typed. The keys
that open a dialog (``opens``) go round the focused widget, after the keys
typed before them, and the keys typed after them wait for the dialog.
The post view follows the same rule: its letters act once the post is
selected on purpose (Tab), and one action done, typing is text again.
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
    #: Handled by the app as the key arrives, not by the widget (see ``routed``).
    routed: bool = False
    #: Opens a dialog: the keys typed after it wait for it, then go to it.
    opens: bool = False
    #: Each key is a digit, handed to the action (``toggle_option(3)``).
    numbered: bool = False


KEYMAP: tuple[Key, ...] = (
    Key("app", "f1", "help", "Show keys", show=True, opens=True),
    Key("app", "ctrl+k", "command_palette", "Quick switcher and commands", show=True, opens=True),
    Key("app", "ctrl+t", "toggle_kind", "Switch between chat and feed", show=True),
    Key("app", "ctrl+down,alt+right", "next_group", "Next group"),
    Key("app", "ctrl+up,alt+left", "previous_group", "Previous group"),
    Key("app", "alt+a", "next_active", "Next group with unread messages (mentions first)"),
    Key("app", "ctrl+b", "toggle_groups", "Show or hide the groups pane", show=True),
    Key("app", "ctrl+o", "toggle_details", "Show or hide the details pane"),
    Key("app", "ctrl+r", "reconnect", "Reconnect now"),
    Key("app", "f2", "directory", "Directory: find people, write to them", show=True, opens=True),
    Key("app", "f3", "requests", "Join requests waiting for you (moderators)", opens=True),
    Key("app", "f4", "settings", "Group settings (moderators)", opens=True),
    Key(
        "app",
        "f5,ctrl+n",
        "inbox",
        "Inbox: mentions, replies, reactions, announcements, polls",
        show=True,
        opens=True,
    ),
    Key("app", "alt+h", "home", "Home: featured posts and the newest of your groups"),
    Key("app", "ctrl+q", "quit", "Quit", show=True),
    Key("timeline", "up,k", "select_previous", "Previous message"),
    Key("timeline", "down,j", "select_next", "Next message"),
    Key("timeline", "pageup", "page_up", "Page up"),
    Key("timeline", "pagedown", "page_down", "Page down"),
    Key("timeline", "home,g", "first", "Oldest loaded message (loads older ones)"),
    Key("timeline", "end,G", "last", "Newest message"),
    Key(
        "timeline",
        "d,delete",
        "delete_selected",
        "Delete the message (yours, or any as moderator)",
        routed=True,
    ),
    Key("timeline", "p", "pin_selected", "Pin or unpin the message (moderators)", routed=True),
    Key(
        "timeline",
        "plus",
        "react_selected",
        "React +1 to the message (again: take it back)",
        routed=True,
    ),
    Key(
        "timeline",
        "colon",
        "react_picker_selected",
        "React: choose among all the reactions",
        routed=True,
    ),
    Key("timeline", "e", "edit_selected", "Edit the message (yours)", routed=True),
    Key("timeline", "r", "reply_selected", "Reply to the message", routed=True),
    Key(
        "timeline",
        "enter",
        "open_selected",
        "Open the post or thread: comments, replies, poll, acknowledging",
        routed=True,
    ),
    Key("timeline", "alt+up", "select_message", "Select the newest message", routed=True),
    Key("timeline", "escape", "to_composer", "Back to writing (typing does it too)", routed=True),
    Key("composer", "enter", "send", "Send"),
    # Not alt+enter: terminals send it as ESC CR, which arrives as a plain Enter.
    Key("composer", "ctrl+j", "newline", "New line"),
    Key("composer", "ctrl+e", "editor", "Edit in $EDITOR"),
    Key("composer", "ctrl+u", "erase_to_line_start", "Erase to the start of the line"),
    Key("composer", "up", "edit_last", "In an empty composer: edit your last message"),
    Key(
        "composer",
        "alt+up",
        "select_message",
        "Select the newest message, to act on it",
        routed=True,
    ),
    Key("composer", "escape", "escape", "Leave an edit or reply; else go to the messages"),
    Key("composer", "pageup", "messages_page_up", "Scroll the messages up", routed=True),
    Key("composer", "pagedown", "messages_page_down", "Scroll the messages down", routed=True),
    Key("groups", "enter", "open", "Open the group (join it, or ask to, if needed), or Home"),
    Key("groups", "left", "collapse", "Fold the branch"),
    Key("groups", "right", "expand", "Unfold the branch"),
    Key("portal", "up", "cursor_up", "Previous post"),
    Key("portal", "down", "cursor_down", "Next post"),
    Key("portal", "pageup", "page_up", "Page up"),
    Key("portal", "pagedown", "page_down", "Page down"),
    Key("portal", "home", "first", "First post"),
    Key("portal", "end", "last", "Last post"),
    Key("portal", "enter", "open_post", "Open the post", routed=True),
    Key("portal", "escape", "to_composer", "Back to writing (typing does it too)", routed=True),
    # The post view: its keys act once the post is selected on purpose (Tab
    # from its composer, or ↑ in an empty one); letters typed there otherwise
    # go to the composer, as on the main screen.
    Key("post", "up,k", "select_previous", "Previous: the post, a poll option, a comment"),
    Key("post", "down,j", "select_next", "Next"),
    Key("post", "pageup", "page_up", "Page up"),
    Key("post", "pagedown", "page_down", "Page down"),
    Key("post", "home,g", "first", "The post"),
    Key("post", "end,G", "last", "The last comment"),
    Key(
        "post",
        "1,2,3,4,5,6,7,8,9",
        "toggle_option",
        "Choose poll option 1-9 (again: unchoose)",
        numbered=True,
    ),
    Key("post", "space,x", "toggle_selected", "Choose the poll option under the cursor"),
    Key("post", "enter", "vote_or_write", "Vote for the options chosen; else write a comment"),
    Key("post", "a", "acknowledge", "Acknowledge the announcement (got it)"),
    Key("post", "plus", "react_plus_one", "React +1 (again: take it back)"),
    Key("post", "colon", "react_picker", "React: choose among all the reactions"),
    Key("post", "e", "edit_selected", "Edit it (yours; a post: its title too)"),
    Key("post", "d", "delete_selected", "Delete it (yours, or as a moderator)"),
    Key("post", "r,c", "write", "Write a comment or a reply"),
    Key("post", "escape", "close", "Back to where you were"),
    Key("post_composer", "enter", "send", "Send the comment or reply (or save the edit)"),
    Key("post_composer", "tab", "title", "Select the post, to act on it (editing: the title)"),
    Key("post_composer", "up", "to_post", "In an empty composer: select the last comment"),
    Key("post_composer", "escape", "escape", "Back, a comment begun kept (leaves an edit first)"),
    Key("inbox", "enter", "open", "Open it where it was said (the post or the thread)"),
    Key("inbox", "escape", "close", "Leave the inbox: everything in it is read"),
)


def bindings(where: str, *, priority: bool = False) -> list[BindingType]:
    """The bindings of one place; ``priority`` ones act as the app receives the key,
    before any later key is handled (so a burst is processed in order)."""
    return [
        Binding(k.keys, k.action, k.description, show=k.show, priority=priority)
        for k in KEYMAP
        if k.where == where and not k.routed
    ]


#: Printable keys Textual names by a word: a command, like a letter, only in
#: the message list with a message selected on purpose.
PRINTABLE_NAMES = frozenset({"plus", "colon", "space"})


def actions(where: str, *, routed: bool = False) -> dict[str, str]:
    """Key -> action for one place, every alias spelled out.

    ``routed`` keys only move focus or scroll: the app handles them the moment
    they arrive, so the keys typed after them go where the user now is.
    """
    return {
        key: k.action
        for k in KEYMAP
        if k.where == where and k.routed == routed
        for key in k.keys.split(",")
    }


def opening() -> dict[str, str]:
    """Key -> action for the keys that open a dialog, every alias spelled out."""
    return {key: k.action for k in KEYMAP if k.opens for key in k.keys.split(",")}


def _pretty_one(key: str) -> str:
    names = {
        "question_mark": "?",
        "plus": "+",
        "colon": ":",
        "space": "Space",
        "tab": "Tab",
        "pageup": "PgUp",
        "pagedown": "PgDn",
        "escape": "Esc",
        "enter": "Enter",
        "home": "Home",
        "end": "End",
        "up": "↑",
        "down": "↓",
        "left": "←",
        "right": "→",
    }
    if key in names:
        return names[key]
    for prefix, shown in (("ctrl+", "^"), ("alt+", "M-")):
        if key.startswith(prefix):
            rest = key[len(prefix) :]
            letter = rest.upper() if prefix == "ctrl+" else rest  # ^K, but M-a (not shift)
            return shown + (letter if len(rest) == 1 else _pretty_one(rest))
    if key[0] == "f" and key[1:].isdigit():
        return key.upper()
    return key


def pretty(keys: str) -> str:
    """How a binding's keys are written in the help: ``^K``, ``M-↓``, ``F1``, ``1-9``."""
    split = keys.split(",")
    if len(split) > 2 and all(k.isdigit() for k in split):
        return f"{split[0]}-{split[-1]}"
    return " / ".join(_pretty_one(k) for k in split)
