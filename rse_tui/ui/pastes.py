"""Bracketed pastes read whole from the terminal, whatever they contain.

A terminal in bracketed paste mode sends a paste between two markers,
``ESC [200~`` and ``ESC [201~``. Textual's input parser reads an ESC inside a
paste as the start of an escape sequence: the characters after it left the
paste and arrived as keys (ESC as ``^``), before the paste itself, which kept
only the text before the first ESC. Pasting ``A␛[31mB`` typed ``^[31mB`` and
then inserted ``A``; a line break among those keys was an Enter, which sent
half of a paste that nobody had sent.

:class:`PasteParser` takes each paste out of the input itself, up to its end
marker however many reads it spans, and gives it as one ``Paste`` event in
its place among the keys; everything else goes to Textual's parser as
before. The paste's text is raw: the app neutralises its control characters
(``textsafe.editable``) before any widget inserts it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator

from textual import constants, events
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.driver import Driver
from textual.message import Message

#: ESC and one key (alt+that key: not the start of a CSI, OSC, SS3 or DCS
#: sequence), followed by another ESC; and the same at the end of a read.
_ALT_THEN_ESC = re.compile("\x1b[^\x1b\\[\\]OP](?=\x1b)")
_ALT_AT_END = re.compile("\x1b[^\x1b\\[\\]OP]\\Z")

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


def _cut_marker(data: str, marker: str) -> int:
    """How many characters at the end of ``data`` may begin ``marker`` (cut by a read)."""
    for size in range(min(len(marker) - 1, len(data)), 0, -1):
        if data.endswith(marker[:size]):
            return size
    return 0


class PasteParser(XTermParser):
    """Textual's terminal input parser, with bracketed pastes read whole."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self._paste: list[str] | None = None  # inside a paste: its text so far
        self._held = ""  # the end of a read that may be the start of a marker
        self._held_at = 0.0
        self._alt_pending = False  # the last keys ended in ESC and one key

    def feed(self, data: str) -> Iterable[Message]:
        return self._feed(data)

    def _feed(self, data: str) -> Iterator[Message]:
        if not data:  # the end of the input
            held, self._held = self._held, ""
            if self._paste is not None:
                yield self._paste_event(held)
            else:
                yield from self._keys(held)
            yield from super().feed("")
            return
        data, self._held = self._held + data, ""
        while data:
            if self._paste is None:
                start = data.find(PASTE_START)
                if start < 0:
                    keep = _cut_marker(data, PASTE_START)
                    if keep:
                        data, self._held = data[:-keep], data[-keep:]
                        self._held_at = get_time()
                    yield from self._keys(data)
                    return
                yield from self._keys(data[:start])
                # What came before the paste is complete: an ESC right before
                # it was the Escape key, not the start of a sequence to wait for.
                yield from self._finish_sequence()
                self._paste = []
                data = data[start + len(PASTE_START) :]
            else:
                end = data.find(PASTE_END)
                if end < 0:
                    keep = _cut_marker(data, PASTE_END)
                    self._paste.append(data[: len(data) - keep])
                    self._held = data[len(data) - keep :]
                    return
                yield self._paste_event(data[:end])
                data = data[end + len(PASTE_END) :]

    def tick(self) -> Iterable[Message]:
        return self._tick()

    def _tick(self) -> Iterator[Message]:
        if (
            self._held
            and self._paste is None
            and get_time() - self._held_at >= constants.ESCAPE_DELAY
        ):
            # No paste followed: the held ESC (or ESC [ ...) was typed, and is
            # read as Textual reads it when nothing more comes.
            held, self._held = self._held, ""
            yield from self._keys(held)
            yield from self._finish_sequence()
        yield from super().tick()

    def _keys(self, data: str) -> Iterator[Message]:
        """Keys to Textual's parser, an alt+key at a time when another escape
        sequence follows it at once ("alt+h ↓" in one read, as SSH delivers
        it: ``ESC h ESC [ B``). Textual's parser, on an ESC that comes while
        it still waits to see whether ``ESC h`` goes on, gives ``ESC h`` as
        the keys ``^`` and ``h``: typed into the composer, sent by the Enter
        behind them. Each alt+key is read as the escape delay would read it."""
        if not data:
            return
        if self._alt_pending and data.startswith("\x1b"):  # the last read ended in one
            yield from self._finish_sequence()
        start = 0
        for alt in _ALT_THEN_ESC.finditer(data):
            yield from super().feed(data[start : alt.end()])
            yield from self._finish_sequence()
            start = alt.end()
        if start < len(data):
            yield from super().feed(data[start:])
        self._alt_pending = _ALT_AT_END.search(data) is not None

    def _finish_sequence(self) -> Iterator[Message]:
        """Let Textual's parser read what it is waiting on as it would once its
        escape delay has passed."""
        if self._timeout_time is not None:
            self._timeout_time = get_time()
            yield from super().tick()

    def _paste_event(self, last: str) -> events.Paste:
        assert self._paste is not None
        self._paste.append(last)
        text = "".join(self._paste).replace("\x00", "")
        self._paste = None
        return events.Paste(text)


def install(driver: type[Driver]) -> None:
    """Make ``driver`` (a class of Textual's drivers) read its input with
    :class:`PasteParser`: it makes its parser from its module's ``XTermParser``."""
    module = sys.modules.get(driver.__module__)
    if module is not None and getattr(module, "XTermParser", None) is XTermParser:
        module.XTermParser = PasteParser  # type: ignore[attr-defined]
