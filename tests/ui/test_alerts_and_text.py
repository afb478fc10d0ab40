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


EVIL = "evil \x1b]0;PWNED\x07 \x1b[31mERROR\x1b[0m \x1b[5mblink \u202eabc \u009b31m"
SHOWN = "evil ␛]0;PWNED␇ ␛[31mERROR␛[0m ␛[5mblink \ufffdabc \ufffd31m"
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def _raw(text: str) -> str:
    """The characters of ``text`` a terminal would take as commands (or reorder by)."""
    return "".join(
        ch
        for ch in text
        if (ord(ch) < 0x20 and ch not in "\n\t") or 0x7F <= ord(ch) < 0xA0 or ch in _BIDI
    )


def test_editable_text_keeps_lines_and_shows_controls():
    from rse_tui.textsafe import editable, editable_line

    assert editable(EVIL) == SHOWN
    assert editable("one\r\ntwo\rthree\n\tfour") == "one\ntwo\nthree\n\tfour"
    assert editable(editable(EVIL)) == SHOWN
    assert editable_line("a\nb\x1b") == "a␊b␛" and len(editable_line(EVIL)) == len(EVIL)


async def _send_and_wait(app, pilot, group: int, text: str) -> None:
    from .conftest import until

    await app.client.send_chat(group, text)
    await until(pilot, lambda: any(r.text == text and r.seq for r in app.timeline.rows))


async def test_editing_a_message_with_controls_never_puts_them_in_the_composer(server, profiles):
    """ESC in a stored message (``rse chat`` stores what it is given) is shown
    as ␛ while it is edited: nothing reaches the terminal as a command. Saved
    unchanged, the message stays as it was; changed, it keeps the stand-ins."""
    from .conftest import burst, until
    from .test_app import _join_ops, _room, _stored

    account, bob, g = await _room(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await _send_and_wait(app, pilot, g, EVIL)
        await pilot.press("up")  # the last message of mine, to edit
        await until(pilot, lambda: app.composer.mode is not None)
        assert app.composer.text == SHOWN
        await pilot.pause()
        assert _raw(app.export_screenshot()) == ""
        await pilot.press("enter")  # unchanged
        await until(pilot, lambda: app.composer.text == "")
        await burst(pilot, "alt+up", "e", "!", "enter")  # selected on purpose, then changed
        await until(pilot, lambda: (SHOWN + "!") in [r.text for r in app.timeline.rows])
        assert (await _stored(bob, g))[-1] == SHOWN + "!"
        await _send_and_wait(app, pilot, g, EVIL)
        await burst(pilot, "alt+up", "r")  # a reply quotes it in the composer's title
        await until(pilot, lambda: app.composer.mode is not None)
        assert "␛]0;PWNED␇" in str(app.composer.border_title)
        await pilot.pause()
        assert _raw(app.export_screenshot()) == ""
        await app.action_quit()
    await bob.close()


async def test_drafts_pastes_and_loaded_texts_reach_the_composer_neutralised(server, profiles):
    """A draft saved by an older version, a paste, a text put back: all shown as
    stand-ins, newlines and tabs kept, CR line breaks (as terminals paste) new lines."""
    from textual import events

    from .conftest import back_to_last_group, until
    from .test_app import _join_ops, _room

    account, bob, g = await _room(server, profiles)
    first = profiles.app(account)
    async with first.run_test(size=(80, 24)) as pilot:
        await _join_ops(first, pilot)
        await first.action_quit()
    cache = account.open_cache()
    cache.save_draft(g, EVIL)
    cache.close()
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await back_to_last_group(pilot)
        await until(pilot, lambda: app.composer.text != "")
        assert app.composer.text == SHOWN
        app.composer.move_cursor(app.composer.document.end)
        paste = events.Paste("\rline\x1b[2J\tend\x07")
        paste.set_sender(app)
        app._driver.send_message(paste)
        await until(pilot, lambda: app.composer.text.endswith("␇"))
        assert app.composer.text == SHOWN + "\nline␛[2J\tend␇"
        app.composer.text = "\x1b]0;x\x07"  # as the editor's file or a refused text comes back
        assert app.composer.text == "␛]0;x␇"
        app.composer.insert("\x9b1m")
        assert _raw(app.composer.text) == ""
        await pilot.pause()
        assert _raw(app.export_screenshot()) == ""
        await app.action_quit()
    await bob.close()


async def test_dialog_fields_hold_no_controls(tmp_path):
    """The settings screen shows a hostile name and description as stand-ins
    (and saves nothing when they are left alone); pastes into the palette and
    the directory search are neutralised too."""
    from textual import events
    from textual.command import CommandPalette
    from textual.widgets import Input

    from rse_tui.protocol import GroupInfo
    from rse_tui.sync.cache import Cache
    from rse_tui.sync.engine import Backoff, Engine
    from rse_tui.ui.app import RseApp
    from rse_tui.ui.screens.people import DirectoryScreen
    from rse_tui.ui.screens.settings import SettingsScreen

    from .conftest import back_to_last_group, until

    cache = Cache(tmp_path / "cache.db")
    cache.set_identity(1, "ana")
    cache.put_groups(
        [GroupInfo(group=7, name=EVIL, member=True, moderator=True, members=2, description=EVIL)],
        fresh=True,
    )
    cache.set("ui.group", 7)
    engine = Engine(cache, url="ws://127.0.0.1:9/", token="1.x", backoff=Backoff(first=600))
    app = RseApp(engine, "ana")

    def paste(text: str) -> None:
        event = events.Paste(text)
        event.set_sender(app)
        app._driver.send_message(event)

    async with app.run_test(size=(100, 40)) as pilot:
        await back_to_last_group(pilot)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        fields = [w.value for w in screen.query(Input)]
        assert fields and all(SHOWN in v and _raw(v) == "" for v in fields), fields
        assert screen.changes() == {}
        paste("\x1b[31m")
        await pilot.pause()
        assert _raw(screen.query_one("#name", Input).value) == ""
        assert _raw(app.export_screenshot()) == ""
        await pilot.press("escape")

        await pilot.press("ctrl+k")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        paste("evil\x1b]0;PWNED\x07")
        await pilot.pause()
        assert _raw(app.screen.query_one(Input).value) == ""
        assert _raw(app.export_screenshot()) == ""
        await pilot.press("escape")

        app.push_screen(DirectoryScreen(lambda q, b: _nobody(), {}))
        await until(pilot, lambda: isinstance(app.screen, DirectoryScreen))
        paste("\u202eevil\x1b[5m")
        await pilot.pause()
        assert app.screen.query_one(Input).value == "\ufffdevil␛[5m"
        await pilot.press("escape")
        await app.action_quit()
    engine.close()


async def _nobody() -> list:
    return []
