"""Governance in the app: the tree, settings, join requests, directory and DMs, charter."""

from __future__ import annotations

import sqlite3

from textual.widgets import Button, Input, OptionList, Select

from rse_tui.protocol import (
    ChatEvent,
    CreateGroup,
    History,
    JoinGroup,
    ListGroups,
    Members,
    RequestJoin,
    SendChat,
    Sync,
)
from rse_tui.sync.models import Link
from rse_tui.ui.screens.charter import CharterScreen, ConfirmScreen
from rse_tui.ui.screens.people import DirectoryScreen, RequestsScreen
from rse_tui.ui.screens.settings import SettingsScreen
from server import storage

from ..helpers import new_user
from .conftest import back_to_last_group, burst, in_group, until


async def _online(app, pilot) -> None:
    await until(pilot, lambda: app.engine.status.link is Link.ONLINE)


def _labels(app) -> list[str]:
    """The groups' lines (Home, the first, aside)."""
    return [str(o.prompt) for o in app.groups.options if o.id != "home"]


async def test_tree_with_marks_folds_and_unfolds(server, profiles):
    account = await profiles.join(server, "ana")
    bob = await new_user(server, "bob")
    top = (await bob.conn.call(CreateGroup, name="Engineering", cid="a")).group
    await bob.conn.call(CreateGroup, name="SRE", parent=top, visibility="private", cid="b")
    await bob.conn.call(CreateGroup, name="Board", visibility="secret", cid="c")
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _online(app, pilot)
        await until(pilot, lambda: len(app.groups.rows) == 2)
        labels = _labels(app)
        assert labels[0].startswith(" ▾ + Engineering")  # not the open group: no ▶
        assert labels[1].strip().startswith("+ SRE") and "private" in labels[1]
        assert not any("Board" in label for label in labels)  # secret: not there at all
        app.groups.focus()
        app.groups.highlighted = app.groups.index_of(top)
        await pilot.press("left")
        assert len(app.groups.rows) == 1 and _labels(app)[0].startswith(" ▸")
        await pilot.press("right")
        assert len(app.groups.rows) == 2
        await app.action_quit()
    await bob.close()


async def test_moderator_edits_settings_and_answers_requests(server, profiles):
    account = await profiles.join(server, "ana")
    bob = await new_user(server, "bob")
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _online(app, pilot)
        await app.client.create_group("Ops")
        await in_group(pilot, "Ops")
        await until(pilot, lambda: app.view.group is not None and app.view.group.moderator)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        app.screen.query_one("#visibility", Select).value = "private"
        app.screen.query_one("#post_policy", Select).value = "moderators"
        app.screen.query_one("#description", Input).value = "on-call team"
        await pilot.click("#save")
        g = app.view.group.group

        async def settings():
            return next(x for x in (await bob.conn.call(ListGroups)).groups if x.group == g)

        await until(pilot, lambda: app.engine.status.outbox == 0)
        info = await settings()
        assert (info.visibility, info.post_policy, info.description) == (
            "private",
            "moderators",
            "on-call team",
        )
        await bob.conn.call(RequestJoin, group=g, cid="rq")
        await until(pilot, lambda: app.view.group.pending == 1)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, RequestsScreen))
        await pilot.press("enter", "escape")
        await until(
            pilot,
            lambda: app.engine.status.outbox == 0 and not isinstance(app.screen, RequestsScreen),
        )
        members = await bob.conn.call(Members, group=g)
        assert bob.user in members.users
        await app.action_quit()
    await bob.close()


