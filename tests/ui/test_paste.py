"""Bracketed pastes: inserted whole, in order, at the cursor, never sent without Enter.

Pilot cannot send a terminal's bytes, so these tests give the bytes a
terminal sends (tmux ``paste-buffer -p``: ESC [200~, the text with CR for each
line break, ESC [201~) to the parser the app's terminal driver reads its
input with, and hand the app the events it makes, as the driver does.
"""

from __future__ import annotations

import sys

import pytest
from textual import events
from textual._time import get_time

from rse_tui.sync.cache import Cache
from rse_tui.sync.engine import Backoff, Engine
from rse_tui.ui.app import RseApp

from .conftest import until
from .test_app import _join_ops, _ops_with_history, _stored


@pytest.fixture
def app(tmp_path):
    """An app on a cache and no server: enough to read what its driver would."""
    cache = Cache(tmp_path / "cache.db")
    engine = Engine(cache, url="ws://127.0.0.1:9/", token="1.x", backoff=Backoff(first=600))
    yield RseApp(engine, "ana")
    engine.close()


def _parser(app: RseApp):
    """A parser as the app's terminal driver makes one to read its input."""
    return sys.modules[app.driver_class.__module__].XTermParser()


def _read(parser, *reads: str) -> list:
    """What the driver gets from ``reads`` (each one ``os.read``), with its ticks."""
    out = []
    for data in reads:
        out.extend(parser.feed(data))
        out.extend(parser.tick())
    return out


def _settle(parser) -> list:
    """What the driver gets once the escape delay has passed with nothing read."""
    long_ago = get_time() - 10
    parser._held_at = long_ago
    if parser._timeout_time is not None:
        parser._timeout_time = long_ago
    return list(parser.tick())


def _shown(found: list) -> list[tuple[str, str]]:
    return [
        ("paste", e.text) if isinstance(e, events.Paste) else ("key", e.key)
        for e in found
        if isinstance(e, (events.Paste, events.Key))
    ]


def _pasted(text: str) -> str:
    return "\x1b[200~" + text.replace("\n", "\r") + "\x1b[201~"


ESC_ONLY = "esconly: A\x1b[31mB end"
LINES = "line1\nline2 \x1b[32mgreen\x1b[0m\nline3"


def test_a_paste_with_escapes_is_one_event_in_its_place(app):
    parser = _parser(app)
    long_tail = "x" * 100  # past the 32 characters Textual's parser looks ahead
    assert _shown(_read(parser, "a" + _pasted(ESC_ONLY) + "b")) == [
        ("key", "a"),
        ("paste", ESC_ONLY),
        ("key", "b"),
    ]
    assert _shown(_read(parser, _pasted(LINES))) == [("paste", LINES.replace("\n", "\r"))]
    assert _shown(_read(parser, _pasted("\x1b" + long_tail))) == [("paste", "\x1b" + long_tail)]


def _any_cut(app: RseApp, data: str, expected: list[tuple[str, str]]) -> None:
    """Read whole, or in two parts cut anywhere (an SSH packet, a 4 KiB read)."""
    parser = _parser(app)
    assert _shown(_read(parser, data) + _settle(parser)) == expected
    for cut in range(1, len(data)):
        parser = _parser(app)
        got = _shown(_read(parser, data[:cut], data[cut:]) + _settle(parser))
        assert got == expected, (cut, data[:cut], data[cut:])


def test_a_paste_read_in_pieces_is_the_same_paste(app):
    _any_cut(
        app,
        "ab" + _pasted(LINES) + "c\r",
        [
            ("key", "a"),
            ("key", "b"),
            ("paste", LINES.replace("\n", "\r")),
            ("key", "c"),
            ("key", "enter"),
        ],
    )
    _any_cut(  # two pastes, an up arrow between them
        app,
        _pasted("one") + "\x1b[A" + _pasted("\x1b[20two"),
        [("paste", "one"), ("key", "up"), ("paste", "\x1b[20two")],
    )


