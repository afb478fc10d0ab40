"""A one-line text field that never holds a control character.

An ``Input`` draws its value as it is: a group name from a server that does
not check names, or a paste, would reach the terminal as escape sequences.
Whatever becomes the value (given, typed, pasted) has its control and bidi
characters replaced by their visible stand-ins, one for one, so the cursor
stays where it was.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import Input

from rse_tui.textsafe import editable_line

#: The text field's own editing keys (^U, ^W, End, ←...), but those a field
#: leaves to the dialog it is in (Enter, Esc, Tab).
_EDITING = frozenset(
    key
    for binding in Input.BINDINGS
    if isinstance(binding, Binding)
    for key in binding.key.split(",")
) - {"enter", "escape", "tab", "shift+tab"}


class Field(Input):
    def validate_value(self, value: str) -> str:
        return editable_line(value)

    async def _on_key(self, event: events.Key) -> None:
        # Its editing keys (^U, ^W, End, ←...) are bindings, which Textual runs
        # once the key has bubbled up to the app: after the letters typed
        # behind it ("^U Runbook" gave an empty field). Run them here, in
        # typing order. Enter, Esc and Tab go on as before (dialogs decide).
        found = self._bindings.key_to_bindings.get(event.key)
        command = not event.is_printable or event.key.startswith(("ctrl+", "alt+"))
        returning = getattr(self.app, "returning", None)  # sent round by the app
        if found and command and event.key in _EDITING and not (returning and returning(event)):
            event.prevent_default()
            event.stop()
            await self.run_action(found[0].action)
            return
        await super()._on_key(event)