async def test_directory_starts_a_direct_chat(server, profiles):
    account = await profiles.join(server, "ana")
    bob = await new_user(server, "bob")
    await bob.conn.call(Sync, since=0)
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _online(app, pilot)
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, DirectoryScreen))
        people = app.screen.query_one(OptionList)
        await pilot.press("ctrl+a")  # ambassadors only, though the search box has focus
        assert app.screen.ambassadors
        await pilot.press("ctrl+a", *"bob")
        await until(pilot, lambda: [o.id for o in people.options] == [str(bob.user)])
        await pilot.press("enter")  # the only match: write to him
        await until(pilot, lambda: app.view.new_direct is not None)
        await pilot.press(*"lunch?", "enter")
        got = await bob.pushes.next(ChatEvent)
        assert got.text == "lunch?"
        await until(pilot, lambda: app.view.group is not None and app.view.group.dm == bob.user)
        assert app.view.group.name == "bob"
        assert any(label.startswith("▶  @ bob") for label in _labels(app))  # open: marked
        await pilot.press("f3", "f4")
        notes = [n.message for n in app._notifications]
        assert "a direct chat has no join requests" in notes
        assert "a direct chat has no settings" in notes
        await app.action_quit()
    await bob.close()


async def test_charter_is_shown_until_accepted(server, profiles):
    account = await profiles.join(server, "ana")
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="Ops", cid="g")).group
    conn = sqlite3.connect(server.config.db_path, isolation_level=None)
    with storage.transaction(conn):
        storage.publish_charter(conn, "# Charter\n\nBe excellent to each other.", 1)
    conn.close()
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, CharterScreen))
        await pilot.pause()  # let the dialog be laid out before clicking it
        assert "Be excellent" in app.screen.text
        await pilot.click("#accept")
        await until(pilot, lambda: not isinstance(app.screen, CharterScreen))
        await app.client.join(g)
        await until(pilot, lambda: app.engine.status.outbox == 0)
        assert ana_in(await bob.conn.call(Members, group=g), account)
        await app.action_quit()
    # A new version: Enter accepts it, and what is typed right behind is sent.
    _publish(server, "# Charter v2", 2)
    typing = profiles.app(account)
    async with typing.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(typing.screen, CharterScreen))
        # Over Home, where the app lands (rse demo's path): the lines typed
        # behind Enter go to the group the user was last in, not Home's
        # composer, which takes no message.
        await until(pilot, lambda: typing.view.home)
        await pilot.pause(CharterScreen.GRACE)  # on screen: keys typed from now on are its
        # Enter accepts; what is typed right behind it, in one burst, is sent.
        await burst(pilot, "enter", *"alpha", "enter", *"beta", "enter", *"gamma", "enter")
        await until(pilot, lambda: not isinstance(typing.screen, CharterScreen))
        await until(pilot, lambda: typing.engine.status.outbox == 0)
        page = await bob.conn.call(History, group=g, kind="c")
        assert [e.text for e in page.events] == ["alpha", "beta", "gamma"]
        await typing.action_quit()
    # Quitting instead of accepting ends the app.
    _publish(server, "# Charter v3", 3)
    again = profiles.app(account)
    async with again.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(again.screen, CharterScreen))
        await pilot.pause()
        await pilot.click("#quit")
        await until(pilot, lambda: not again.is_running)
    for key in ("escape", "ctrl+q"):  # the keys that quit everywhere else quit here too
        third = profiles.app(account)
        async with third.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: isinstance(third.screen, CharterScreen))  # noqa: B023
            await pilot.pause(CharterScreen.GRACE)
            await pilot.press(key)
            await until(pilot, lambda: not third.is_running)  # noqa: B023
    await bob.close()


def _publish(server, text: str, version: int) -> None:
    raw = sqlite3.connect(server.config.db_path, isolation_level=None)
    with storage.transaction(raw):
        storage.publish_charter(raw, text, version)
    raw.close()


def ana_in(members, account) -> bool:
    return account.settings.user in members.users


async def test_non_member_private_group_enter_asks_to_join(server, profiles):
    account = await profiles.join(server, "ana")
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="Core", visibility="private", cid="g")).group
    await bob.conn.call(Sync, since=0)
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _online(app, pilot)
        await until(pilot, lambda: any(r.group == g for r in app.groups.rows))
        app.groups.focus()
        app.groups.highlighted = app.groups.index_of(g)
        await pilot.press("enter")
        await until(pilot, lambda: app.engine.status.outbox == 0)
        await until(pilot, lambda: any(r.group == g and r.requested for r in app.groups.rows))
        assert any("asked" in label for label in _labels(app))
        await app.action_quit()
    await bob.close()


