"""People screens: the directory, and the join requests a moderator answers;
and their dialog flows (``open_directory``, ``answer_requests``: see
``rse_tui.ui.surface``)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option
from textual.worker import WorkerCancelled

from rse_tui.protocol import Badge, DirectoryEntry, JoinRequestInfo, ProtocolError
from rse_tui.sync.engine import LinkDown, Offline
from rse_tui.textsafe import clean_line

from ..widgets.field import Field
from .dialog import Dialog

if TYPE_CHECKING:
    from ..gates import Gate
    from ..surface import AppSurface

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 76; max-width: 100%; height: 80%;
    border: tall $accent; background: $surface; padding: 0 1;
}}
{name} OptionList {{ height: 1fr; }}
"""


class Person(Message):
    """The user picked someone (to write to them)."""

    def __init__(self, user: int, name: str) -> None:
        super().__init__()
        self.user = user
        self.name = name


def person_line(entry: DirectoryEntry, group_names: dict[int, str]) -> Content:
    parts: list[str | tuple[str, str]] = [(clean_line(entry.name), "bold")]
    if entry.badge:
        parts.append((f" [{entry.badge}]", "italic"))
    if entry.title:
        parts.append(f" — {clean_line(entry.title)}")
    groups = [clean_line(group_names.get(g, f"#{g}")) for g in entry.groups]
    if groups:
        parts.append((f"  ({', '.join(groups)})", "dim"))
    return Content.assemble(*parts)