def test_keys_around_a_paste_keep_their_meaning(app):
    parser = _parser(app)
    # Escape, then a paste in the same read (a slow link delivers them together).
    assert _shown(_read(parser, "\x1b" + _pasted("p"))) == [("key", "escape"), ("paste", "p")]
    assert _shown(_read(parser, "\x1b\x1b" + _pasted("p"))) == [
        ("key", "escape"),
        ("key", "escape"),
        ("paste", "p"),
    ]
    # Escape on its own is still Escape once nothing follows, and arrows are arrows.
    assert _shown(_read(parser, "\x1b")) == []
    assert _shown(_settle(parser)) == [("key", "escape")]
    assert _shown(_read(parser, "\x1b[A\x1bx") + _settle(parser)) == [
        ("key", "up"),
        ("key", "alt+x"),
    ]


def test_an_alt_key_right_before_another_sequence_stays_an_alt_key(app):
    """Found by a new user: "alt+h ↓" in one read (ESC h ESC [ B, as tmux and
    SSH deliver it) was read by Textual's parser as the keys ^, h and ↓:
    "^h" typed in the composer, and sent by the Enter typed next."""
    _any_cut(app, "\x1bh\x1b[B\r", [("key", "alt+h"), ("key", "down"), ("key", "enter")])
    _any_cut(app, "\x1ba\x1bh", [("key", "alt+a"), ("key", "alt+h")])
    _any_cut(app, "\x1bh\x1b" + "[200~p\x1b[201~", [("key", "alt+h"), ("paste", "p")])
    # A typed ^ stays a ^, and arrows and alt+arrows keep their meaning.
    _any_cut(app, "a^hb", [("key", "a"), ("key", "circumflex_accent"), ("key", "h"), ("key", "b")])
    _any_cut(app, "\x1b[1;3C\x1b[B", [("key", "alt+right"), ("key", "down")])


async def test_a_pasted_text_goes_whole_to_the_cursor_and_waits_for_enter(server, profiles):
    account, bob, g = await _ops_with_history(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await until(pilot, lambda: len(app.timeline.rows) == 3)
        parser = _parser(app)

        def terminal(*reads: str) -> None:
            for event in _read(parser, *reads):
                event.set_sender(app)
                app._driver.send_message(event)

        terminal("[]", "\x1b[D")  # typed "[]", then the cursor left, between the two
        terminal(_pasted(ESC_ONLY))
        await until(pilot, lambda: "end" in app.composer.text)
        await pilot.pause()
        assert app.composer.text == "[esconly: A␛[31mB end]"
        assert "\x1b" not in app.composer.text

        app.composer.clear()
        terminal(_pasted(LINES))
        await until(pilot, lambda: "line3" in app.composer.text)
        await pilot.pause(0.3)
        assert app.composer.text == "line1\nline2 ␛[32mgreen␛[0m\nline3"
        assert len(await _stored(bob, g)) == 3  # nothing sent without Enter
        terminal("\r")
        await until(pilot, lambda: app.composer.text == "")
        await until(pilot, lambda: len(app.timeline.rows) == 4 and app.timeline.rows[-1].seq)
        assert (await _stored(bob, g))[3:] == ["line1\nline2 ␛[32mgreen␛[0m\nline3"]
        await app.action_quit()
    await bob.close()


async def test_a_paste_typed_ahead_arrives_whole(server, profiles):
    """Pasted while ``rse`` starts (a terminal left in bracketed paste mode):
    typed into the app once it is up as the same one paste, not as keys."""
    account, bob, g = await _ops_with_history(server, profiles)
    first = profiles.app(account)
    async with first.run_test(size=(80, 24)) as pilot:
        await _join_ops(first, pilot)
        await first.action_quit()
    app = profiles.app(account)
    app.typeahead = "ab" + _pasted(LINES) + "c"
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.composer.text.endswith("c"))
        await pilot.pause(0.3)
        assert app.composer.text == "abline1\nline2 ␛[32mgreen␛[0m\nline3c"
        assert len(await _stored(bob, g)) == 3
        await app.action_quit()
    await bob.close()