async def test_moderator_deletes_and_pins_from_the_timeline(server, profiles):
    account = await profiles.join(server, "ana")
    bob = await new_user(server, "bob")
    raw = sqlite3.connect(server.config.db_path, isolation_level=None)
    with storage.transaction(raw):
        storage.set_badge(raw, "bob", "ambassador")
    raw.close()
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _online(app, pilot)
        await app.client.create_group("Ops")
        await in_group(pilot, "Ops")
        await until(pilot, lambda: app.view.group is not None and app.view.group.moderator)
        g = app.view.group.group
        await bob.conn.call(JoinGroup, group=g, cid="j")
        await bob.conn.call(SendChat, group=g, text="buy cheap watches", cid="spam")
        await app.client.send_chat(g, "Runbook: restart the VPN")
        await until(pilot, lambda: len([r for r in app.timeline.rows if r.seq]) == 2)
        await until(pilot, lambda: "bob ★ buy cheap watches" in app.timeline.visible_text())
        await pilot.press("alt+up")
        assert app.focused is app.timeline
        spam = next(i for i, r in enumerate(app.timeline.rows) if "watches" in r.text)
        app.timeline.selected = spam
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("right", "enter")
        await until(pilot, lambda: all("watches" not in r.text for r in app.timeline.rows))
        await until(pilot, lambda: app.engine.status.outbox == 0)
        page = await bob.conn.call(History, group=g, kind="c")
        assert [e.text for e in page.events] == ["Runbook: restart the VPN"]
        await pilot.press("alt+up", "p")
        await until(pilot, lambda: "⚑ pinned" in app.timeline.visible_text())
        [info] = [x for x in (await bob.conn.call(ListGroups)).groups if x.group == g]
        assert info.pins == [page.events[0].seq]
        await app.action_quit()
    await bob.close()


async def _settings_fit(profiles, account, size: tuple[int, int]) -> None:
    app = profiles.app(account)
    async with app.run_test(size=size) as pilot:
        await _online(app, pilot)
        if app.view.home:  # a second time: Ops is there, and the app lands on Home
            await back_to_last_group(pilot)
        if app.view.group is None:
            await app.client.create_group("Ops")
        await in_group(pilot, "Ops")
        await until(pilot, lambda: app.view.group is not None and app.view.group.moderator)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        await pilot.pause()
        assert app.focused is app.screen.query_one("#name", Input)  # typing edits the name
        screen = app.screen.region
        for button in app.screen.query(Button):
            inside = button.region
            assert screen.contains_region(inside) and inside.height == 3, size
            assert len(str(button.label)) + 2 <= inside.width, size
        field = app.screen.query_one("#description", Input)
        field.focus()  # scrolls it into view
        await until(pilot, lambda: screen.contains_region(field.region))
        await pilot.press("escape")
        await app.action_quit()


async def test_settings_fit_small_and_large_terminals(server, profiles):
    """Every field can be reached and the buttons stay whole, at 80x24 and 120x40."""
    account = await profiles.join(server, "ana")
    await _settings_fit(profiles, account, (80, 24))
    await _settings_fit(profiles, account, (120, 40))


