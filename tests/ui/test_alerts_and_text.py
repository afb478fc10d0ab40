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


async def test_hostile_group_names_are_inert_on_every_pane(tmp_path, monkeypatch):
    """A name from an older server, or stored before the rules: shown as text,
    never as markup, escapes or reordered letters."""
    from textual.command import CommandPalette

    from rse_tui.protocol import GroupInfo
    from rse_tui.sync.cache import Cache
    from rse_tui.sync.engine import Backoff, Engine
    from rse_tui.ui.app import RseApp
    from rse_tui.ui.widgets.panes import Details, Title

    evil = "\u202egnireenignE [@click=app.quit]x[/] \x1b]0;pwned\x07"
    cache = Cache(tmp_path / "cache.db")
    cache.set_identity(1, "ana")
    cache.put_groups(
        [
            GroupInfo(group=7, name=evil, member=True, members=2, description=evil),
            GroupInfo(group=8, name="Ops", member=True, members=2),
        ],
        fresh=True,
    )
    cache.set("ui.group", 7)
    engine = Engine(cache, url="ws://127.0.0.1:9/", token="1.x", backoff=Backoff(first=600))
    app = RseApp(engine, "ana")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown = [
            str(app.part(Title).render()),
            str(app.part(Details).render()),
            *(str(o.prompt) for o in app.groups.options),
        ]
        await pilot.press("ctrl+k")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        for text in shown:
            assert "\u202e" not in text and "\x1b" not in text and "\x07" not in text, text
        assert any("[@click=app.quit]x[/]" in text for text in shown)  # literal, not markup
        assert app.is_running
        await app.action_quit()
    engine.close()
