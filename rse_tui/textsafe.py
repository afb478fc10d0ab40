"""Make untrusted text safe to show in a terminal.

Message texts, names and titles come from other users. Control characters
in them could move the cursor, retitle the window, or hide text; bidi
overrides could make text read differently than it is. Each such character
is replaced by a visible stand-in (ESC shows as ``␛``), so nothing reaches the
terminal as a command and nothing is silently hidden. Standard library only:
the command line, the sync layer and the UI all use it.

Text put in a field to be edited (a message being edited, a draft, a paste)
is neutralised the same way: a text field draws what it holds as it is, so a
raw ESC there would reach the terminal. Its stand-ins are then part of the
text, and saved as such.
"""

from __future__ import annotations

_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def _table(keep: str) -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x20):
        if chr(code) not in keep:
            table[code] = chr(0x2400 + code)  # the Control Pictures block
    table[0x7F] = "\u2421"
    for code in range(0x80, 0xA0):
        table[code] = "\ufffd"
    for ch in _BIDI:
        table[ord(ch)] = "\ufffd"
    return table


_MULTILINE = _table("\n\t")
_ONE_LINE = _table("")


def clean(text: str) -> str:
    """Neutralise control characters, keeping newlines and tabs."""
    return text.translate(_MULTILINE)


def clean_line(text: str) -> str:
    """Neutralise control characters; show newlines as ``⏎`` to keep one line."""
    return (
        text.replace("\r\n", "\n").replace("\n", " \u23ce ").replace("\t", " ").translate(_ONE_LINE)
    )


def editable(text: str) -> str:
    """Text for a multi-line field (the composer): line breaks as newlines
    (a terminal pastes them as CR), other control characters as ``clean``."""
    return clean(text.replace("\r\n", "\n").replace("\r", "\n"))


def editable_line(text: str) -> str:
    """Text for a one-line field: every control character, newlines too, as its
    stand-in, one character for one (a position in the text stays valid)."""
    return text.translate(_ONE_LINE)