async def test_a_private_group_left_says_its_content_is_for_members(server, profiles):
    """Left while looking at it, a private group's messages leave the screen
    as they leave the device (they stayed, deleted ones included, found by a
    new user); the server refuses its history, and the pane says why (the
    refusal once escaped the worker that fetched it and crashed the app)."""
    from rse_tui.protocol import AddMember

    account = await profiles.join(server, "ana")
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="Core", visibility="private", cid="g")).group
    await bob.conn.call(AddMember, group=g, user=account.settings.user, cid="a")
    await bob.conn.call(SendChat, group=g, text="core business", cid="c")
    app = profiles.app(account)
    async with app.run_test(size=(120, 40)) as pilot:
        await _online(app, pilot)
        await until(pilot, lambda: any(r.group == g and r.member for r in app.groups.rows))
        await app.open_group(next(r for r in app.groups.rows if r.group == g))
        await until(pilot, lambda: [r.text for r in app.timeline.rows] == ["core business"])
        await burst(pilot, *"/leave", "enter")
        await until(pilot, lambda: any(r.group == g and not r.member for r in app.groups.rows))
        await until(pilot, lambda: "for its members" in app.timeline.empty_text)
        await pilot.pause(0.3)
        assert app.is_running and not app.timeline.rows
        shown = "\n".join(line.text for line in app.timeline.render_lines(app.timeline.region))
        assert "for its members" in shown and "core business" not in shown
        # Back to it later (Enter in the list asks to join, and opens it): the same.
        await app.open_group(next(r for r in app.groups.rows if r.group == g))
        await pilot.pause(0.3)
        assert app.is_running and "for its members" in app.timeline.empty_text
        await app.action_quit()
    await bob.close()


async def test_a_charter_pushed_while_typing_neither_takes_the_keys_nor_outstays(
    server, profiles, monkeypatch
):
    """Found by a new user: a charter the server pushes opened under their
    fingers; the Enter meant for their message accepted it unread, an Esc
    meant for an edit quit the app; and accepted from a shell, it stayed."""
    from rse_tui.protocol import AcceptCharter
    from rse_tui.ui.screens import charter

    # Long enough that a loaded machine cannot make the burst late.
    monkeypatch.setattr(CharterScreen, "GRACE", 5.0)
    account = await profiles.join(server, "ana")
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _online(app, pilot)
        await app.client.create_group("Ops")
        await in_group(pilot, "Ops")
        await until(pilot, lambda: app.view.group is not None)
        app.action_to_composer()
        _publish(server, "# Charter", 1)
        app.check_charter()
        await until(pilot, lambda: isinstance(app.screen, CharterScreen))
        await until(pilot, lambda: isinstance(app.screen.focused, Button))  # Accept, ready
        await burst(pilot, *"hey", "enter", "escape")  # typed on, in the same breath
        await pilot.pause(0.1)
        assert app.is_running and isinstance(app.screen, CharterScreen)
        queued = await app.engine.worker(app.engine.cache.outbox)
        assert [i.text for i in queued] == ["hey"]  # sent, waiting for the charter
        # Accepted elsewhere (rse charter --accept): the dialog goes by itself.
        await app.engine.call(AcceptCharter, version=1)
        await until(
            pilot,
            lambda: not isinstance(app.screen, CharterScreen),
            within=3 * charter.CHARTER_RECHECK,
        )
        await until(pilot, lambda: app.engine.status.outbox == 0)
        await app.action_quit()


async def test_an_edit_refused_puts_its_text_back_in_the_composer(server, profiles):
    """Found by a new user: an edit of a message deleted meanwhile (offline)
    was refused with a passing toast, and its new text was lost."""
    account = await profiles.join(server, "ana")
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _online(app, pilot)
        await app.client.create_group("Ops")
        await in_group(pilot, "Ops")
        await until(pilot, lambda: app.view.group is not None)
        await app.client.edit(987654, "the fixed text")
        await until(pilot, lambda: "the fixed text" in app.composer.text)
        assert await app.engine.worker(app.engine.cache.outbox, include_failed=True) == []
        await app.action_quit()


async def test_the_switcher_asks_to_join_a_private_group(server, profiles):
    """Found by a new user: ctrl+k offered only "Join #Core" for a private
    group, which the server refused with a CLI command to type instead."""
    account = await profiles.join(server, "ana")
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="Core", visibility="private", cid="g")).group
    await bob.conn.call(Sync, since=0)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _online(app, pilot)
        await until(pilot, lambda: any(r.group == g for r in app.groups.rows))
        await burst(pilot, "ctrl+k", *"Core")
        await pilot.pause(0.3)
        await burst(pilot, "enter")
        await until(pilot, lambda: any(r.group == g and r.requested for r in app.groups.rows))
        await until(pilot, lambda: app.view.group is not None and app.view.group.group == g)
        await app.action_quit()
    await bob.close()
