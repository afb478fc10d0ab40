"""Acting on a message without a dialog: editing one's own and replying to one
(the composer's two modes), and pinning one (a moderator's).

Up in an empty composer, or ``e`` on a selected message of one's own, puts its
text in the composer to change it; ``r`` on a selected chat message writes a
reply to it. The composer's title says which mode it is in; Esc leaves it,
and Enter sends the edit or the reply through the outbox like any write.

A mode is the composer's state, set in the order of the keys the composer
handles: keys typed before ``r`` (a message and its Enter, still waiting in
the composer's queue) are sent as they were typed, not as the reply.

Deleting a message asks first: that flow is with its dialog, in
``screens.charter``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rse_tui.protocol import ChatEvent
from rse_tui.sync.models import MessageRow
from rse_tui.textsafe import editable

from .widgets.composer import Composer, Mode

if TYPE_CHECKING:
    from .surface import AppSurface


def start_edit(app: AppSurface, row: MessageRow | None, *, now: bool = False) -> None:
    """Edit ``row`` (``now``: from the composer's own key, already in order)."""
    if row is None:
        app.notify("nothing of yours to edit here yet", markup=False)
        app.action_to_composer()
        return
    if row.seq is None:
        why = (
            "your last message was not sent: select it (alt+↑) to take it back"
            if row.error
            else "your last message is still waiting to be sent: edit it once it is delivered"
        )
        app.notify(why, markup=False)
        app.action_to_composer()
        return
    if row.user != app.me:
        app.notify("you may edit your own messages only", markup=False)
        app.action_to_composer()
        return
    _start(app, Mode("edit", row), now)


def start_reply(app: AppSurface, row: MessageRow) -> None:
    if row.seq is None or row.kind != ChatEvent.TYPE:
        app.notify("replies are to chat messages", markup=False)
        app.action_to_composer()
        return
    _start(app, Mode("reply", row), False)


def pin_message(app: AppSurface, row: MessageRow) -> None:
    """Pin or unpin a message (moderators)."""
    group = app.view.group
    if group is None or not group.moderator:
        app.notify("only the group's moderators pin messages", markup=False)
    elif row.seq is not None:  # stored: only those are selected
        app.run_worker(app.client.pin(row.seq, on=not row.pinned))
    app.action_to_composer()


def _start(app: AppSurface, mode: Mode, now: bool) -> None:
    if now:
        app.composer.set_mode(mode)
    else:  # behind the keys the composer has still to handle
        app.composer.post_message(Composer.SetMode(mode))
    app.action_to_composer()


async def send(app: AppSurface, group: int, text: str, mode: Mode | None) -> bool:
    """Send ``text`` as the edit or the reply it was written as; False when neither."""
    if mode is None or mode.row.seq is None:
        return False
    if mode.kind == "edit":
        # The composer showed the stored text with its control characters as
        # stand-ins: saved unchanged, the message stays as it is.
        if text != editable(mode.row.text):
            await app.client.edit(mode.row.seq, text)
        return True
    await app.client.send_chat(group, text, reply=mode.row.seq)
    return True


def last_of_mine(app: AppSurface) -> MessageRow | None:
    """My newest message here, sent or still waiting (↑ never reaches past a
    waiting one to an older message: that edit would change the wrong one)."""
    return next((r for r in reversed(app.timeline.rows) if r.user == app.me), None)
