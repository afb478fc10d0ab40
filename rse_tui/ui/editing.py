"""Editing one's own message and replying to one: the composer's two modes.

Up in an empty composer, or ``e`` on a selected message of one's own, puts its
text in the composer to change it; ``r`` on a selected chat message writes a
reply to it. The composer's title says which mode it is in; Esc leaves it,
and Enter sends the edit or the reply through the outbox like any write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content

from rse_tui.protocol import ChatEvent
from rse_tui.sync.models import MessageRow
from rse_tui.textsafe import clean_line

if TYPE_CHECKING:
    from .app import RseApp


def start_edit(app: RseApp, row: MessageRow | None) -> None:
    if row is None or row.seq is None:
        app.notify("nothing of yours to edit here yet", markup=False)
        app.action_to_composer()
        return
    if row.user != app.me:
        app.notify("you may edit your own messages only", markup=False)
        app.action_to_composer()
        return
    app.view.editing, app.view.replying = row, None
    composer = app.composer
    composer.text = row.text
    composer.move_cursor(composer.document.end)
    composer.border_title = Content("editing your message · Enter saves · Esc cancels")
    app.action_to_composer()


def start_reply(app: RseApp, row: MessageRow) -> None:
    if row.seq is None or row.kind != ChatEvent.TYPE:
        app.notify("replies are to chat messages", markup=False)
        app.action_to_composer()
        return
    app.view.replying, app.view.editing = row, None
    quoted = clean_line(f"{row.author}: {row.text}")[:50]
    # Untrusted text: shown as Content, never parsed as markup.
    app.composer.border_title = Content(f"replying to {quoted} · Esc cancels")
    app.action_to_composer()


def end(app: RseApp, *, clear: bool) -> bool:
    """Leave the mode (and the edited text, when ``clear``); False if there was none."""
    if app.view.editing is None and app.view.replying is None:
        return False
    if app.view.editing is not None and clear:
        app.composer.clear()
    app.view.editing = app.view.replying = None
    app.composer.border_title = None
    return True


async def send(app: RseApp, group: int, text: str) -> bool:
    """Send ``text`` as the edit or the reply under way; False when neither is."""
    editing, replying = app.view.editing, app.view.replying
    if editing is not None:
        end(app, clear=False)
        if text != editing.text:
            await app.engine.submit("edit", None, text, target=editing.seq)
        return True
    if replying is not None:
        end(app, clear=False)
        await app.engine.submit("chat", group, text, reply=replying.seq)
        return True
    return False


def last_of_mine(app: RseApp) -> MessageRow | None:
    return next(
        (r for r in reversed(app.timeline.rows) if r.user == app.me and r.seq is not None), None
    )
