"""Bursts of keys around dialogs: keys typed after the key that opens one wait
for it and go to it, in order; keys typed after the one that answers it go to
the composer; a dialog answers once. And an edit's text never becomes a draft.
"""

from __future__ import annotations

from textual.command import CommandPalette
from textual.widgets import Button, Input, OptionList

from rse_tui.protocol import CreateGroup, History, RequestJoin, SendPost, Sync
from rse_tui.sync.models import Link
from rse_tui.ui.screens.charter import ConfirmScreen
from rse_tui.ui.screens.help import HelpScreen
from rse_tui.ui.screens.people import DirectoryScreen, RequestsScreen
from rse_tui.ui.screens.settings import SettingsScreen

from ..helpers import new_user
from .conftest import back_to_last_group, burst, in_group, until

GROUPS = ("General", "Engineering", "Incidents")


async def _network(server, profiles):
    """ana's profile, and bob, who made General, Engineering and Incidents."""
    account = await profiles.join(server, "ana")
    bob = await new_user(server, "bob")
    groups = {}
    for name in GROUPS:
        groups[name] = (await bob.conn.call(CreateGroup, name=name, cid=name)).group
    await bob.conn.call(Sync, since=0)
    return account, bob, groups


async def _in_all(app, pilot, groups, start: str = "Incidents") -> None:
    """ana joins the three groups and opens ``start``."""
    await until(pilot, lambda: app.engine.status.link is Link.ONLINE)
    await until(pilot, lambda: {r.group for r in app.groups.rows} >= set(groups.values()))
    for g in groups.values():
        await app.client.join(g)
    await until(
        pilot,
        lambda: (
            all(r.member for r in app.groups.rows if r.group in groups.values())
            and app.engine.status.outbox == 0
        ),
    )
    await app.open_group(next(r for r in app.groups.rows if r.group == groups[start]))
    app.action_to_composer()
    await pilot.pause()


async def _stored(bob, g) -> list[str]:
    page = await bob.conn.call(History, group=g, kind="c", limit=100)
    return [e.text for e in page.events]


def _open(app) -> str | None:
    return app.view.group.name if app.view.group is not None else None


async def test_keys_after_ctrl_k_go_to_the_switcher_then_to_the_group_switched_to(server, profiles):
    account, bob, groups = await _network(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _in_all(app, pilot, groups)
        keys = ("ctrl+k", *"General", "enter", *"qs-1", "enter", *"qs-2", "enter")
        await burst(pilot, *keys)
        await until(pilot, lambda: _open(app) == "General" and app.engine.status.outbox == 0)
        await until(pilot, lambda: "qs-2" in [r.text for r in app.timeline.rows if r.seq])
        assert await _stored(bob, groups["General"]) == ["qs-1", "qs-2"]
        assert await _stored(bob, groups["Incidents"]) == []
        assert not isinstance(app.screen, CommandPalette) and app.composer.text == ""
        # Twice in a row, and with the switcher opened from another pane.
        app.groups.focus()
        await burst(pilot, "ctrl+k", *"Engi", "enter", *"in eng", "enter")
        await burst(pilot, "ctrl+k", *"Incid", "enter", *"in inc", "enter")
        await until(pilot, lambda: _open(app) == "Incidents" and app.engine.status.outbox == 0)
        assert await _stored(bob, groups["Engineering"]) == ["in eng"]
        assert await _stored(bob, groups["Incidents"]) == ["in inc"]
        # Esc closes it: what follows is a message to the open group.
        await burst(pilot, "ctrl+k", *"Gen", "escape", *"stay", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0 and app.composer.text == "")
        assert (await _stored(bob, groups["Incidents"]))[-1] == "stay"
        await app.action_quit()
    await bob.close()


async def test_a_second_enter_in_the_switcher_does_not_crash(server, profiles):
    account, bob, groups = await _network(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _in_all(app, pilot, groups)
        await pilot.press("ctrl+k")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Engineering")
        await until(pilot, lambda: app.screen.query_one(OptionList).option_count > 0)
        await burst(pilot, "enter", "enter")
        await until(pilot, lambda: _open(app) == "Engineering")
        await pilot.pause(0.2)
        assert app.is_running and app.screen is app.screen_stack[0]
        assert app.composer.text == "" and app.engine.status.outbox == 0
        # Typed faster than it searches: the Enter takes what was typed before it.
        await burst(pilot, "ctrl+k", *"General", "enter", "enter", *"next", "enter")
        await until(pilot, lambda: _open(app) == "General" and app.engine.status.outbox == 0)
        assert await _stored(bob, groups["General"]) == ["next"]
        await app.action_quit()
    await bob.close()


async def test_directory_enter_twice_and_keys_behind_it(server, profiles):
    account, bob, groups = await _network(server, profiles)
    eve = await new_user(server, "eve")
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _in_all(app, pilot, groups)
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, DirectoryScreen))
        await pilot.press(*"eve")
        await until(pilot, lambda: [e.name for e in app.screen.entries] == ["eve"])
        await burst(pilot, "enter", "enter")
        await until(pilot, lambda: app.view.new_direct is not None)
        await pilot.pause(0.2)
        assert app.is_running and app.screen is app.screen_stack[0]
        # In one burst: F2, the name, Enter, and the message.
        await app.open_group(next(r for r in app.groups.rows if r.name == "General"))
        await burst(pilot, "f2", *"eve", "enter", *"hello eve", "enter")
        await until(pilot, lambda: app.view.group is not None and app.view.group.dm == eve.user)
        await until(pilot, lambda: app.engine.status.outbox == 0)
        assert await _stored(eve, app.view.group.group) == ["hello eve"]
        assert await _stored(bob, groups["General"]) == []
        # ↓ to the results, then Enter on the one highlighted.
        await burst(pilot, "f2", *"bob", "down", "enter", *"hello bob", "enter")
        await until(pilot, lambda: app.view.group is not None and app.view.group.dm == bob.user)
        await until(pilot, lambda: app.engine.status.outbox == 0)
        assert await _stored(bob, app.view.group.group) == ["hello bob"]
        # Nobody matches: the keys typed after Enter stay in the search box, in
        # view (found by a new user: they went to an empty list, and were lost).
        await burst(pilot, "f2", *"zzz", "enter", *" lost?", "enter")
        await until(pilot, lambda: isinstance(app.screen, DirectoryScreen))
        await until(pilot, lambda: app.screen.query_one(Input).value == "zzz lost?")
        assert isinstance(app.screen.focused, Input)
        await pilot.press("escape")
        await app.action_quit()
    await bob.close()
    await eve.close()


