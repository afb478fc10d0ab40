"""A one-line text field that never holds a control character.

An ``Input`` draws its value as it is: a group name from a server that does
not check names, or a paste, would reach the terminal as escape sequences.
Whatever becomes the value (given, typed, pasted) has its control and bidi
characters replaced by their visible stand-ins, one for one, so the cursor
stays where it was.
"""

from __future__ import annotations

from textual.widgets import Input

from rse_tui.textsafe import editable_line


class Field(Input):
    def validate_value(self, value: str) -> str:
        return editable_line(value)
