"""Dialogs that ask for a decision: the usage charter, and confirmations."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from rse_tui.textsafe import clean


class CharterScreen(ModalScreen[bool]):
    """Returns True when accepted, False to quit.

    Accepting is a deliberate step (Tab to Accept, then Enter, or a click):
    an Enter typed ahead, meant for a message, must not accept it. Meanwhile
    typing goes to the composer behind (``PASSES_TYPING``): what is sent then
    waits in the outbox until the charter is accepted.
    """

    PASSES_TYPING = True

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
                f"Usage charter v{self.version}: accept it to write"
                " · Tab then Enter: accept · Esc: quit"
            )
            with VerticalScroll():
                from rich.markdown import Markdown  # only when a charter is shown

                yield Static(Markdown(clean(self.text), hyperlinks=False))
            with Horizontal():
                yield Button("Accept", variant="primary", id="accept")
                yield Button("Quit", id="quit")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()  # arrows scroll; Enter accepts nothing

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "accept")

    def action_quit_app(self) -> None:
        self.dismiss(False)


class ConfirmScreen(ModalScreen[bool]):
    """A question before something that cannot be undone; the answer is No
    unless the user moves to the action's button on purpose.

    Enter presses the focused button, and Cancel has focus: typing, whatever
    it is, never confirms (there is no letter that says yes).
    """

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

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
