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

``ascii=True`` (RSE_ASCII=1 or NO_COLOR, see rse_tui.glyphs) gives ASCII
stand-ins instead: caret notation (ESC as ``^[``, DEL as ``^?``), ``?`` for
C1 controls and bidi marks, `` / `` for a line break kept on one line.
"""

from __future__ import annotations

_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def _table(keep: str, ascii: bool = False) -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x20):
        if chr(code) not in keep:
            # The Control Pictures block, or caret notation (ESC: ^[)
            table[code] = f"^{chr(0x40 + code)}" if ascii else chr(0x2400 + code)
    table[0x7F] = "^?" if ascii else "\u2421"
    unknown = "?" if ascii else "\ufffd"
    for code in range(0x80, 0xA0):
        table[code] = unknown
    for ch in _BIDI:
        table[ord(ch)] = unknown
    return table


_MULTILINE = _table("\n\t")
_ONE_LINE = _table("")
_MULTILINE_ASCII = _table("\n\t", ascii=True)
_ONE_LINE_ASCII = _table("", ascii=True)


def clean(text: str, *, ascii: bool = False) -> str:
    """Neutralise control characters, keeping newlines and tabs."""
    return text.translate(_MULTILINE_ASCII if ascii else _MULTILINE)


def clean_line(text: str, *, ascii: bool = False) -> str:
    """Neutralise control characters; show newlines as ``⏎`` (`` / `` in
    ASCII) to keep one line."""
    one_line = text.replace("\r\n", "\n").replace("\n", " / " if ascii else " \u23ce ")
    return one_line.replace("\t", " ").translate(_ONE_LINE_ASCII if ascii else _ONE_LINE)


def editable(text: str) -> str:
    """Text for a multi-line field (the composer): line breaks as newlines
    (a terminal pastes them as CR), other control characters as ``clean``."""
    return clean(text.replace("\r\n", "\n").replace("\r", "\n"))


def editable_line(text: str) -> str:
    """Text for a one-line field: every control character, newlines too, as its
    stand-in, one character for one (a position in the text stays valid)."""
    return text.translate(_ONE_LINE)
