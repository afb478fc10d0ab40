"""The app's governance flows: directory, join requests, settings, the charter.

The dialogs are imported when first opened: start-up does not pay for them.

Each is a coroutine over the app, run as a dialog flow (``AppSurface.dialog_flow``):
it asks the server through the engine, shows a dialog (``AppSurface.ask``), waits
for the answer and queues the resulting writes in the outbox. The keys typed
meanwhile wait for the dialog, then for the flow to have acted on its answer.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rse_tui.protocol import GetCharter, GetUsers, JoinRequests, ProtocolError, SearchDirectory
from rse_tui.sync.engine import LinkDown, Offline
from rse_tui.textsafe import clean_line

if TYPE_CHECKING:
    from rse_tui.protocol import DirectoryEntry
    from rse_tui.sync.models import MessageRow

    from .gates import Gate
    from .screens.charter import CharterScreen
    from .surface import AppSurface


async def open_directory(app: AppSurface, gate: Gate) -> None:
    from .screens.people import DirectoryScreen

    names = {r.group: r.name for r in app.groups.rows}

    async def search(query: str, badge: str | None) -> list[DirectoryEntry]:
        reply = await app.engine.call(SearchDirectory, query=query, badge=badge)
        return list(reply.users)

    picked = await app.ask(DirectoryScreen(search, names), gate)
    if picked is None:
        return
    await app.open_direct(*picked)


async def answer_requests(app: AppSurface, gate: Gate) -> None:
    from .screens.people import RequestsScreen

    group = app.view.group
    if group is not None and group.dm is not None:
        app.notify("a direct chat has no join requests", markup=False)
        return
    if group is None or not group.moderator:
        app.notify("join requests are for the group's moderators", markup=False)
        return
    try:
        pending = (await app.engine.call(JoinRequests, group=group.group)).requests
        ids = [r.user for r in pending]
        users = (await app.engine.call(GetUsers, users=ids)).users if ids else []
    except (Offline, LinkDown):
        app.notify("join requests need the server: offline", severity="warning", markup=False)
        return
    except ProtocolError as exc:  # no longer its moderator, say
        app.notify(clean_line(exc.message), severity="warning", markup=False)
        return
    names = {u.user: u.name for u in users}
    approved = await app.ask(RequestsScreen(group.name, pending, names), gate)
    for user in approved or []:
        await app.engine.submit("gapprove", group.group, None, user=user)


async def edit_settings(app: AppSurface, gate: Gate) -> None:
    from .screens.settings import SettingsScreen

    group = app.view.group
    if group is not None and group.dm is not None:
        app.notify("a direct chat has no settings", markup=False)
        return
    if group is None or not group.moderator:
        app.notify("settings are for the group's moderators", markup=False)
        return
    changes = await app.ask(SettingsScreen(group), gate)
    if changes:
        await app.engine.submit("gset", group.group, None, **changes)
        app.notify("settings saved", markup=False)


def delete_message(app: AppSurface, row: MessageRow) -> None:
    """Delete a message (its author, or a moderator), after a Delete on purpose.

    Keys typed after ``d`` wait for the question and go to it, and only
    Delete (chosen, not typed) says yes.
    """
    from .screens.charter import ConfirmScreen

    group = app.view.group
    if row.user != app.me and not (group is not None and group.moderator):
        app.notify("you may delete your own messages only", markup=False)
        app.action_to_composer()
        return

    preview = clean_line(row.text)[:60]

    async def ask(gate: Gate) -> None:
        yes = await app.ask(ConfirmScreen(f"Delete for everyone: “{preview}”?"), gate)
        if yes:
            await app.engine.submit("del", None, None, target=row.seq)
        app.action_to_composer()

    app.dialog_flow("delete", ask)


def pin_message(app: AppSurface, row: MessageRow) -> None:
    """Pin or unpin a message (moderators)."""
    group = app.view.group
    if group is None or not group.moderator:
        app.notify("only the group's moderators pin messages", markup=False)
    else:
        app.run_worker(app.engine.submit("pin", None, None, target=row.seq, on=not row.pinned))
    app.action_to_composer()


#: How often an open charter dialog asks whether it was accepted elsewhere.
CHARTER_RECHECK = 2.0


async def _close_when_accepted_elsewhere(app: AppSurface, dialog: CharterScreen) -> None:
    """Accepted with ``rse charter --accept``, or in the app on another terminal:
    the dialog here closes by itself (it stayed, and its Esc quit the app)."""
    while True:
        await asyncio.sleep(CHARTER_RECHECK)
        try:
            charter = await app.engine.call(GetCharter)
        except (Offline, LinkDown, ProtocolError):
            continue
        if charter.accepted >= dialog.version:
            dialog.dismiss(True)
            return


async def check_charter(app: AppSurface) -> None:
    """Show the charter when there is one this user has not accepted yet."""
    from .screens.charter import CharterScreen

    if app.charter_open:  # one prompt at a time, however many triggers arrive
        return
    app.charter_open = True
    try:
        try:
            charter = await app.engine.call(GetCharter)
        except (Offline, LinkDown, ProtocolError):  # asked again on the next connection
            return
        if charter.version == 0 or charter.accepted >= charter.version:
            return
        dialog = CharterScreen(charter.version, charter.text)
        watcher = asyncio.create_task(_close_when_accepted_elsewhere(app, dialog))
        try:
            accepted = await app.push_screen_wait(dialog)
        finally:
            watcher.cancel()
        if accepted:
            await app.engine.accept_charter(charter.version)
        else:
            await app.action_quit()
    finally:
        app.charter_open = False
