"""The real app, driven with Pilot, against a real server."""

from __future__ import annotations

import asyncio
import io
import sqlite3

from rich.console import Console
from textual.command import CommandPalette

from bench.linkproxy import LinkProxy
from rse_tui.protocol import (
    ChatEvent,
    CreateGroup,
    History,
    JoinGroup,
    SendChat,
    SendDirect,
    Sync,
)
from rse_tui.sync.models import Link
from rse_tui.ui.app import RseApp, run_tui
from rse_tui.ui.screens.charter import ConfirmScreen
from rse_tui.ui.screens.help import HelpScreen, keys_table
from rse_tui.ui.widgets.composer import Composer
from rse_tui.ui.widgets.groups import GroupList
from rse_tui.ui.widgets.panes import Details, StatusBar, Title
from server.app import RseServer

from ..helpers import config, new_user
from .conftest import back_to_last_group, burst, until


def _texts(app: RseApp) -> list[str]:
    return [r.text for r in app.timeline.rows]


async def _room(server: RseServer, profiles, name: str = "ana"):
    """A profile for ``name`` and a live second user bob, both in group Ops."""
    account = await profiles.join(server, name)
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="Ops", cid="g")).group
    await bob.conn.call(Sync, since=0)
    return account, bob, g


async def _join_ops(app: RseApp, pilot) -> None:
    await until(pilot, lambda: app.engine.status.link is Link.ONLINE)
    await until(pilot, lambda: any(r.name == "Ops" for r in app.groups.rows))
    app.groups.focus()
    ops = next(r.group for r in app.groups.rows if r.name == "Ops")
    app.groups.highlighted = app.groups.index_of(ops)
    await pilot.press("enter")  # opens it, joining first
    await until(pilot, lambda: app.view.group is not None and app.view.group.member)


