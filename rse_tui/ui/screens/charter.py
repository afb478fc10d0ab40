"""Dialogs that ask for a decision: the usage charter, and confirmations; and
their flows (``check_charter``, ``delete_message``: see ``rse_tui.ui.surface``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import _time, events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, Static

from rse_tui.protocol import ProtocolError
from rse_tui.sync.engine import LinkDown, Offline
from rse_tui.textsafe import clean, clean_line

from .dialog import Dialog

if TYPE_CHECKING:
    from rse_tui.sync.models import MessageRow

    from ..gates import Gate
    from ..surface import AppSurface


class CharterScreen(Dialog[bool]):
    """Returns True when accepted, False to quit.

    Accept has the focus: Enter accepts, as a user expects. Keys typed before
    the charter was on screen were meant for the composer (what is sent then
    waits in the outbox until the charter is accepted), and the app gives them
    to it (``typed_before``); so do letters typed while it is shown. The
    server opens it, not a key: for GRACE seconds after it appears, keys are
    still the composer's (someone typing does not stop at once), so an Enter
    or an Esc meant for a message never accepts it unread, nor quits.
    """

    GRACE = 0.5

    BINDINGS = [Binding("escape,ctrl+q", "quit_app", "Quit", priority=True)]
    DEFAULT_CSS = """
    CharterScreen { align: center middle; }
    CharterScreen > Vertical {
        width: 80; max-width: 100%; height: 90%;
        border: tall $accent; background: $surface; padding: 0 1;
    }
    CharterScreen VerticalScroll { height: 1fr; }
    CharterScreen Horizontal { height: auto; }
    """

    def __init__(self, version: int, text: str) -> None:
        super().__init__()
        self.version = version
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                f"Usage charter v{self.version}: accept it to write · Enter: accept · Esc: quit"
            )
            with VerticalScroll():
                from rich.markdown import Markdown  # only when a charter is shown

                yield Static(Markdown(clean(self.text), hyperlinks=False))
            with Horizontal():
                yield Button("Accept", variant="primary", id="accept")
                yield Button("Quit", id="quit")

    def on_mount(self) -> None:
        self.shown_at = _time.get_time()  # the clock key events are stamped with
        self.query_one("#accept", Button).focus()

    def typed_before(self, event: events.Event) -> bool:
        """Typed before it was on screen (or just after: GRACE), or after it was
        answered: not its key."""
        shown_at = getattr(self, "shown_at", float("inf"))
        return self.answered or event.time < shown_at + self.GRACE

    def press_focused(self) -> bool:
        """Answer with the focused button; the keys typed behind this Enter are
        the composer's. False when no button has focus."""
        if not isinstance(self.focused, Button):
            return False
        self.pressed(self.focused)
        return True

    def pressed(self, button: Button) -> None:
        self.dismiss(button.id == "accept")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.pressed(event.button)

    def action_quit_app(self) -> None:
        self.dismiss(False)


class ConfirmScreen(Dialog[bool]):
    """A question before something that cannot be undone; the answer is No
    unless the user moves to the action's button on purpose.

    Enter presses the focused button, and Cancel has focus: typing, whatever
    it is, never confirms (there is no letter that says yes).
    """

    CLOSE_KEYS = frozenset({"escape", "n"})

    BINDINGS = [
        Binding("escape,n", "answer(False)", "No"),
        Binding("left,right", "app.focus_next", "Other button", show=False),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 64; max-width: 100%; height: auto;
        border: tall $warning; background: $surface; padding: 1 2; }
    ConfirmScreen Horizontal { height: auto; margin-top: 1; }
    ConfirmScreen Button { margin-right: 2; }
    """

    def __init__(self, question: str, action: str = "Delete") -> None:
        super().__init__()
        self.question = question
        self.action = action

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, markup=False)
            with Horizontal():
                yield Button("Cancel", id="no")
                yield Button(self.action, variant="error", id="yes")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def decides(self, event: events.Key) -> bool:
        return event.key in ("left", "right") or super().decides(event)

    def decide(self, event: events.Key) -> None:
        if event.key in ("left", "right"):
            self.focus_next()  # two buttons: either way is the other one
        else:
            super().decide(event)

    def cancel(self) -> None:
        self.dismiss(False)

    def pressed(self, button: Button) -> None:
        self.dismiss(button.id == "yes")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.pressed(event.button)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


# -- flows -----------------------------------------------------------------------------


def delete_message(app: AppSurface, row: MessageRow) -> None:
    """Delete a message (its author, or a moderator), after a Delete on purpose.

    Keys typed after ``d`` wait for the question and go to it, and only
    Delete (chosen, not typed) says yes.
    """
    group = app.view.group
    if row.user != app.me and not (group is not None and group.moderator):
        app.notify("you may delete your own messages only", markup=False)
        app.action_to_composer()
        return

    preview = clean_line(row.text)[:60]

    async def ask(gate: Gate) -> None:
        yes = await app.ask(ConfirmScreen(f"Delete for everyone: “{preview}”?"), gate)
        if yes and row.seq is not None:  # stored: only those are selected
            await app.client.delete(row.seq)
        app.action_to_composer()

    app.dialog_flow("delete", ask)


#: How often an open charter dialog asks whether it was accepted elsewhere.
CHARTER_RECHECK = 2.0


async def _close_when_accepted_elsewhere(app: AppSurface, dialog: CharterScreen) -> None:
    """Accepted with ``rse charter --accept``, or in the app on another terminal:
    the dialog here closes by itself (it stayed, and its Esc quit the app)."""
    while True:
        await asyncio.sleep(CHARTER_RECHECK)
        try:
            charter = await app.client.charter()
        except (Offline, LinkDown, ProtocolError):
            continue
        if charter.accepted >= dialog.version:
            dialog.dismiss(True)
            return


async def check_charter(app: AppSurface) -> None:
    """Show the charter when there is one this user has not accepted yet."""
    if app.charter_open:  # one prompt at a time, however many triggers arrive
        return
    app.charter_open = True
    try:
        try:
            charter = await app.client.charter()
        except (Offline, LinkDown, ProtocolError):  # asked again on the next connection
            return
        if charter.version == 0 or charter.accepted >= charter.version:
            return
        dialog = CharterScreen(charter.version, charter.text)
        watcher = asyncio.create_task(_close_when_accepted_elsewhere(app, dialog))
        try:
            accepted = await app.push_screen_wait(dialog)
        finally:
            watcher.cancel()
        if accepted:
            await app.engine.accept_charter(charter.version)
        else:
            await app.action_quit()
    finally:
        app.charter_open = False
