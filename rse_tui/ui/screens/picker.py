"""The reaction picker (``:`` on a selected message, in the timeline or the
post view), and its flow: the reaction chosen is put on the message, or
taken back when it was mine already.

Every reaction word is listed, numbered; a digit picks one at once, ↑↓ and
Enter pick the highlighted one, Esc closes. Enter and the digits decide
(``screens.dialog``): the keys typed after them wait for the answer, then go
to the composer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from rse_tui.protocol import Reaction
from rse_tui.sync.models import MessageRow

from ..render import reaction_label
from .dialog import Dialog

if TYPE_CHECKING:
    from ..gates import Gate
    from ..surface import AppSurface


class ReactionPicker(Dialog[str | None]):
    """Returns the reaction word chosen, or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]
    DEFAULT_CSS = """
    ReactionPicker { align: center middle; }
    ReactionPicker > Vertical {
        width: 40; max-width: 100%; height: auto; max-height: 100%;
        border: tall $accent; background: $surface; padding: 0 1;
    }
    ReactionPicker OptionList { height: auto; max-height: 12; }
    """

    def __init__(self, mine: frozenset[str], plain: bool) -> None:
        super().__init__()
        self.words = Reaction.words()
        self.mine = mine
        self.plain = plain

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("React: 1-8 or Enter · Esc")
            options = []
            for n, word in enumerate(self.words):
                taken = "   (yours: takes it back)" if word in self.mine else ""
                label = f"{n + 1}  {reaction_label(word, self.plain)}  {word}{taken}"
                options.append(Option(Content(label), id=word))
            yield OptionList(*options, id="reactions", markup=False)

    def on_mount(self) -> None:
        reactions = self.query_one(OptionList)
        reactions.highlighted = 0
        reactions.focus()

    def _digit(self, key: str) -> int | None:
        return int(key) - 1 if key.isdigit() and 0 < int(key) <= len(self.words) else None

    def decides(self, event: events.Key) -> bool:
        return event.key == "enter" or self._digit(event.key) is not None or super().decides(event)

    def decide(self, event: events.Key) -> None:
        index = self._digit(event.key)
        if index is not None:
            self.dismiss(self.words[index])
        elif event.key == "enter":
            highlighted = self.query_one(OptionList).highlighted
            if highlighted is not None:
                self.dismiss(self.words[highlighted])
        else:
            super().decide(event)

    @on(OptionList.OptionSelected, "#reactions")
    def _picked(self, event: OptionList.OptionSelected) -> None:  # a click
        self.dismiss(event.option_id)


async def pick_reaction(app: AppSurface, row: MessageRow, gate: Gate) -> None:
    """Ask which reaction, then put it on ``row`` (or take it back)."""
    if row.seq is None:
        return
    mine = frozenset(word for word, _, me in row.reactions if me)
    word = await app.ask(ReactionPicker(mine, app.plain_symbols), gate)
    if word is not None:
        await app.client.react(row.seq, word, on=word not in mine)
