"""What every dialog of the app shares: it answers once, and the keys that
answer it or move its focus decide where the keys typed after them go.

The app routes each key as it arrives (``RseApp._route``), while a widget
handles the keys forwarded to it later, in its own time. A key that answered
a dialog (Esc, Enter on a button) or moved its focus (Tab) acted only after
the keys typed behind it had been forwarded to the dialog: they were lost,
typed into the wrong field, or answered it a second time, which closed the
screen under it (or crashed the app with none left).

So for such a key (``decides``) the app holds the keys typed after it (the
dialog's gate closes), sends it through the focused widget and, when it comes
back to the app (every key typed before it has been handled by then), lets
the dialog act on it (``decide``): the held keys then go where it left the
focus, or to the composer once the dialog is answered. A key the dialog
decides on later, itself (Enter in a search box waits for the search),
``waits``: the held keys go on once the dialog calls ``decided``.

A dialog shown with ``RseApp.ask`` has a gate (see ``rse_tui.ui.gates``): it
opens once the dialog is on screen with its focus set, and closes when it is
answered, until the app has acted on the answer.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual import events
from textual.await_complete import AwaitComplete
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Button

if TYPE_CHECKING:
    from rse_tui.sync.models import Changes

    from ..gates import Gate

    _Screen = ModalScreen[Any]
else:
    _Screen = object

T = TypeVar("T")


class Answers(_Screen):
    """Mixed into a screen class (before the screen): it answers once, and
    says which keys decide where the next keys go."""

    #: Keys that close it without an answer (``cancel``).
    CLOSE_KEYS: ClassVar[frozenset[str]] = frozenset({"escape"})

    gate: Gate | None = None
    answered: bool = False

    def dismiss(self, result: Any = None) -> AwaitComplete:
        """Close with ``result``, once: a second answer (two Enters that reached
        it before it closed, a double click) would close the screen under it."""
        if self.answered or not self.is_active:
            return AwaitComplete.nothing()
        self.answered = True
        if self.gate is not None:
            self.gate.close()  # the keys typed next wait for the answer to be acted on
        return super().dismiss(result)

    def _on_mount(self, event: events.Mount) -> None:
        # After the subclass's on_mount asked for its focus (Widget.focus is
        # done on the app's queue, and so is the routing of the held keys).
        self.decided()

    def decided(self) -> None:
        """The keys typed next go on: the dialog is on screen, or it has acted
        on a key without being answered."""
        if self.gate is not None and not self.answered:
            self.gate.open()

    def hold_keys(self) -> None:
        """The keys typed from now on wait (until ``decided`` or an answer)."""
        if self.gate is not None:
            self.gate.close()

    def decides(self, event: events.Key) -> bool:
        """``event`` answers the dialog or moves its focus: ``decide`` acts on it."""
        key = event.key
        return (
            key in self.CLOSE_KEYS
            or key in ("tab", "shift+tab")
            or (key == "enter" and isinstance(self.focused, Button))
        )

    def waits(self, event: events.Key) -> bool:
        """``event`` goes to the focused widget, and the dialog decides later on
        its own what it does (and then calls ``decided``)."""
        return False

    def decide(self, event: events.Key) -> Awaitable[None] | None:
        """Act on a key that ``decides``, now that the keys typed before it are
        handled. What it returns is awaited before the next keys go on (a write
        queued, say: it is not left half done by an Esc typed right behind)."""
        key = event.key
        focused = self.focused
        if key in self.CLOSE_KEYS:
            self.cancel()
        elif key in ("tab", "shift+tab"):
            (self.focus_next if key == "tab" else self.focus_previous)()
        elif key == "enter" and isinstance(focused, Button):
            self.pressed(focused)
        return None

    def cancel(self) -> None:
        self.dismiss(None)

    def pressed(self, button: Button) -> None:
        """Enter on a button. A dialog whose buttons answer it answers here, and
        calls this from its ``on_button_pressed`` for clicks."""
        button.press()


class Dialog(Answers, ModalScreen[T]):
    """A modal dialog of the app. ctrl+q quits from it too (a modal screen
    keeps the app's keys from acting: found by a new user, ctrl+q over the
    inbox did nothing)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "app.quit", "Quit", show=False)]


class Follows:
    """A screen that shows what the cache holds, and follows its changes
    (the post view, the inbox): the app hands it every batch of changes."""

    def cache_changed(self, changes: Changes) -> None:
        """Read again what ``changes`` touch (a worker: never wait here)."""
