"""The usage charter, shown until the user accepts it (or quits)."""

from __future__ import annotations

from rich.markdown import Markdown
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
