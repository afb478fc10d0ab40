"""The symbols rse draws around what people wrote, and their ASCII forms.

One rule for every symbol of rse's own, on the command line and in the app:
under ``RSE_ASCII=1`` or ``NO_COLOR`` (a terminal, font or log that shows
ASCII alone) each is drawn in ASCII, reactions as ``:word:``. What people
wrote is left as they wrote it, but for the stand-ins of its control
characters, which are rse's too (``^[`` for ESC, see rse_tui.textsafe).
Standard library only: the command line and the app both use it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .textsafe import clean, clean_line


def plain(environ: Mapping[str, str] | None = None) -> bool:
    """ASCII symbols only: ``RSE_ASCII=1``, or ``NO_COLOR`` set (to anything)."""
    env = os.environ if environ is None else environ
    return env.get("RSE_ASCII") == "1" or "NO_COLOR" in env


@dataclass(frozen=True, slots=True)
class Glyphs:
    """The symbols to draw with: Unicode, or ASCII (``ascii``)."""

    ascii: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Glyphs:
        return cls(plain(environ))

    def pick(self, fancy: str, ascii: str) -> str:
        """A symbol: its Unicode form, or its ASCII one."""
        return ascii if self.ascii else fancy

    @property
    def dash(self) -> str:
        """Between a title and its text ("Title — text")."""
        return self.pick("\u2014", "--")

    @property
    def more(self) -> str:
        """What ends a shortened line."""
        return self.pick("\u2026", "...")

    def line(self, text: str) -> str:
        """Untrusted text, safe and on one line (textsafe.clean_line)."""
        return clean_line(text, ascii=self.ascii)

    def text(self, text: str) -> str:
        """Untrusted text, safe, its lines kept (textsafe.clean)."""
        return clean(text, ascii=self.ascii)

    def cut(self, text: str, width: int) -> str:
        """Untrusted text on one line, shortened past ``width`` characters."""
        line = self.line(text)
        return f"{line[:width]}{self.more}" if len(line) > width + 1 else line


#: The two sets, for defaults and tests.
UNICODE = Glyphs()
ASCII = Glyphs(ascii=True)
