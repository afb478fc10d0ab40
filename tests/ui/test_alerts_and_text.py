"""Alerts that work over SSH/tmux, and text neutralisation."""

from __future__ import annotations

from rse_tui.textsafe import clean, clean_line
from rse_tui.ui import alerts


def test_alert_sequences_are_clean_and_configurable():
    body = "look \x1b]0;owned\x07 at this\nnow"
    out = alerts.sequences("rse: bob", body, {})
    assert out.startswith("\x1b]9;rse: bob: look ␛]0,owned␇ at this ⏎ now\x07".replace(",", ";"))
    assert out.endswith("\x07")
    # Only the sequence's own ESC and BEL: nothing from the message.
    assert out.count("\x1b") == 1 and out.count("\x07") == 2
    assert alerts.sequences("t", "b", {"RSE_ALERT": "none"}) == ""
    assert alerts.sequences("t", "b", {"RSE_ALERT": "bell"}) == "\x07"
    both = alerts.sequences("a;b", "c", {"RSE_ALERT": "osc777"})
    assert both == "\x1b]777;notify;a,b;c\x07"


def test_alerts_pass_through_tmux():
    out = alerts.sequences("t", "b", {"TMUX": "/tmp/tmux-0/default,1,0", "RSE_ALERT": "osc9"})
    assert out == "\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\"


def test_clean_keeps_text_and_shows_controls():
    assert clean("a\tb\nc") == "a\tb\nc"
    assert clean("\x1b[31m\x9b\x7f\u202e") == "␛[31m\ufffd␡\ufffd"
    assert clean_line("one\r\ntwo\tthree") == "one ⏎ two three"
    assert clean("[bold]é ✓ 漢字[/]") == "[bold]é ✓ 漢字[/]"
