"""Keys typed before the app has the terminal: kept, and typed into it once it is up.

Between ``rse`` and the app's first screen the terminal is still in line
mode: what the user types is buffered by the terminal, with Enter turned into
a line feed (which the app would read as ctrl+j, a new line in the draft), or
lost when the app takes over. ``Typeahead`` switches the terminal to
character mode at once, without turning Enter into a line feed, and hands
over what was typed meanwhile; the app replays it as keys. Standard library
only: it runs before anything heavy is imported.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
from typing import Any


class Typeahead:
    """Capture typing from now until :meth:`take`; a no-op without a terminal."""

    def __init__(self, fd: int | None = None) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self._saved: list[Any] | None = None
        try:
            import termios

            if not os.isatty(self.fd):
                return
            self._saved = termios.tcgetattr(self.fd)
            mode = termios.tcgetattr(self.fd)
            mode[0] &= ~(termios.ICRNL | termios.INLCR | termios.IGNCR)  # Enter stays CR
            mode[3] &= ~(termios.ICANON | termios.ECHO)  # each key at once, not shown
            termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        except (ImportError, OSError):  # no termios (Windows), or not a terminal
            self._saved = None

    def take(self) -> str:
        """What was typed so far; the terminal goes back to how it was (the app
        sets its own mode from there, and restores that one when it exits)."""
        if self._saved is None:
            return ""
        import termios

        data = b""
        with contextlib.suppress(OSError):
            while select.select([self.fd], [], [], 0)[0]:
                chunk = os.read(self.fd, 4096)
                if not chunk:
                    break
                data += chunk
        with contextlib.suppress(OSError):
            termios.tcsetattr(self.fd, termios.TCSANOW, self._saved)
        self._saved = None
        # Typed before the switch, Enter was already turned into a line feed.
        return data.decode("utf-8", errors="replace").replace("\n", "\r")
