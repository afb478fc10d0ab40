"""Mention alerts that work over SSH and tmux: the bell and OSC 9 / OSC 777.

No desktop bus is needed: terminals that understand OSC 9 (iTerm2, WezTerm,
Windows Terminal, foot, kitty...) or OSC 777 (urxvt, foot, ghostty...) show a
notification; inside tmux the sequence is wrapped for passthrough. The
notification text is cleaned of control characters and shortened first.
``RSE_ALERT`` picks what is sent: a comma list of ``bell``, ``osc9``,
``osc777``, or ``none`` (default ``bell,osc9``).
"""

from __future__ import annotations

from collections.abc import Mapping

from rse_tui.textsafe import clean_line

DEFAULT = "bell,osc9"


def _wrap_tmux(sequence: str) -> str:
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"


def sequences(title: str, body: str, environ: Mapping[str, str]) -> str:
    """The bytes to write to the terminal for one alert."""
    wanted = {w.strip() for w in environ.get("RSE_ALERT", DEFAULT).split(",")}
    if "none" in wanted:
        return ""
    # Notification text may not contain ';' in OSC 777's title, nor controls.
    title = clean_line(title)[:60].replace(";", ",")
    body = clean_line(body)[:120]
    out = ""
    if "osc9" in wanted:
        out += f"\x1b]9;{title}: {body}\x07"
    if "osc777" in wanted:
        out += f"\x1b]777;notify;{title};{body}\x07"
    if out and environ.get("TMUX"):
        out = _wrap_tmux(out)
    if "bell" in wanted:
        out += "\x07"
    return out