async def test_chat_round_trip_with_a_second_client(server, profiles):
    account, bob, g = await _room(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _join_ops(app, pilot)
        assert isinstance(app.focused, Composer)
        await pilot.press(*"disk full on db3")
        await pilot.press("enter")
        got = await bob.pushes.next(ChatEvent)
        assert (got.text, got.user) == ("disk full on db3", account.settings.user)
        assert app.composer.text == ""
        await until(pilot, lambda: app.timeline.rows and app.timeline.rows[-1].seq == got.seq)

        reply = await bob.conn.call(SendChat, group=g, text="on it", cid="r1")
        await until(pilot, lambda: "on it" in _texts(app))
        assert app.timeline.rows[-1].seq == reply.seq
        assert "on it" in app.timeline.visible_text()
        await app.action_quit()
    await bob.close()


async def test_opens_from_cache_with_the_server_down(server, profiles, tmp_path):
    account, bob, g = await _room(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _join_ops(app, pilot)
        await bob.conn.call(SendChat, group=g, text="runbook: restart the VPN", cid="m")
        await until(pilot, lambda: "runbook: restart the VPN" in _texts(app))
        await app.action_quit()
    await bob.close()
    await server.stop()

    again = profiles.app(account)
    async with again.run_test(size=(120, 40)) as pilot:
        # Content is there at once, from the cache, with no server at all:
        # Home first, then the group.
        await pilot.pause()
        assert again.view.home
        await back_to_last_group(pilot)
        assert "runbook: restart the VPN" in _texts(again)
        assert again.view.group is not None and again.view.group.name == "Ops"
        await until(pilot, lambda: again.engine.status.link is Link.RECONNECTING)
        status = str(again.query_one("#status").render())
        assert "offline" in status and "retry in" in status
        await again.action_quit()


async def test_offline_writes_survive_a_restart_and_arrive_once(profiles, tmp_path):
    cfg = config(tmp_path / "restart.db")
    srv = RseServer(cfg)
    await srv.start()
    # The app reaches the server through a link that outlives server restarts.
    link = await LinkProxy(srv.port).start()
    account = await profiles.join(srv, "ana", url=link.url)
    bob = await new_user(srv, "bob")
    await bob.conn.call(CreateGroup, name="Ops", cid="g")
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _join_ops(app, pilot)
        await app.action_quit()
    await bob.close()
    await srv.stop()

    # Offline: write two messages, see them pending, quit.
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await back_to_last_group(pilot)
        await pilot.press(*"first while down", "enter")
        await pilot.press(*"second while down", "enter")
        await until(pilot, lambda: len([r for r in app.timeline.rows if r.pending]) == 2)
        assert "waiting to send" in app.timeline.visible_text()
        await until(pilot, lambda: "2 waiting to send" in str(app.query_one("#status").render()))
        await app.action_quit()

    # Restart the client with the server back: each message arrives once.
    srv = RseServer(cfg)
    await srv.start()
    link.target_port = srv.port
    try:
        app = profiles.app(account)
        async with app.run_test(size=(120, 40)) as pilot:
            await back_to_last_group(pilot)
            await until(
                pilot,
                lambda: app.engine.status.outbox == 0 and app.engine.status.link is Link.ONLINE,
            )
            await until(pilot, lambda: not any(r.pending for r in app.timeline.rows))
            assert _texts(app)[-2:] == ["first while down", "second while down"]
            await app.action_quit()
        db = sqlite3.connect(cfg.db_path)
        texts = [r[0] for r in db.execute("SELECT body FROM events WHERE kind = 'c' ORDER BY seq")]
        db.close()
        assert texts == ["first while down", "second while down"]
    finally:
        await srv.stop()
        await link.stop()


async def test_markup_and_escapes_from_others_are_inert(server, profiles):
    account, bob, g = await _room(server, profiles)
    await bob.conn.call(CreateGroup, name="[red]evil[/red] [@click=app.quit]x", cid="g2")
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _join_ops(app, pilot)
        nasty = [
            "[@click=app.quit]click me[/]",
            "[/bold] unmatched",
            "\x1b[2J\x1b]0;title\x07 \x9b31m bidi\u202eevil",
            "[link=https://example.com]x[/link] $x {y}",
        ]
        for n, text in enumerate(nasty):
            await bob.conn.call(SendChat, group=g, text=text, cid=f"n{n}")
        await until(pilot, lambda: len(app.timeline.rows) >= len(nasty))
        screen = app.timeline.visible_text()
        assert "[@click=app.quit]click me[/]" in screen
        assert "[/bold] unmatched" in screen
        assert "␛[2J␛]0;title␇" in screen and "\x1b" not in screen and "\x9b" not in screen
        assert "\u202e" not in screen
        # Clicking the text does nothing but select; the app is still running.
        await pilot.click("#timeline", offset=(10, 0))
        await pilot.click("#timeline", offset=(10, 1))
        await pilot.pause()
        assert app.is_running
        labels = [str(o.prompt) for o in app.groups.options]
        assert any("[red]evil[/red] [@click=app.quit]x" in label for label in labels)
        await app.action_quit()
    await bob.close()


async def test_help_lists_the_key_table_and_question_mark_is_typed(server, profiles):
    from rse_tui.ui.keys import KEYMAP

    account = await profiles.join(server, "ana")
    app = profiles.app(account)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        console = Console(record=True, width=100, file=io.StringIO())
        console.print(keys_table())
        shown = console.export_text()
        assert all(key.description in shown for key in KEYMAP)
        assert "^K" in shown and "F1" in shown and "M-↑" in shown
        from rse_tui.ui.commands import COMMANDS

        assert all(c.usage in shown and c.description in shown for c in COMMANDS.values())
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        app.groups.focus()
        await pilot.press("question_mark")  # typing, wherever the focus was
        assert not isinstance(app.screen, HelpScreen)
        assert app.composer.text == "?" and app.focused is app.composer
        await app.action_quit()


def test_every_key_in_the_table_has_an_action():
    from rse_tui.ui.keys import KEYMAP
    from rse_tui.ui.screens.inbox import InboxScreen
    from rse_tui.ui.screens.post import PostComposer, PostScreen
    from rse_tui.ui.widgets.portal import Portal
    from rse_tui.ui.widgets.timeline import Timeline

    owners = {
        "app": RseApp,
        "timeline": Timeline,
        "composer": Composer,
        "groups": GroupList,
        "portal": Portal,
        "post": PostScreen,
        "post_composer": PostComposer,
        "inbox": InboxScreen,
    }
    for key in KEYMAP:
        owner = RseApp if key.routed else owners[key.where]
        assert hasattr(owner, f"action_{key.action}"), key


async def test_narrow_terminal_folds_the_side_panes(server, profiles):
    account = await profiles.join(server, "ana")
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        groups = app.query_one("#groups")
        details = app.query_one("#details")
        assert not groups.display and not details.display
        await pilot.press("ctrl+b")
        assert groups.display
        await pilot.press("ctrl+b")
        assert not groups.display
        await pilot.press("ctrl+o")
        assert details.display
        await app.action_quit()
    wide = profiles.app(account)
    async with wide.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert wide.query_one("#groups").display and wide.query_one("#details").display
        await pilot.press("ctrl+b")
        assert not wide.query_one("#groups").display
        await pilot.press("ctrl+b")
        for width, shown in ((80, False), (120, True), (80, False), (120, True)):
            await pilot.resize_terminal(width, 40)
            await pilot.pause()
            panes = wide.query_one("#groups").display, wide.query_one("#details").display
            assert panes == (shown, shown), width
        await wide.action_quit()


async def test_drafts_are_kept_per_group_across_restarts(server, profiles):
    account, bob, _ = await _room(server, profiles)
    second = (await bob.conn.call(CreateGroup, name="Second", cid="g2")).group
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _join_ops(app, pilot)
        await app.client.join(second)
        await until(pilot, lambda: app.engine.status.outbox == 0)
        await pilot.press(*"half a thought")
        await app.action_quit()
    again = profiles.app(account)
    async with again.run_test(size=(120, 40)) as pilot:
        await back_to_last_group(pilot)
        assert again.view.group is not None and again.view.group.name == "Ops"
        assert again.composer.text == "half a thought"
        await burst(pilot, *" goes on")  # after the draft, not before it
        assert again.composer.text == "half a thought goes on"
        await burst(pilot, "ctrl+down", *"x", "ctrl+up", *"!")  # to Second and back
        await until(pilot, lambda: again.composer.text.endswith("!"))
        assert again.composer.text == "half a thought goes on!"
        await again.action_quit()
    await bob.close()


async def test_mentions_raise_an_alert_once_per_burst(server, profiles):
    account, bob, g = await _room(server, profiles)
    other = (await bob.conn.call(CreateGroup, name="Other", cid="g2")).group
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _join_ops(app, pilot)
        await app.client.join(other)
        await until(pilot, lambda: app.engine.status.outbox == 0)

        def mentions():
            return [n for n in app._notifications if "mentioned you" in n.title]

        await bob.conn.call(SendChat, group=other, text="@ana can you look at db3?", cid="m")
        for n in range(10):  # a burst in the same group: no more alerts
            await bob.conn.call(SendChat, group=other, text=f"@ana ping {n}", cid=f"p{n}")
        await until(pilot, lambda: len(mentions()) == 1)
        # In the group on screen, in a focused app: read already, no alert.
        await bob.conn.call(SendChat, group=g, text="[@click=app.quit]@ana[/]", cid="m2")
        await until(
            pilot, lambda: "[@click=app.quit]@ana[/]" in [r.text for r in app.timeline.rows]
        )
        await pilot.pause(0.2)
        [first] = mentions()
        assert "bob" in first.title and "db3" in first.message
        assert all(not n.markup for n in app._notifications)
        # Out of focus (the terminal in the background), it alerts.
        app.app_focus = False
        await bob.conn.call(SendChat, group=g, text="[@click=app.quit]@ana[/] again", cid="m3")
        await until(pilot, lambda: len(mentions()) == 2)
        assert mentions()[1].message == "[@click=app.quit]@ana[/] again"
        assert not mentions()[1].markup
        await app.action_quit()
    await bob.close()


async def test_a_mention_of_my_group_calls_me(server, profiles):
    """``@ops-team`` calls the members of "Ops team": an alert, and the
    timeline marks it as it marks ``@ana``."""
    account, bob, _ = await _room(server, profiles)
    team = (await bob.conn.call(CreateGroup, name="Ops team", cid="g2")).group
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _join_ops(app, pilot)
        await app.client.join(team)
        await until(pilot, lambda: app.engine.status.outbox == 0)
        await until(
            pilot,
            lambda: (
                app.timeline.mention is not None
                and app.timeline.mention.search("@OPS-TEAM") is not None
            ),
        )
        app.app_focus = False
        await bob.conn.call(SendChat, group=team, text="@ops-team the pager is yours", cid="m")
        await until(
            pilot,
            lambda: any(
                "mentioned you" in n.title and "pager" in n.message for n in app._notifications
            ),
        )
        assert app.timeline.mention.search("@ops-teamwork") is None
        await app.action_quit()
    await bob.close()


async def test_history_loads_older_pages_lazily(server, profiles):
    account, bob, g = await _room(server, profiles)
    await bob.conn.call(JoinGroup, group=g, cid="j")
    for n in range(450):
        await bob.conn.call(SendChat, group=g, text=f"line {n}", cid=f"l{n}")
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _join_ops(app, pilot)
        # The first screen: a page from the server, or (when the join's news
        # re-opened the view after pages were stored) what the cache shows first.
        await until(pilot, lambda: len(app.timeline.rows) >= 60)
        first = len(app.timeline.rows)
        assert first < 450 and app.timeline.rows[-1].text == "line 449"
        app.timeline.focus()
        for _ in range(6):
            await pilot.press("home")
            await until(pilot, lambda: not app.timeline.fetching)
        assert len(app.timeline.rows) == 450
        assert app.timeline.rows[0].text == "line 0"
        page = await bob.conn.call(History, group=g, kind="c", limit=1)
        assert page.events[0].text == "line 449"
        await app.action_quit()
    await bob.close()


async def test_no_color_is_honoured(server, profiles, monkeypatch):
    account = await profiles.join(server, "ana")
    monkeypatch.setenv("NO_COLOR", "1")
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color
        assert any(type(f).__name__ in ("Monochrome", "NoColor") for f in app._filters)
        await app.action_quit()


def _screen_segments(app: RseApp) -> list:
    """The segments the terminal gets for the whole screen (filters applied)."""
    update = app.screen._compositor.render_full_update()
    return [segment for line in update.strips for strip in line for segment in strip]


def _coloured(segments: list) -> set:
    def coloured(colour) -> bool:
        return colour is not None and not colour.is_default

    return {
        (s.text, str(s.style.color), str(s.style.bgcolor))
        for s in segments
        if s.style is not None and (coloured(s.style.color) or coloured(s.style.bgcolor))
    }


async def test_no_color_draws_in_the_terminals_own_colours(server, profiles, monkeypatch):
    """NO_COLOR: no colour at all. Not greys in place of colours (an author's
    name in 237 on a forced 234 background could not be read), no background
    forced (wrong on a light terminal); names bold, the highlighted line of a
    list underlined."""
    account, bob, _g = await _ops_with_history(server, profiles)
    monkeypatch.setenv("NO_COLOR", "1")
    app = profiles.app(account)
    async with app.run_test(size=(100, 30)) as pilot:
        await _join_ops(app, pilot)
        await until(pilot, lambda: len(app.timeline.rows) == 3)
        await pilot.pause()
        segments = _screen_segments(app)
        assert _coloured(segments) == set()
        names = [s for s in segments if s.text == "bob"]
        assert len(names) == 3 and all(s.style.bold for s in names)
        await pilot.press("ctrl+k", *"op", "down")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.pause(0.3)
        segments = _screen_segments(app)
        assert _coloured(segments) == set()
        assert any(s.style and s.style.underline and "Ops" in s.text for s in segments)
        await pilot.press("escape")
        await app.action_quit()
    await bob.close()


async def test_a_crash_exits_non_zero(server, profiles, capsys):
    account = await profiles.join(server, "ana")

    class Crashing(RseApp):
        async def on_mount(self) -> None:
            raise RuntimeError("a bug")

    code = await asyncio.to_thread(run_tui, account, app_class=Crashing, headless=True)
    assert code == 1
    assert "a bug" in capsys.readouterr().err


async def _ops_with_history(server, profiles):
    """ana's profile and bob, both in Ops, with three messages from bob."""
    account, bob, g = await _room(server, profiles)
    await bob.conn.call(JoinGroup, group=g, cid="j")
    for n in range(3):
        await bob.conn.call(SendChat, group=g, text=f"bob says {n}", cid=f"b{n}")
    return account, bob, g


async def _stored(bob, g) -> list[str]:
    page = await bob.conn.call(History, group=g, kind="c", limit=100)
    return [e.text for e in page.events]


async def test_typing_never_acts_on_a_message(server, profiles):
    """Letters are text wherever the focus is: at start, after Esc, after ctrl+k."""
    account, bob, g = await _ops_with_history(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await until(pilot, lambda: len(app.timeline.rows) == 3)
        await burst(pilot, *"hello world dp", "enter")
        await pilot.press("escape")  # to the message list, nothing selected
        assert app.focused is app.timeline and app.timeline.selected is None
        await burst(pilot, *"delete pin", "enter")
        app.composer.focus()
        await pilot.press("ctrl+k")  # from the composer: the palette, not "erase to end"
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press("escape")  # the palette closes: writing goes on
        await until(pilot, lambda: app.focused is app.composer)
        await burst(pilot, *"dd", "enter")
        app.groups.focus()
        await burst(pilot, *"jkgGd", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0)
        assert not isinstance(app.screen, ConfirmScreen)
        want = [f"bob says {n}" for n in range(3)] + ["hello world dp", "delete pin", "dd", "jkgGd"]
        assert await _stored(bob, g) == want
        await app.action_quit()
    await bob.close()


async def test_a_burst_of_keys_is_sent_in_order_exactly_once(server, profiles):
    account, bob, g = await _ops_with_history(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await burst(pilot, *"alpha", "enter", *"beta", "enter", *"gamma", "enter")
        await burst(pilot, *"burst1", "enter", *"burst2", "enter")
        await burst(pilot, "a", "ctrl+j", "b", "ctrl+j", "c", "enter", *"tail", "enter")
        await burst(pilot, *"helo", "backspace", *"lo", "left", "left", "delete", "enter")
        await burst(pilot, *("secretpart1-" * 8), "ctrl+u", *"ok", "enter")  # wraps at 80
        await until(pilot, lambda: app.engine.status.outbox == 0 and app.composer.text == "")
        mine = (await _stored(bob, g))[3:]
        want = ["alpha", "beta", "gamma", "burst1", "burst2", "a\nb\nc", "tail", "helo", "ok"]
        assert mine == want  # "helo" ⌫ "lo" ← ← ⌦: corrections land where they were typed
        await app.action_quit()
    await bob.close()


async def test_keys_typed_at_start_reach_the_composer(server, profiles):
    account, bob, _ = await _ops_with_history(server, profiles)
    first = profiles.app(account)
    async with first.run_test(size=(80, 24)) as pilot:
        await _join_ops(first, pilot)
        await first.action_quit()
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await burst(pilot, *"early bird")  # before anything has settled
        await until(pilot, lambda: app.composer.text == "early bird")
        assert app.focused is app.composer
        await app.action_quit()
    await bob.close()


async def test_acting_on_a_message_is_deliberate_and_no_is_the_default(server, profiles):
    account, bob, g = await _ops_with_history(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await app.client.send_chat(g, "mine to delete")
        await until(pilot, lambda: app.engine.status.outbox == 0)
        await until(pilot, lambda: len([r for r in app.timeline.rows if r.seq]) == 4)
        await burst(pilot, "alt+up", "d")  # the newest message: mine
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await burst(pilot, *"yes", "enter")  # nothing typed says yes
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert "mine to delete" in await _stored(bob, g)
        await burst(pilot, "alt+up", "d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("right", "enter")
        await until(pilot, lambda: "mine to delete" not in _texts(app))
        await until(pilot, lambda: app.engine.status.outbox == 0)
        assert "mine to delete" not in await _stored(bob, g)
        # Selected, then a letter that is not a command: it starts a message.
        await burst(pilot, "alt+up", *"xyz")
        assert app.focused is app.composer and app.composer.text == "xyz"
        assert app.timeline.selected is None
        app.composer.clear()
        # One selection, one action: after it, letters are text again.
        await burst(pilot, "alt+up", *"pdq", "enter")  # p: not a moderator here
        await until(pilot, lambda: "dq" in [r.text for r in app.timeline.rows])
        assert not isinstance(app.screen, ConfirmScreen)
        # The question is up before the next key: what is typed goes to it.
        await burst(pilot, "alt+up", "d", *"oops", "enter")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert app.composer.text == "" and "dq" in [r.text for r in app.timeline.rows]
        await app.action_quit()
    await bob.close()


async def test_a_long_group_opens_at_its_newest_message_and_follows(server, profiles):
    account, bob, g = await _room(server, profiles)
    await bob.conn.call(JoinGroup, group=g, cid="j")
    for n in range(80):
        await bob.conn.call(SendChat, group=g, text=f"line {n}", cid=f"l{n}")
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await until(pilot, lambda: "line 79" in app.timeline.visible_text())
        assert not app.timeline.show_horizontal_scrollbar  # one scrollbar, never two
        assert "2 members" in str(app.part(Title).render())
        await bob.conn.call(SendChat, group=g, text="new one", cid="n1")
        await until(pilot, lambda: "new one" in app.timeline.visible_text())
        assert "─ new ─" not in app.timeline.visible_text()  # read as it arrived
        await burst(pilot, *"my own", "enter")
        await until(pilot, lambda: "my own" in app.timeline.visible_text())
        await app.action_quit()
    # Opened again from the cache: at the newest message too.
    again = profiles.app(account)
    async with again.run_test(size=(80, 24)) as pilot:
        await back_to_last_group(pilot)
        await until(pilot, lambda: "my own" in again.timeline.visible_text())
        await again.action_quit()
    await bob.close()


async def test_scrolled_up_the_view_stays_and_counts_what_arrives(server, profiles):
    account, bob, g = await _room(server, profiles)
    await bob.conn.call(JoinGroup, group=g, cid="j")
    for n in range(60):
        await bob.conn.call(SendChat, group=g, text=f"line {n}", cid=f"l{n}")
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await until(pilot, lambda: "line 59" in app.timeline.visible_text())
        await pilot.press("pageup")  # from the composer: the messages scroll
        top = app.timeline.scroll_offset.y
        for n in range(2):
            await bob.conn.call(SendChat, group=g, text=f"late {n}", cid=f"z{n}")
        await until(pilot, lambda: "2 new ↓" in app.timeline.visible_text())
        assert app.timeline.scroll_offset.y == top and app.focused is app.composer
        await pilot.press("pagedown", "pagedown")
        await until(pilot, lambda: "late 1" in app.timeline.visible_text())
        assert "new ↓" not in app.timeline.visible_text()
        await app.action_quit()
    await bob.close()


async def test_a_group_opens_at_the_first_unread_under_a_new_line(server, profiles):
    account, bob, g = await _room(server, profiles)
    await bob.conn.call(JoinGroup, group=g, cid="j")
    await bob.conn.call(SendChat, group=g, text="read before", cid="r")
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await until(pilot, lambda: "read before" in app.timeline.visible_text())
        await app.action_quit()
    for n in range(40):  # more than a screen while ana is away
        await bob.conn.call(SendChat, group=g, text=f"while away {n}", cid=f"w{n}")
    again = profiles.app(account)
    async with again.run_test(size=(80, 24)) as pilot:
        # Caught up as the app opens: the view stops at the first unread.
        await back_to_last_group(pilot)
        await until(pilot, lambda: any(r.text == "while away 39" for r in again.timeline.rows))
        await pilot.pause()
        text = again.timeline.visible_text()
        assert "─ new ─" in text.splitlines()[0] and "while away 0" in text
        assert "while away 39" not in text and "new ↓" in text
        await again.action_quit()
    for n in range(40, 80):
        await bob.conn.call(SendChat, group=g, text=f"while away {n}", cid=f"w{n}")
    # Already in the cache when the group opens: the same.
    cache = account.open_cache()
    cache.apply((await bob.conn.call(History, group=g, kind="c", limit=100)).events)
    cache.close()
    again = profiles.app(account)
    async with again.run_test(size=(80, 24)) as pilot:
        await back_to_last_group(pilot)
        await until(pilot, lambda: any(r.text == "while away 79" for r in again.timeline.rows))
        text = again.timeline.visible_text()
        assert "─ new ─" in text.splitlines()[0] and "while away 40" in text
        assert "while away 79" not in text and "new ↓" in text  # how many wait below
        await again.action_quit()
    await bob.close()


async def test_empty_group_says_so_and_deleted_messages_leave_a_placeholder(server, profiles):
    account, bob, _ = await _room(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await until(pilot, lambda: "No messages yet" in app.timeline.visible_text())
        await burst(pilot, *"oops", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0)
        await until(pilot, lambda: app.timeline.rows and app.timeline.rows[-1].seq)
        assert "start of the history" in app.timeline.visible_text()
        await burst(pilot, "alt+up", "d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("right", "enter")
        await until(pilot, lambda: "ana: message deleted" in app.timeline.visible_text())
        assert "oops" not in app.timeline.visible_text()
        await app.client.create_group("Solo")
        await until(pilot, lambda: any(r.name == "Solo" for r in app.groups.rows))
        await app.open_group(next(r for r in app.groups.rows if r.name == "Solo"))
        assert str(app.part(Title).render()).endswith("1 member  · moderator")
        await app.action_quit()
    await bob.close()


async def test_hotlist_shows_unread_groups_mentions_and_direct_messages(server, profiles):
    account, bob, g = await _room(server, profiles)
    await bob.conn.call(JoinGroup, group=g, cid="j")
    other = (await bob.conn.call(CreateGroup, name="Incidents", cid="g2")).group
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await app.client.join(other)
        await until(pilot, lambda: app.engine.status.outbox == 0)
        await app.open_group(next(r for r in app.groups.rows if r.name == "Ops"))
        bar = app.query_one(StatusBar)
        await bob.conn.call(SendChat, group=other, text="db3 is down", cid="i1")
        await until(pilot, lambda: "Act: #Incidents 1" in bar.text)
        await bob.conn.call(SendChat, group=other, text="@ANA can you look", cid="i2")
        await until(pilot, lambda: "#Incidents 2!" in bar.text)
        await bob.conn.call(SendDirect, user=account.settings.user, text="psst", cid="d1")
        await until(pilot, lambda: "@bob 1!" in bar.text)
        titles = [n.title for n in app._notifications]
        assert "@bob wrote to you" in titles and "@bob mentioned you" in titles
        await pilot.press("alt+a")  # one with a mention
        await until(pilot, lambda: app.view.group is not None and app.view.group.unread == 0)
        first = app.view.group.name
        await pilot.press("alt+a")
        await until(pilot, lambda: app.view.group is not None and app.view.group.name != first)
        assert {first, app.view.group.name} == {"bob", "Incidents"}
        await until(pilot, lambda: "Act:" not in bar.text)
        await app.action_quit()
    await bob.close()


async def test_slash_commands(server, profiles):
    account, bob, g = await _ops_with_history(server, profiles)
    incident = (await bob.conn.call(CreateGroup, name="Incident", cid="g2")).group
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await burst(pilot, *"/join nosuch", "enter")  # refused: the line stays
        await until(pilot, lambda: app.composer.text == "/join nosuch")
        app.composer.clear()
        await burst(pilot, *"/jion ops", "enter")  # a typo is not posted
        await until(
            pilot, lambda: any("unknown command /jion" in n.message for n in app._notifications)
        )
        assert app.composer.text == "/jion ops"
        app.composer.clear()
        await burst(pilot, *"/etc/hosts is full", "enter", *"//join is a command", "enter")
        await burst(pilot, *"/me rolls back db3", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0)
        await until(pilot, lambda: "* ana rolls back db3" in app.timeline.visible_text())
        assert (await _stored(bob, g))[3:] == [
            "/etc/hosts is full",
            "/join is a command",
            "/me rolls back db3",
        ]
        await burst(pilot, *"/join incident", "enter")
        await until(pilot, lambda: app.view.group is not None and app.view.group.group == incident)
        await until(pilot, lambda: app.view.group.member)
        await burst(pilot, *"/dm bob are you there?", "enter")
        await until(pilot, lambda: app.view.group is not None and app.view.group.dm == bob.user)
        await until(pilot, lambda: app.engine.status.outbox == 0)
        assert await _stored(bob, app.view.group.group) == ["are you there?"]
        assert "direct chat" in str(app.part(Details).render())
        await app.open_group(next(r for r in app.groups.rows if r.group == incident))
        await burst(pilot, *"/leave", "enter")
        await until(pilot, lambda: app.view.group is not None and not app.view.group.member)
        assert "not a member" in str(app.part(Details).render())  # the pane follows
        await burst(pilot, *"not a member", "enter")  # refused, kept
        await until(pilot, lambda: app.composer.text == "not a member")
        assert any("/join to write here" in n.message for n in app._notifications)
        app.composer.clear()
        await burst(pilot, *"/quit", "enter")
        await until(pilot, lambda: not app.is_running)
    await bob.close()


async def test_edit_the_last_message_and_reply_to_one(server, profiles):
    account, bob, g = await _ops_with_history(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await burst(pilot, *"restart db2", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0)
        # Up in the empty composer: the last message of mine, to change.
        await burst(pilot, "up", "backspace", "3", "enter")
        await until(pilot, lambda: "restart db3 (edited)" in app.timeline.visible_text())
        await until(pilot, lambda: app.engine.status.outbox == 0)
        assert (await _stored(bob, g))[-1] == "restart db3"
        # Esc leaves an edit without sending it (keys as a person types them).
        await pilot.press("up", *" nope", "escape")
        assert app.composer.text == "" and app.composer.mode is None
        # A reply to bob's first message, quoted above it.
        await burst(pilot, "alt+up", "up", "up", "r", *"on it", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0)
        await until(pilot, lambda: "↳ bob: bob says 1" in app.timeline.visible_text())
        page = await bob.conn.call(History, group=g, kind="c", limit=100)
        asked = next(e.seq for e in page.events if e.text == "bob says 1")
        assert (page.events[-1].text, page.events[-1].reply) == ("on it", asked)
        # In one burst: a message, then a reply to the one before it (alt+↑ is
        # on the message just sent, ↑ one further). The reply mode starts after
        # the message's Enter, in typing order.
        await burst(pilot, *"plain", "enter", "alt+up", "up", "r", *"re 2", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0)
        await until(pilot, lambda: "re 2" in [r.text for r in app.timeline.rows if r.seq])
        page = await bob.conn.call(History, group=g, kind="c", limit=100)
        by_text = {e.text: e.reply for e in page.events}
        assert by_text["plain"] is None
        assert by_text["re 2"] == next(e.seq for e in page.events if e.text == "on it")
        # Someone else's message cannot be edited.
        await burst(pilot, "alt+up", *["up"] * 4, "e")  # bob says 2
        assert any("your own messages" in n.message for n in app._notifications)
        await app.action_quit()
    await bob.close()


async def test_resizing_under_a_dialog_folds_the_main_screen(server, profiles):
    account = await profiles.join(server, "ana")
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        await pilot.press("escape")
        await until(pilot, lambda: app.query_one("#groups").display)
        await pilot.press("f1")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.press("escape")
        await until(pilot, lambda: not app.query_one("#groups").display)
        await app.action_quit()


async def test_a_refused_message_comes_back_to_the_composer(tmp_path, profiles):
    srv = RseServer(config(tmp_path / "small.db", max_chat_chars=20))
    await srv.start()
    try:
        account, bob, _ = await _ops_with_history(srv, profiles)
        app = profiles.app(account)
        async with app.run_test(size=(80, 24)) as pilot:
            await _join_ops(app, pilot)
            # Over the default limit: refused at once, still in the composer.
            app.composer.text = "x" * 4001
            await burst(pilot, "enter")
            assert app.composer.text == "x" * 4001 and app.engine.status.outbox == 0
            assert any("too long" in n.message for n in app._notifications)
            app.composer.clear()
            # Over this server's limit: the server refuses it; select it, and
            # any action brings the text back, out of the outbox.
            await burst(pilot, *"this is longer than twenty", "enter", *"short", "enter")
            await until(pilot, lambda: any(r.error for r in app.timeline.rows))
            await until(pilot, lambda: "short" in [r.text for r in app.timeline.rows if r.seq])
            await burst(pilot, *"a draft", "alt+up")
            await until(pilot, lambda: app.timeline.selected_failed is not None)
            await burst(pilot, "d")  # the composer is not empty: nothing moves, nothing lost
            await until(
                pilot, lambda: any("composer first" in n.message for n in app._notifications)
            )
            assert app.composer.text == "a draft" and any(r.error for r in app.timeline.rows)
            app.composer.clear()
            await burst(pilot, "alt+up")
            await until(pilot, lambda: app.timeline.selected_failed is not None)
            await burst(pilot, "d")
            await until(pilot, lambda: app.composer.text == "this is longer than twenty")
            assert not any(r.error for r in app.timeline.rows)
            assert await app.engine.worker(app.engine.cache.outbox_count) == 0
            await app.action_quit()
        await bob.close()
    finally:
        await srv.stop()


async def test_lines_typed_right_after_join_follow_it_and_refused_ones_all_come_back(
    server, profiles
):
    """Reported: '/join has space⏎m1⏎m2⏎m3⏎' in one burst left m1 in the composer
    and lost m2 and m3 (the join was not applied yet, so each line was refused,
    and each refusal put its text back only into an empty composer). Lines
    written after a join in the outbox now go out after it, in order; a burst
    that really is refused comes back whole, in order."""
    account, bob, _ = await _ops_with_history(server, profiles)
    space = (await bob.conn.call(CreateGroup, name="has space", cid="hs")).group
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await burst(pilot, *"/join has space", "enter", *"m1", "enter", *"m2", "enter")
        await burst(pilot, *"m3", "enter", *"/leave", "enter", *"after", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0)
        assert await _stored(bob, space) == ["m1", "m2", "m3"]
        await until(pilot, lambda: app.composer.text == "after")
        app.composer.clear()
        await burst(pilot, *"a1", "enter", *"a2", "enter", *"a3", "enter", *"typing")
        await until(pilot, lambda: app.composer.text == "a1\na2\na3\ntyping")
        assert await _stored(bob, space) == ["m1", "m2", "m3"]
    await bob.close()


async def test_up_never_edits_past_a_message_still_waiting(profiles, tmp_path):
    """Reported: offline, 'pending⏎' then ↑ edited the last *delivered* message,
    so the edit changed the wrong one. ↑ edits the waiting message itself: it
    has not left, so it leaves with the new text."""
    cfg = config(tmp_path / "up.db")
    srv = RseServer(cfg)
    await srv.start()
    link = await LinkProxy(srv.port).start()
    account = await profiles.join(srv, "ana", url=link.url)
    bob = await new_user(srv, "bob")
    await bob.conn.call(CreateGroup, name="Ops", cid="g")
    try:
        app = profiles.app(account)
        async with app.run_test(size=(80, 24)) as pilot:
            await _join_ops(app, pilot)
            await burst(pilot, *"delivered", "enter")
            await until(pilot, lambda: app.engine.status.outbox == 0)
            await link.stop()
            await srv.stop()
            await burst(pilot, *"pending", "enter", "up")
            await until(pilot, lambda: app.composer.mode is not None)
            assert app.composer.mode.row.seq is None and app.composer.text == "pending"
            await burst(pilot, *" X", "enter")
            await until(pilot, lambda: any(r.text == "pending X" for r in app.timeline.rows))
            queued = await app.client.outbox()
            assert [i.text for i in queued] == ["pending X"]
            assert [r.text for r in app.timeline.rows if r.seq][-1] == "delivered"
            await app.action_quit()
    finally:
        await bob.close()


async def test_removed_from_a_secret_group_it_leaves_the_screen_and_the_cache(server, profiles):
    """Reported: removed from a secret group, the app kept showing it and what
    was said there, even after a restart."""
    from rse_tui.protocol import AddMember, RemoveMember, SendChat

    account = await profiles.join(server, "ana")
    boss = await new_user(server, "boss")
    db = sqlite3.connect(server.config.db_path)
    ana = db.execute("SELECT id FROM users WHERE name = 'ana'").fetchone()[0]
    db.close()
    lobby = (await boss.conn.call(CreateGroup, name="Lobby", cid="l")).group
    secret = await boss.conn.call(CreateGroup, name="BlackOps", visibility="secret", cid="s")
    await boss.conn.call(AddMember, group=lobby, user=ana, cid="a1")
    await boss.conn.call(AddMember, group=secret.group, user=ana, cid="a2")
    await boss.conn.call(SendChat, group=secret.group, text="classified plan", cid="m")
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: any(r.name == "BlackOps" for r in app.groups.rows))
        row = next(r for r in app.groups.rows if r.name == "BlackOps")
        await app.open_group(row)
        await until(pilot, lambda: "classified plan" in app.timeline.visible_text())
        await boss.conn.call(RemoveMember, group=secret.group, user=ana, cid="rm")
        await until(pilot, lambda: not any(r.name == "BlackOps" for r in app.groups.rows))
        await until(pilot, lambda: "classified plan" not in app.timeline.visible_text())
        assert app.view.group is None or app.view.group.group != secret.group
        cache = sqlite3.connect(account.profile.cache_path)
        cached = cache.execute(
            "SELECT count(*) FROM messages WHERE grp = ?", (secret.group,)
        ).fetchone()[0]
        cache.close()
        assert cached == 0
        await app.action_quit()
    await boss.close()


async def test_editing_never_replaces_what_is_being_written(server, profiles):
    """`e` on a message of mine with a draft in the composer used to replace the
    draft with the message's text (the draft was lost)."""
    account, bob, _ = await _ops_with_history(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await burst(pilot, *"mine", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0)
        await until(pilot, lambda: any(r.text == "mine" and r.seq for r in app.timeline.rows))
        await burst(pilot, *"a long draft")
        await burst(pilot, "alt+up")
        await until(pilot, lambda: app.timeline.selected_row is not None)
        await burst(pilot, "e")
        await until(
            pilot, lambda: any("the edit would replace" in n.message for n in app._notifications)
        )
        assert app.composer.text == "a long draft" and app.composer.mode is None
        await app.action_quit()
    await bob.close()
