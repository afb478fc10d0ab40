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

import asyncio
from typing import TYPE_CHECKING

from rse_tui.protocol import ChatEvent, Reaction
from rse_tui.sync.models import MessageRow
from rse_tui.textsafe import editable

from .widgets.composer import Composer, Mode

if TYPE_CHECKING:
    from .surface import AppSurface

#: How many times (50 ms apart) an edit or reply of a message being sent
#: waits for it to be stored, online.
STORED_WAITS = 40


def start_edit(app: AppSurface, row: MessageRow | None, *, now: bool = False) -> None:
    """Edit ``row`` (``now``: from the composer's own key, already in order)."""
    if row is None:
        app.notify("nothing of yours to edit here yet", markup=False)
        app.action_to_composer()
        return
    if row.seq is None and (row.error or row.cid is None):
        app.notify(
            "your last message was not sent: select it (alt+↑) to take it back", markup=False
        )
        app.action_to_composer()
        return
    if row.user != app.me:
        app.notify("you may edit your own messages only", markup=False)
        app.action_to_composer()
        return
    _start(app, Mode("edit", row), now)


def start_reply(app: AppSurface, row: MessageRow) -> None:
    if (row.seq is None and (row.error or row.cid is None)) or row.kind != ChatEvent.TYPE:
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


def toggle_plus_one(app: AppSurface, row: MessageRow) -> None:
    """+1 on a message, or taken back when it is mine already."""
    if row.seq is not None:
        mine = any(word == Reaction.PLUS_ONE and me for word, _, me in row.reactions)
        app.run_worker(app.client.react(row.seq, Reaction.PLUS_ONE, on=not mine))
    app.action_to_composer()


def _start(app: AppSurface, mode: Mode, now: bool) -> None:
    if now:
        app.composer.set_mode(mode)
    else:  # behind the keys the composer has still to handle
        app.composer.post_message(Composer.SetMode(mode))
    app.action_to_composer()


async def send(app: AppSurface, group: int, text: str, mode: Mode | None) -> bool:
    """Send ``text`` as the edit or the reply it was written as; False when neither.

    The message may still have been waiting to be sent when the edit or reply
    began: an edit then rewrites it if it has not left yet; otherwise both
    wait (briefly) for it to be stored, and say so if it is not yet.
    """
    if mode is None:
        return False
    if mode.kind == "edit" and text == editable(mode.row.text):
        # The composer showed the stored text with its control characters as
        # stand-ins: saved unchanged, the message stays as it is.
        return True
    seq = mode.row.seq
    cid = mode.row.cid
    if seq is None and cid is not None:
        if mode.kind == "edit" and await app.client.rewrite_unsent(cid, text):
            return True
        seq = await _stored(app, cid)
    if seq is None:  # kept, in its mode when the composer is free, for Enter to try again
        composer = app.composer
        if composer.text.strip():
            composer.restore(text)
        else:
            composer.set_mode(mode)
            composer.text = text
            composer.move_cursor(composer.document.end)
        app.notify(
            "that message is still being sent: Enter sends this again once it is stored",
            markup=False,
        )
        return True
    if mode.kind == "edit":
        await app.client.edit(seq, text)
    else:
        await app.client.send_chat(group, text, reply=seq)
    return True


async def _stored(app: AppSurface, cid: str) -> int | None:
    """The number of my message ``cid``, waiting up to STORED_WAITS for it."""
    for _ in range(STORED_WAITS):
        seq = await app.client.stored_as(cid)
        if seq is not None or not app.client.online:
            return seq
        await asyncio.sleep(0.05)
    return None


def last_of_mine(app: AppSurface) -> MessageRow | None:
    """My newest message here, sent or still waiting (↑ never reaches past a
    waiting one to an older message: that edit would change the wrong one)."""
    return next((r for r in reversed(app.timeline.rows) if r.user == app.me), None)
