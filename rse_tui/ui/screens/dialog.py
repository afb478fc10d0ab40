"""What every dialog of the app shares: it answers once.

Two answers can reach a dialog before it has closed: two Enters typed in one
burst (the second one queued in its search box before the first closed it),
a double click. Textual's ``dismiss`` closes whatever screen is on top, so
the second answer closed the screen under the dialog, or, with none left,
crashed the app (``ScreenStackError``). Here a dialog answers once, and only
while it is the screen on top.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

if TYPE_CHECKING:
    _Screen = ModalScreen[Any]
else:
    _Screen = object

T = TypeVar("T")


class Answers(_Screen):
    """Mixed into a screen class (before the screen): it answers once."""

    answered: bool = False

    def dismiss(self, result: Any = None) -> AwaitComplete:
        """Close with ``result``, once: a second answer (two Enters that reached
        it before it closed, a double click) would close the screen under it."""
        if self.answered or not self.is_active:
            return AwaitComplete.nothing()
        self.answered = True
        return super().dismiss(result)


class Dialog(Answers, ModalScreen[T]):
    """A modal dialog of the app."""
