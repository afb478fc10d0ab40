"""What the app's commands, message actions and dialog flows use of the app.

``AppSurface`` is the part of ``RseApp`` that ``commands``, ``editing`` and the
dialog flows of the screens (``screens.people``, ``screens.settings``,
``screens.charter``) act on, and ``View`` says what the app has open. They are
handed the app as an ``AppSurface`` and never import ``rse_tui.ui.app``, which
imports them: no import circle, not even for the type checker.

A dialog flow is a coroutine over the app, run with ``dialog_flow``: it asks
the server through the engine, shows a dialog (``ask``), waits for the answer
and queues the resulting writes in the outbox. The keys typed meanwhile wait
for the dialog, then for the flow to have acted on its answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from rse_tui.protocol import ChatEvent
from rse_tui.sync.models import GroupRow

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel
    from textual.screen import Screen

    from rse_tui.sync.client import Client
    from rse_tui.sync.engine import Engine

    from .gates import Gate
    from .screens.dialog import Answers
    from .widgets.composer import Composer, Mode
    from .widgets.groups import GroupList
    from .widgets.timeline import Timeline

T = TypeVar("T")


@dataclass
class View:
    group: GroupRow | None = None
    kind: str = ChatEvent.TYPE
    #: The home portal is open (no group is).
    home: bool = False
    #: Writing to someone with no direct chat yet: (user id, name).
    new_direct: tuple[int, str] | None = None


class AppSurface(Protocol):
    """The app, as its commands, message actions and dialog flows see it."""

    engine: Engine
    client: Client
    view: View
    me: int | None
    #: Reactions as ``:word:`` rather than emoji (NO_COLOR, or RSE_ASCII=1).
    plain_symbols: bool
    clock: Callable[[], float]
    #: The charter's dialog is open (or being asked for): one at a time.
    charter_open: bool

    @property
    def groups(self) -> GroupList: ...

    @property
    def timeline(self) -> Timeline: ...

    @property
    def composer(self) -> Composer: ...

    def notify(
        self,
        message: str,
        *,
        title: str = ...,
        severity: SeverityLevel = ...,
        timeout: float | None = ...,
        markup: bool = ...,
    ) -> None: ...

    def run_worker(self, work: Coroutine[Any, Any, Any]) -> object: ...

    async def push_screen_wait(self, screen: Screen[T]) -> T: ...

    def dialog_flow(self, name: str, flow: Callable[[Gate], Awaitable[object]]) -> None: ...

    async def ask(self, dialog: Answers, gate: Gate) -> Any: ...

    def action_to_composer(self) -> None: ...

    def action_help(self) -> None: ...

    async def action_quit(self) -> None: ...

    async def enter_group(self, row: GroupRow) -> None: ...

    async def open_direct(self, user: int, name: str) -> None: ...

    async def reread(self, row: GroupRow) -> GroupRow: ...

    async def send_text(self, text: str, mode: Mode | None = None) -> None: ...

    def open_thread(self, target: int) -> None: ...

    def refresh_portal(self, ask: bool = False) -> None: ...

    def show_status(self) -> None: ...

    def refresh_inbox_count(self) -> object: ...