async def test_help_takes_the_keys_typed_after_f1(server, profiles):
    account, bob, groups = await _network(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _in_all(app, pilot, groups)
        # q closes the help: the keys after it are a message again.
        await burst(pilot, "f1", "q", *"after help", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0 and app.composer.text == "")
        await burst(pilot, "f1", "escape", "escape", *"twice", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0 and app.composer.text == "")
        assert await _stored(bob, groups["Incidents"]) == ["after help", "twice"]
        assert app.screen is app.screen_stack[0] and app.is_running
        await app.action_quit()
    await bob.close()


async def test_delete_question_answers_once(server, profiles):
    account, bob, groups = await _network(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _in_all(app, pilot, groups)
        await burst(pilot, *"keep me", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0 and app.timeline.rows)
        await until(pilot, lambda: app.timeline.rows[-1].seq is not None)
        await burst(pilot, "alt+up", "d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause()
        await burst(pilot, "enter", "enter")  # Cancel, then an Enter in the empty composer
        await pilot.pause(0.2)
        assert app.is_running and app.screen is app.screen_stack[0]
        # Right then Enter in one burst is Delete: the Enter goes where Right moved to.
        await burst(pilot, "alt+up", "d", "right", "enter", *"after", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0 and app.composer.text == "")
        assert await _stored(bob, groups["Incidents"]) == ["after"]
        await app.action_quit()
    await bob.close()


async def test_settings_and_requests_answer_once(server, profiles):
    account = await profiles.join(server, "ana")
    bob = await new_user(server, "bob")
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.engine.status.link is Link.ONLINE)
        await app.client.create_group("Ops", visibility="private")
        await in_group(pilot, "Ops")
        await until(pilot, lambda: app.view.group is not None and app.view.group.moderator)
        g = app.view.group.group
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        await pilot.pause()
        app.screen.query_one("#description", Input).value = "on call"
        app.screen.query_one("#save", Button).focus()
        await pilot.pause()
        await burst(pilot, "enter", "enter")
        await until(pilot, lambda: app.view.group.description == "on call")
        assert app.is_running and app.screen is app.screen_stack[0]
        # F4, Tab to the description (Tab selects a field's text: typing
        # replaces it), a new one, Tab to Save, Enter: all in one go.
        await burst(pilot, "f4", *["tab"] * 5, *"pager", "tab", "enter", *"after", "enter")
        await until(pilot, lambda: app.view.group.description == "pager")
        await until(pilot, lambda: app.engine.status.outbox == 0 and app.composer.text == "")
        await bob.conn.call(RequestJoin, group=g, cid="rq")
        await until(pilot, lambda: app.view.group.pending == 1)
        await burst(pilot, "f3", "enter", "escape", "escape", *"welcome", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0 and app.composer.text == "")
        await until(pilot, lambda: app.view.group.pending == 0)
        assert await _stored(bob, g) == ["after", "welcome"]
        assert app.is_running and app.screen is app.screen_stack[0]
        await app.action_quit()
    await bob.close()


async def test_every_dialog_answers_once(server, profiles):
    """Two answers reaching a dialog (a double click, two Enters) close it once."""
    from rse_tui.ui.screens.charter import CharterScreen

    account = await profiles.join(server, "ana")
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.engine.status.link is Link.ONLINE)
        await app.client.create_group("Ops")
        await in_group(pilot, "Ops")
        await until(pilot, lambda: app.view.group is not None and app.view.group.moderator)

        async def no_search(query, badge):
            return []

        dialogs = [
            ConfirmScreen("Delete?"),
            HelpScreen(),
            DirectoryScreen(no_search, {}),
            RequestsScreen("Ops", [], {}),
            SettingsScreen(app.view.group),
            CharterScreen(1, "# Charter"),
        ]
        for dialog in dialogs:
            answers = []
            app.push_screen(dialog, answers.append)
            await until(pilot, lambda: app.screen is dialog)  # noqa: B023
            await pilot.pause()
            dialog.dismiss(None)
            dialog.dismiss(None)
            await pilot.pause()
            assert app.screen is app.screen_stack[0] and len(app.screen_stack) == 1, dialog
            assert answers == [None], dialog
        await app.action_quit()


async def test_esc_cancels_an_edit_and_its_text_is_never_a_draft(server, profiles):
    account, bob, groups = await _network(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _in_all(app, pilot, groups)
        await burst(pilot, *"restart db2", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0 and app.composer.text == "")
        await until(pilot, lambda: app.timeline.rows and app.timeline.rows[-1].seq is not None)
        # Up, a pause (the draft is saved half a second after a change), Esc,
        # then the feed tab before the next save.
        await burst(pilot, "up")
        await pilot.pause(0.7)
        assert app.composer.text == "restart db2" and app.composer.mode is not None
        await burst(pilot, "escape")
        await pilot.pause(0.3)
        await burst(pilot, "ctrl+t")
        await pilot.pause(0.8)
        assert app.view.kind == "p" and app.composer.text == ""
        await burst(pilot, "ctrl+t")
        await pilot.pause(0.8)
        assert app.composer.text == ""
        # Switching group or tab in the middle of an edit cancels it.
        await burst(pilot, "up")
        await pilot.pause(0.7)
        await burst(pilot, "ctrl+down")
        await pilot.pause(0.7)
        await burst(pilot, "ctrl+up")
        await pilot.pause(0.3)
        assert _open(app) == "Incidents"
        assert app.composer.text == "" and app.composer.mode is None
        await burst(pilot, "up", "ctrl+t")
        await pilot.pause(0.7)
        assert app.composer.text == "" and app.composer.mode is None
        await burst(pilot, "ctrl+t", "up")  # quitting in the middle of an edit
        await pilot.pause(0.7)
        assert app.composer.mode is not None
        await app.action_quit()
    again = profiles.app(account)
    async with again.run_test(size=(80, 24)) as pilot:
        await back_to_last_group(pilot)
        await until(pilot, lambda: _open(again) == "Incidents")
        await pilot.pause(0.3)
        assert again.composer.text == ""
        await burst(pilot, "enter")
        await until(pilot, lambda: again.engine.status.link is Link.ONLINE)
        await pilot.pause(0.3)
        assert again.engine.status.outbox == 0
        assert await _stored(bob, groups["Incidents"]) == ["restart db2"]
        await again.action_quit()
    await bob.close()


async def test_switching_tab_keeps_what_was_just_typed(server, profiles):
    account, bob, groups = await _network(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _in_all(app, pilot, groups)
        await burst(pilot, *"half a thought", "ctrl+t")  # before the draft is saved
        await until(pilot, lambda: app.view.kind == "p")
        await pilot.pause(0.2)
        assert app.composer.text == "half a thought"
        await burst(pilot, "ctrl+t", *" more")
        await until(pilot, lambda: app.view.kind == "c")
        await pilot.pause(0.2)
        assert app.composer.text == "half a thought more"
        await app.action_quit()
    await bob.close()


async def test_lines_typed_just_before_ctrl_q_are_sent(server, profiles):
    """Found by a new user: "v1" Enter ctrl+q in one burst quit before the
    line reached the outbox, and it was lost without a trace."""
    account, bob, groups = await _network(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _in_all(app, pilot, groups)
        await burst(pilot, *"v1", "enter", *"v2", "enter", "ctrl+q")
        for _ in range(100):
            if not app.is_running:
                break
            await pilot.pause(0.02)
    cache = account.open_cache()
    queued = [i.text for i in cache.outbox()]
    cache.close()
    stored = await _stored(bob, groups["Incidents"])
    assert [t for t in ("v1", "v2") if t in queued or t in stored] == ["v1", "v2"]
    await bob.close()


async def test_typing_on_home_writes_to_the_last_group_in_order(server, profiles):
    """Home lists posts and takes no message: a burst typed there (or a paste)
    opens the group the user was last in and goes there, every key in order."""
    account, bob, groups = await _network(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _in_all(app, pilot, groups)
        await app.action_home()
        await until(pilot, lambda: app.view.home)
        await burst(pilot, *"alpha", "enter", *"beta", "enter", *"gamma", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0)
        assert (await _stored(bob, groups["Incidents"]))[-3:] == ["alpha", "beta", "gamma"]
        assert not app.view.home and _open(app) == "Incidents"
        await app.action_quit()
    await bob.close()


async def _stored_posts(bob, g) -> list[str]:
    page = await bob.conn.call(History, group=g, kind="p", limit=100)
    return [e.text for e in page.events]


async def test_a_group_switched_to_opens_on_its_chat(server, profiles):
    """Found by a new user: left on Engineering's feed, "ctrl+k General⏎
    hello⏎" posted hello to General's feed, for everyone, as a post. Another
    group opens on its chat; the feed is one ctrl+t away. Typing on Home goes
    to the last group's chat too."""
    account, bob, groups = await _network(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _in_all(app, pilot, groups, start="Engineering")
        await burst(pilot, "ctrl+t")
        await until(pilot, lambda: app.view.kind == "p")
        await burst(pilot, "ctrl+k", *"General", "enter", *"hello", "enter")
        await until(pilot, lambda: _open(app) == "General" and app.engine.status.outbox == 0)
        await until(pilot, lambda: "hello" in [r.text for r in app.timeline.rows if r.seq])
        assert await _stored(bob, groups["General"]) == ["hello"]
        assert await _stored_posts(bob, groups["General"]) == []
        # The same group's feed stays where the user put it...
        await burst(pilot, "ctrl+t")
        await until(pilot, lambda: app.view.kind == "p")
        # ... and typing on Home writes chat to it.
        await burst(pilot, "alt+h")
        await until(pilot, lambda: app.view.home)
        await burst(pilot, *"from home", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0 and not app.view.home)
        await until(pilot, lambda: "from home" in [r.text for r in app.timeline.rows if r.seq])
        assert await _stored(bob, groups["General"]) == ["hello", "from home"]
        assert await _stored_posts(bob, groups["General"]) == []
        # A post begun in a feed comes back as a post, in the feed (found by a
        # new user: it came back in the chat's composer, Enter sending it as a
        # message), here and after a restart.
        await burst(pilot, "ctrl+t")
        await until(pilot, lambda: app.view.kind == "p")
        await burst(pilot, *"half a post", "ctrl+k", *"Incidents", "enter")
        await until(pilot, lambda: _open(app) == "Incidents" and app.view.kind == "c")
        await burst(pilot, "ctrl+k", *"General", "enter")
        await until(pilot, lambda: _open(app) == "General")
        assert app.view.kind == "p" and app.composer.text == "half a post"
        await app.action_quit()
    again = profiles.app(account)
    async with again.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: again.view.home)
        await burst(pilot, "ctrl+k", *"General", "enter")
        await until(pilot, lambda: _open(again) == "General")
        assert again.view.kind == "p" and again.composer.text == "half a post"
        await again.action_quit()
    await bob.close()


async def test_keys_after_a_key_that_moves_the_focus_go_where_it_leaves_it(server, profiles):
    """Found by a new user: "alt+h ↓" typed in a group left ↓ in its composer
    (Home's cursor stayed on the first post); "ctrl+↓ hi⏎" from the message
    list must write hi in the next group. Each such key acts once, and the
    keys after it wait for it."""
    account, bob, groups = await _network(server, profiles)
    for n in range(3):
        await bob.conn.call(
            SendPost, group=groups["General"], text=f"post {n}", title=f"P{n}", cid=f"p{n}"
        )
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _in_all(app, pilot, groups)
        await burst(pilot, "alt+h", "down")
        await until(pilot, lambda: app.view.home and app.portal.has_focus)
        await until(pilot, lambda: "P0" in app.portal.visible_text())
        await pilot.pause(0.2)
        selected = app.portal.selected_post
        assert selected is not None and selected.text == "post 1", selected  # newest first
        assert app.composer.text == ""
        # From the message list of a group: the next group gets the line.
        await back_to_last_group(pilot)
        here = _open(app)
        app.timeline.focus()
        await pilot.pause()
        await burst(pilot, "ctrl+down", *"hi", "enter")
        await until(pilot, lambda: _open(app) != here and app.engine.status.outbox == 0)
        await until(pilot, lambda: "hi" in [r.text for r in app.timeline.rows if r.seq])
        assert await _stored(bob, groups[_open(app)]) == ["hi"]
        assert "hi" not in await _stored(bob, groups[here])
        await app.action_quit()
    await bob.close()