class DirectoryScreen(Dialog[tuple[int, str] | None]):
    """Search people by name or title; ^A shows only ambassadors; Enter writes to them.

    Enter and ↓ in the search box act on the results of what was typed before
    them: the keys typed after them wait for the search (``waits``).
    """

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        # Priority: the search box would take ^A as "start of line".
        Binding("ctrl+a", "ambassadors", "Ambassadors only", priority=True),
        Binding("down", "to_list", "Results", show=False),
    ]
    DEFAULT_CSS = _CSS.format(name="DirectoryScreen")

    def __init__(self, search, group_names: dict[int, str]) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self._search = search  # async (query, badge) -> list[DirectoryEntry]
        self._names = group_names
        self.ambassadors = False
        self.entries: list[DirectoryEntry] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Directory · type to search · ^A ambassadors only · Enter: write")
            yield Field(placeholder="name or title", id="query")
            yield OptionList(id="people", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.refresh_results()

    @on(Input.Changed)
    def _typed(self) -> None:
        self.refresh_results()

    def waits(self, event: events.Key) -> bool:
        return event.key in ("enter", "down") and isinstance(self.focused, Input)

    def decides(self, event: events.Key) -> bool:
        people = self.query_one(OptionList)
        return (event.key == "enter" and self.focused is people) or super().decides(event)

    def decide(self, event: events.Key) -> None:
        people = self.query_one(OptionList)
        if event.key == "enter" and self.focused is people:
            if people.highlighted is not None:
                self._pick(people.options[people.highlighted].id)
        else:
            super().decide(event)

    async def _searched(self) -> None:
        """The results of what is in the search box now."""
        with contextlib.suppress(WorkerCancelled):
            await self.refresh_results().wait()

    @on(Input.Submitted)
    async def _submitted(self) -> None:
        """Enter in the search box: the one match is the answer; else pick from the list."""
        try:
            await self._searched()
            if len(self.entries) == 1:
                entry = self.entries[0]
                self.dismiss((entry.user, entry.name))
            elif self.entries:
                self._to_list()
            else:  # nobody: the search box keeps the keys (an empty list would drop them)
                people = self.query_one(OptionList)
                if not people.option_count:
                    query = clean_line(self.query_one(Input).value)[:40]
                    self.show([], f"nobody matches {query!r}" if query else "nobody yet")
        finally:
            self.decided()

    def action_to_list(self) -> None:
        # Not in the app's queue: it waits for the search (a group of its own,
        # out of reach of the search's exclusive worker).
        self.run_worker(self._to_list_when_searched(), group="to-list")

    async def _to_list_when_searched(self) -> None:
        try:
            await self._searched()
            self._to_list()
        finally:
            self.decided()

    def _to_list(self) -> None:
        people = self.query_one(OptionList)
        self.set_focus(people)  # now: the keys held behind this one go to the list
        if people.highlighted is None and self.entries:
            people.highlighted = next(i for i, o in enumerate(people.options) if not o.disabled)

    def action_ambassadors(self) -> None:
        self.ambassadors = not self.ambassadors
        self.refresh_results()

    @work(exclusive=True)
    async def refresh_results(self) -> None:
        query = self.query_one(Input).value
        try:
            entries = await self._search(query, Badge.AMBASSADOR if self.ambassadors else None)
        except Exception as exc:  # offline: say so in the list
            self.show([], f"the directory needs the server ({exc})")
            return
        self.show(entries)

    def show(self, entries: Sequence[DirectoryEntry], note: str = "") -> None:
        self.entries = list(entries)
        people = self.query_one(OptionList)
        people.clear_options()
        if note:
            people.add_option(Option(Content(note), disabled=True))
        people.add_options(
            [Option(person_line(e, self._names), id=str(e.user)) for e in self.entries]
        )

    @on(OptionList.OptionSelected, "#people")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self._pick(event.option_id)

    def _pick(self, option_id: str | None) -> None:
        entry = next((e for e in self.entries if str(e.user) == option_id), None)
        if entry is not None:
            self.dismiss((entry.user, entry.name))


class RequestsScreen(Dialog[list[int]]):
    """Pending join requests for one group; Enter lets the person in."""

    BINDINGS = [Binding("escape", "done", "Close")]
    DEFAULT_CSS = _CSS.format(name="RequestsScreen")

    def __init__(
        self, group_name: str, requests: Sequence[JoinRequestInfo], names: dict[int, str]
    ) -> None:
        super().__init__()
        self.group_name = group_name
        self.requests = list(requests)
        self.names = names
        self.approved: list[int] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                Content(
                    f"Asking to join #{clean_line(self.group_name)} · Enter: let in · Esc: done"
                )
            )
            options = [
                Option(Content(clean_line(self.names.get(r.user, f"user{r.user}"))), id=str(r.user))
                for r in self.requests
            ] or [Option(Content("nobody is asking"), disabled=True)]
            yield OptionList(*options, id="requests", markup=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def decides(self, event: events.Key) -> bool:
        return event.key == "enter" or super().decides(event)

    def decide(self, event: events.Key) -> None:
        requests = self.query_one(OptionList)
        if event.key == "enter":
            if requests.highlighted is not None:
                self._approve_at(requests.highlighted)
        else:
            super().decide(event)

    @on(OptionList.OptionSelected, "#requests")
    def _approve(self, event: OptionList.OptionSelected) -> None:
        self._approve_at(event.option_index)

    def _approve_at(self, index: int) -> None:
        requests = self.query_one(OptionList)
        option_id = requests.options[index].id
        if option_id is None or requests.options[index].disabled:
            return
        user = int(option_id)
        if user not in self.approved:
            self.approved.append(user)
            requests.replace_option_prompt_at_index(
                index, Content(f"✓ {clean_line(self.names.get(user, f'user{user}'))} let in")
            )

    def cancel(self) -> None:
        self.action_done()

    def action_done(self) -> None:
        self.dismiss(self.approved)


# -- dialog flows ----------------------------------------------------------------------


async def open_directory(app: AppSurface, gate: Gate) -> None:
    names = {r.group: r.name for r in app.groups.rows}

    async def search(query: str, badge: str | None) -> list[DirectoryEntry]:
        return await app.client.directory(query, badge)

    picked = await app.ask(DirectoryScreen(search, names), gate)
    if picked is None:
        return
    await app.open_direct(*picked)


async def answer_requests(app: AppSurface, gate: Gate) -> None:
    group = app.view.group
    if group is not None and group.dm is not None:
        app.notify("a direct chat has no join requests", markup=False)
        return
    if group is None or not group.moderator:
        app.notify("join requests are for the group's moderators", markup=False)
        return
    try:
        pending = await app.client.join_requests(group.group)
        users = await app.client.users([r.user for r in pending])
    except (Offline, LinkDown):
        app.notify("join requests need the server: offline", severity="warning", markup=False)
        return
    except ProtocolError as exc:  # no longer its moderator, say
        app.notify(clean_line(exc.message), severity="warning", markup=False)
        return
    names = {u.user: u.name for u in users}
    approved = await app.ask(RequestsScreen(group.name, pending, names), gate)
    for user in approved or []:
        await app.client.approve(group.group, user)
