"""Bursts of keys around dialogs: a dialog answers once."""

from __future__ import annotations

from rse_tui.protocol import CreateGroup, History, Sync
from rse_tui.sync.models import Link
from rse_tui.ui.screens.charter import ConfirmScreen
from rse_tui.ui.screens.help import HelpScreen
from rse_tui.ui.screens.people import DirectoryScreen, RequestsScreen
from rse_tui.ui.screens.settings import SettingsScreen

from ..helpers import new_user
from .conftest import burst, until

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
        await app.engine.submit("join", g)
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


async def test_directory_enter_twice_does_not_crash(server, profiles):
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
        await app.action_quit()
    await bob.close()
    await eve.close()


async def test_every_dialog_answers_once(server, profiles):
    """Two answers reaching a dialog (a double click, two Enters) close it once."""
    from rse_tui.ui.screens.charter import CharterScreen

    account = await profiles.join(server, "ana")
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.engine.status.link is Link.ONLINE)
        await app.engine.submit("gcreate", None, "Ops")
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
