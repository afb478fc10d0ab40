"""Dialogs that ask for a decision: the usage charter, and confirmations."""

from __future__ import annotations

from textual import _time, events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, Static

from rse_tui.textsafe import clean

from .dialog import Dialog


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
