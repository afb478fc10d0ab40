"""Dialogs that ask for a decision: the usage charter, and yes/no questions."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from rse_tui.textsafe import clean


class CharterScreen(ModalScreen[bool]):
    """Returns True when accepted, False to quit."""

    BINDINGS = [Binding("escape", "quit_app", "Quit")]
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
            yield Label(f"Usage charter, version {self.version}: accept it to write")
            with VerticalScroll():
                from rich.markdown import Markdown  # only when a charter is shown

                yield Static(Markdown(clean(self.text), hyperlinks=False))
            with Horizontal():
                yield Button("Accept", variant="primary", id="accept")
                yield Button("Quit", id="quit")

    def on_mount(self) -> None:
        self.query_one("#accept", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "accept")

    def action_quit_app(self) -> None:
        self.dismiss(False)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; y or Enter says yes, n or Esc says no."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Label { width: 60; max-width: 100%; border: tall $warning;
        background: $surface; padding: 1 2; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        yield Label(self.question + "  (y / n)", markup=False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
