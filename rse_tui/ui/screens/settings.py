"""The group settings screen, for a group's moderators, and its dialog flow
(``edit_settings``: see ``rse_tui.ui.surface``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, Select

from rse_tui.protocol import ChatPolicy, PostPolicy, Visibility
from rse_tui.sync.models import GroupRow
from rse_tui.textsafe import clean_line, editable_line

from ..widgets.field import Field
from .dialog import Dialog

if TYPE_CHECKING:
    from ..gates import Gate
    from ..surface import AppSurface


def _options(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


class SettingsScreen(Dialog[dict[str, Any] | None]):
    """Edit name, visibility, publishing rules and description; returns the changes."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    # The fields scroll inside the dialog; the title and the buttons stay in view
    # at any terminal height.
    DEFAULT_CSS = """
    SettingsScreen { align: center middle; }
    SettingsScreen > Vertical {
        width: 72; max-width: 100%; height: 100%; max-height: 34;
        border: tall $accent; background: $surface; padding: 0 1;
    }
    SettingsScreen VerticalScroll { height: 1fr; }
    SettingsScreen Horizontal { height: auto; }
    SettingsScreen Button { margin-right: 2; }
    """

    def __init__(self, group: GroupRow) -> None:
        super().__init__()
        self.group = group

    def compose(self) -> ComposeResult:
        g = self.group
        with Vertical():
            yield Label(f"Settings of #{clean_line(g.name)}  (Esc cancels)", markup=False)
            with VerticalScroll():
                yield from self._fields()
            with Horizontal():
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def _fields(self) -> ComposeResult:
        g = self.group
        yield Label("Name")
        yield Field(g.name, id="name")
        yield Label("Visibility (open · private: join by request · secret: hidden)")
        yield Select(
            _options(Visibility.words()), value=g.visibility, allow_blank=False, id="visibility"
        )
        yield Label("Who may post to the feed")
        yield Select(
            _options(PostPolicy.words()), value=g.post_policy, allow_blank=False, id="post_policy"
        )
        yield Label("Who may chat")
        yield Select(
            _options(ChatPolicy.words()), value=g.chat_policy, allow_blank=False, id="chat_policy"
        )
        yield Label("Who may comment and react")
        yield Select(
            _options(ChatPolicy.words()),
            value=g.comment_policy,
            allow_blank=False,
            id="comment_policy",
        )
        yield Label("Description")
        yield Field(g.description, id="description")

    def on_mount(self) -> None:
        self.query_one("#name", Field).focus()  # typing edits, Tab goes on

    def decides(self, event: events.Key) -> bool:
        # An open list of choices takes its own keys (Esc closes the list only).
        return not any(s.expanded for s in self.query(Select)) and super().decides(event)

    def pressed(self, button: Button) -> None:
        self.dismiss(self.changes() if button.id == "save" else None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.pressed(event.button)

    def changes(self) -> dict[str, Any]:
        g = self.group
        now = {
            "name": self.query_one("#name", Field).value.strip(),
            "description": self.query_one("#description", Field).value.strip(),
        }
        for key in ("visibility", "post_policy", "chat_policy", "comment_policy"):
            now[key] = str(self.query_one(f"#{key}", Select).value)
        before = {  # as the fields showed them: left alone, they are not changes
            "name": editable_line(g.name).strip(),
            "description": editable_line(g.description).strip(),
            "visibility": g.visibility,
            "post_policy": g.post_policy,
            "chat_policy": g.chat_policy,
            "comment_policy": g.comment_policy,
        }
        return {k: v for k, v in now.items() if v != before[k] and (k != "name" or v)}

    def action_cancel(self) -> None:
        self.dismiss(None)


async def edit_settings(app: AppSurface, gate: Gate) -> None:
    group = app.view.group
    if group is not None and group.dm is not None:
        app.notify("a direct chat has no settings", markup=False)
        return
    if group is None or not group.moderator:
        app.notify("settings are for the group's moderators", markup=False)
        return
    changes = await app.ask(SettingsScreen(group), gate)
    if changes:
        await app.client.change_group(group.group, **changes)
        app.notify("settings saved", markup=False)
