"""The rse terminal app: groups, the selected group's chat or feed, details.

The app renders the local cache and never waits on the network: the sync
engine runs as a worker, and its callbacks become Textual messages
("attributes down, messages up"). Every cache read goes through the engine's
cache thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from textual import _time, events, on, work
from textual.app import App, ComposeResult
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.message import Message
from textual.widget import Widget
from textual.widgets import OptionList
from textual.worker import WorkerFailed

from rse_tui import glyphs
from rse_tui.mentions import mention_pattern
from rse_tui.protocol import (
    MAX_CHAT_CHARS,
    MAX_POST_CHARS,
    ChatEvent,
    ChatPolicy,
    EditMessage,
    PostEvent,
    ProtocolError,
    Visibility,
)
from rse_tui.sync.cache import CacheError
from rse_tui.sync.client import Client
from rse_tui.sync.engine import Engine, LinkDown, Offline
from rse_tui.sync.models import Changes, GroupRow, Link, MessageRow, OutboxItem, Status
from rse_tui.textsafe import clean_line, editable

from . import alerts, commands, editing, keys, pastes
from .gates import Gate, Gates
from .screens.dialog import Follows
from .surface import View
from .widgets.composer import Composer, Mode
from .widgets.groups import HOME, GroupList
from .widgets.panes import Details, StatusBar, Title
from .widgets.portal import Portal
from .widgets.timeline import Timeline

if TYPE_CHECKING:
    from rse_tui.sync.account import Account
    from rse_tui.typeahead import Typeahead

    from .screens.dialog import Answers

W = TypeVar("W", bound=Widget)

PAGE = 200
FIRST_PAGE = 60  # enough to fill a tall terminal; older rows load as you scroll
#: How many times (10 ms apart) a quit waits for lines sent just before it.
QUIT_WAITS = 300
#: How many times (10 ms apart) alt+↑ or ↑ waits for a message just sent to be shown.
SENDS_SHOWN_WAITS = 300
#: How many times (20 ms apart) a quit waits for a read marker to leave, online.
MARKER_WAITS = 50
HOME_POSTS = 30  # posts of my groups on the home portal
#: Seconds a recount of the inbox waits (one count for a burst of news: the
#: count reads every cached message for mentions, on the cache's one thread).
INBOX_EVERY = 1.0
NARROW = 100  # columns below which the side panes fold away
ALERT_EVERY = 5.0  # seconds between two alerts for one group
ROUND_TRIP = 5.0  # seconds after which a key sent round is taken as lost (never seen)


class Closing(Exception):
    """The app is closing: its screens are gone."""


class CacheChanged(Message):
    def __init__(self, changes: Changes) -> None:
        super().__init__()
        self.changes = changes


class StatusChanged(Message):
    def __init__(self, status: Status) -> None:
        super().__init__()
        self.status = status


class WriteRefused(Message):
    def __init__(self, item: OutboxItem, why: str) -> None:
        super().__init__()
        self.item = item
        self.why = why


class GroupCommands(Provider):
    """Command palette: switch to a group, join one, and the app's actions."""

    def _commands(self) -> Iterable[tuple[str, object, str]]:
        app = self.app
        assert isinstance(app, RseApp)
        for row in app.groups.rows:
            name = clean_line(row.label) if row.dm is not None else f"#{clean_line(row.name)}"
            if row.member:
                yield name, lambda r=row: app.open_group(r), "switch to this group"
            elif row.visibility == Visibility.OPEN:
                yield f"Join {name}", lambda r=row: app.enter_group(r), "join this group"
            elif row.requested:
                yield f"Asked to join {name}", lambda r=row: app.enter_group(r), "waiting"
            else:
                yield f"Ask to join {name}", lambda r=row: app.enter_group(r), "private group"
        yield "Home: featured and newest posts", app.action_home, "alt+h"
        yield "Inbox: mentions, replies, reactions", app.action_inbox, "F5"
        yield "Directory: find people", app.action_directory, "F2"
        yield "Join requests", app.action_requests, "F3"
        yield "Group settings", app.action_settings, "F4"
        yield "Toggle chat / feed", app.action_toggle_kind, "ctrl+t"
        yield "Reconnect now", app.action_reconnect, "ctrl+r"
        yield "Show keys", app.action_help, "F1"

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands():
            yield DiscoveryHit(Content(text), command, text=text, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                # Names are untrusted: shown as plain Content, never as markup.
                yield Hit(score, Content(text), command, text=text, help=help_text)  # type: ignore[arg-type]


class RseApp(App[int]):
    TITLE = "rse"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # also right for subclasses
    COMMANDS = {GroupCommands}
    COMMAND_PALETTE_BINDING = "ctrl+k"
    BINDINGS = keys.bindings("app")

    def __init__(
        self,
        engine: Engine,
        account_name: str = "",
        *,
        clock: Callable[[], float] = time.time,
        watch_css: bool = False,
    ) -> None:
        # NO_COLOR: no colour at all, rather than Textual's greys (it turns each
        # colour into a grey, some close to the dark grey background it
        # forces, which is wrong on a light terminal). In the terminal's own
        # colours Textual drops every colour instead, foreground and
        # background: names are bold in the terminal's text colour, and
        # bold, reverse and the marks (▶ ▌) show the rest.
        no_color = "NO_COLOR" in os.environ  # Textual takes it out of the environment
        plain_symbols = glyphs.plain()  # so read it first
        super().__init__(watch_css=watch_css, ansi_color=True if no_color else None)
        self.engine = engine
        self.client = Client(engine)
        #: Reactions as ``:word:`` rather than emoji (NO_COLOR, or RSE_ASCII=1).
        self.plain_symbols = plain_symbols
        self.clock = clock
        self.charter_open = False
        self._refreshing = asyncio.Lock()
        self.account_name = account_name
        self.view = View()
        self.me: int | None = None
        self.my_name: str | None = None
        #: Unread items in the inbox (the status bar says so).
        self.inbox_unread = 0
        #: Comments begun in a post view and left unsent, by post (this session).
        #: Keys typed before the app had the terminal (see rse_tui.typeahead).
        self.typeahead = ""
        self._quit_waits = 0
        self._started = _time.get_time()
        self._typeahead_waits = False
        self._alerted: dict[int, float] = {}  # group -> when it last rang
        self._routed = {
            where: keys.actions(where, routed=True) for where in ("composer", "timeline", "portal")
        }
        self._opening = keys.opening()
        #: The app's keys that are not dialogs (ctrl+↓, ctrl+t...).
        self._app_keys = {k: a for k, a in keys.actions("app").items() if k not in self._opening}
        #: Keys that wait while something under way decides where they go.
        self.gates = Gates(lambda: self.call_later(self._let_through))
        #: Keys sent round the widgets, acted on when they come back (by id).
        self._returning: dict[int, tuple[events.Key, Callable[[], Awaitable[None]]]] = {}
        self._flows: set[str] = set()  # dialog flows under way, by name
        #: The cache file could not be used: the app closed, run_tui says why.
        self.cache_failure: CacheError | None = None
        self._status = engine.status
        engine.listen(
            on_change=lambda c: self.post_message(CacheChanged(c)),
            on_status=lambda s: self.post_message(StatusChanged(s)),
            on_error=lambda i, why: self.post_message(WriteRefused(i, why)),
        )

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        pastes.install(driver)  # a paste is read whole, whatever it holds
        return driver

    # -- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield GroupList(id="groups")
            with Vertical(id="center"):
                yield Title(id="title")
                yield Timeline(id="timeline", clock=self.clock)
                yield Portal(id="portal")
                yield Composer(id="composer", scratch_dir=self.client.profile_dir)
            yield Details(id="details")
        yield StatusBar(id="status")

    def part(self, kind: type[W]) -> W:
        """A widget of the main screen, even while a dialog is on top of it."""
        if not self.screen_stack:
            raise Closing
        try:
            return self.screen_stack[0].query_one(kind)
        except NoMatches:  # its widgets are being taken down: the app is closing
            raise Closing from None

    @property
    def groups(self) -> GroupList:
        return self.part(GroupList)

    @property
    def timeline(self) -> Timeline:
        return self.part(Timeline)

    @property
    def composer(self) -> Composer:
        return self.part(Composer)

    @property
    def portal(self) -> Portal:
        return self.part(Portal)

    async def on_mount(self) -> None:
        self._fold(self.size.width)
        self.part(StatusBar).show(self._status)
        self.me, self.my_name = await self.client.identity()
        kind = await self.client.setting("ui.kind")
        if kind in (ChatEvent.TYPE, PostEvent.TYPE):
            self.view.kind = kind
        rows = await self.client.groups()
        self._mentions(rows)
        if not self.typeahead and any(r.member for r in rows):
            # Home, from the cache at once; the server's answer follows online.
            await self.show_home(rows)
        else:  # what was typed ahead goes where the user was last
            await self._open_last_group(rows)
        self.call_after_refresh(self._replay_typeahead)  # once the composer has the focus
        self.call_after_refresh(self.run_sync)  # the cache is on screen first
        self.call_after_refresh(self.refresh_inbox_count)
        self.set_interval(1.0, self._tick)

    def _mentions(self, rows: list[GroupRow]) -> None:
        """What the timeline highlights as calling me: my name, everyone, and
        the groups I am in (``@ops`` calls the members of ops)."""
        if self.my_name:
            groups = tuple(r.name for r in rows if r.member and r.dm is None)
            self.timeline.mention = mention_pattern(self.my_name, groups)

    async def _open_last_group(self, rows: list[GroupRow]) -> None:
        """Open the group the user was last in, ready to write there."""
        start = await self._initial_group(rows)
        await self._open(start)
        self.groups.show(rows, start.group if start else None)
        self.action_to_composer()

    async def _write_from_home(self, gate: Gate) -> None:
        """Typing on Home writes where the user was last (Home lists posts, it
        takes no message): that group opens, then the keys go to it."""
        try:
            if self.view.home:
                rows = await self.client.groups()
                start = await self._initial_group(rows)
                # A line typed is a message, not a post (unless a post was begun).
                self.view.kind = await self._kind_to_open(start.group) if start else ChatEvent.TYPE
                await self._open_last_group(rows)
        finally:
            gate.open()

    async def _initial_group(self, rows: list[GroupRow]) -> GroupRow | None:
        """The group the user was last in, else the first one they belong to."""
        remembered = await self.client.setting("ui.group")
        start = next((r for r in rows if str(r.group) == remembered), None)
        return start or next((r for r in rows if r.member), None)

    def _replay_typeahead(self) -> None:
        """Type what was typed before the app had the terminal, in order (once a
        group is open: on a new device, the first one arrives with the sync)."""
        if not self.typeahead or self._driver is None:
            return
        waiting = self.view.group is None and self.view.new_direct is None and not self.view.home
        if waiting and not self._typeahead_waits:
            self._typeahead_waits = True
            self.set_timer(5.0, self._replay_typeahead)  # no group comes: typed anyway, kept
            return
        self._typeahead_waits = False
        parser = pastes.PasteParser()
        for event in [*parser.feed(self.typeahead), *parser.feed("")]:
            if isinstance(event, (events.Key, events.Paste)):
                event.time = self._started  # typed before anything was on screen
                event.set_sender(self)
                self._driver.send_message(event)
        self.typeahead = ""

    # -- where keys go ---------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Paste):
            # Whatever field it goes to (the composer, a dialog's, the palette's):
            # a pasted ESC would be drawn there as it is, and reach the terminal.
            event.text = editable(event.text)
        if isinstance(event, (events.Key, events.Paste)):
            if not event.is_forwarded:
                if self.gates.hold(event) or self._route(event):
                    return
            elif id(event) in self._returning:
                # Back from the widgets it was sent through: every key typed
                # before it has been handled, and the keys after it wait.
                _, back = self._returning.pop(id(event))
                await back()
                return
        await super().on_event(event)

    async def _let_through(self) -> None:
        """Route the keys that waited, in order, until one closes a gate again."""
        held = self.gates.held
        while held and not self.gates.shut:
            event = held.popleft()
            if not self.is_running or not self.screen_stack:
                held.clear()
                return
            if not self._route(event):
                await super().on_event(event)

    def _send_round(self, event: events.Key, back: Callable[[], Awaitable[None]]) -> None:
        """Forward ``event`` to the focused widget, and run ``back`` when it has
        come back up to the app: the keys forwarded before it are handled then
        (the composer's text is complete, a list's cursor has moved), and the
        keys typed after it wait behind a closed gate until ``back`` opens it."""
        self._returning[id(event)] = (event, back)
        (self.focused or self.screen)._forward_event(event)

        def lost() -> None:  # stopped on its way (it should not be): act on it all the same
            if self._returning.pop(id(event), None) is not None:
                self.log.warning(f"{event.key} did not come back; acting on it")
                self.call_later(back)

        self.set_timer(ROUND_TRIP, lost)

    def returning(self, event: events.Key) -> bool:
        """Whether ``event`` was sent round the widgets and is waited for."""
        return id(event) in self._returning

    def _route(self, event: events.Key | events.Paste) -> bool:
        """Decide, as each key arrives and before the next, where it goes.

        Typing reaches the composer from anywhere on the main screen: a
        printable key is a command only in the message list with a message
        selected on purpose. Keys that only move focus or scroll are handled
        here at once. A key that opens a dialog goes round the focused widget
        (after the keys typed before it) and opens it there; the keys typed
        after it wait for the dialog and go to it. Returns True when the key
        was used here.
        """
        if not self.is_running or not self.screen_stack:
            return False
        if len(self.screen_stack) != 1:
            return self._route_under_dialog(event)
        focused = self.focused
        composer, timeline, portal = self.composer, self.timeline, self.portal
        if isinstance(event, events.Key) and event.key in self._opening:
            gate = self.gates.gate(event.key)  # the keys after it wait for its dialog
            self._send_round(event, partial(self._open_by_key, event.key, gate))
            return True
        if (
            isinstance(event, events.Key)
            and self.view.home
            and focused is composer
            and not composer.text
            and event.key in ("up", "down", "enter")
        ):
            # Home's composer takes no message: ↑↓ Enter there move on the
            # posts (found by a new user: after Esc they did nothing).
            self.set_focus(portal)
            focused = portal
        on_home = focused is portal and self.view.home
        if isinstance(event, events.Key) and on_home and event.key == "enter":
            # The post under the cursor once the keys before it have moved it;
            # the keys after it wait for the post view.
            gate = self.gates.gate("post")
            self._send_round(event, partial(self._open_portal_post, gate))
            return True
        if isinstance(event, events.Key) and event.key in self._app_keys:
            # ctrl+↓, alt+a, alt+h, ctrl+t...: another group, Home or the other
            # view; the keys typed after it wait and go there ("ctrl+↓ hi⏎"
            # never writes hi to the group left, "alt+h ↓" moves on Home).
            gate = self.gates.gate(event.key)
            self._send_round(event, partial(self._app_key, self._app_keys[event.key], gate))
            return True
        if self.view.home and (isinstance(event, events.Paste) or event.is_printable):
            # Text typed on Home ("alpha⏎beta⏎" right after the charter's
            # Enter): the last group opens first; this key and those after it
            # wait, in order, and then go to its composer.
            gate = self.gates.gate("write")
            self.gates.held.appendleft(event)
            self.run_worker(self._write_from_home(gate), group="home-write")
            return True
        if isinstance(event, events.Key):
            where = (
                "composer"
                if focused is composer
                else "timeline"
                if focused is timeline
                else "portal"
                if focused is portal
                else ""
            )
            action = self._routed.get(where, {}).get(event.key)
            if event.is_printable and not (focused is timeline and timeline.claims(event.key)):
                action = None  # a letter acts only on a message selected on purpose
            if action == "select_message":
                # Behind the keys the composer still has (an Enter: "delta⏎ alt+↑
                # e" selects delta, not the message before it), and the keys
                # after it wait for the selection.
                gate = self.gates.gate(event.key)
                self.composer.post_message(
                    Composer.Behind(lambda: self.run_worker(self._select_when_shown(gate)))
                )
                return True
            if action is not None:
                getattr(self, f"action_{action}")()
                return True
            if not event.is_printable or (focused is timeline and timeline.claims(event.key)):
                return False
        if focused is not composer:
            timeline.selected = None
            self.set_focus(composer)
        return False

    async def _app_key(self, action: str, gate: Gate) -> None:
        try:
            await self.run_action(action)
        finally:
            gate.open()

    async def _open_portal_post(self, gate: Gate) -> None:
        try:
            self.action_open_post()
        finally:
            gate.open()

    async def _open_by_key(self, key: str, gate: Gate) -> None:
        try:
            await self.run_action(self._opening[key])  # its dialog's gate closes now
        finally:
            gate.open()

    def _route_under_dialog(self, event: events.Key | events.Paste) -> bool:
        """A dialog has the keys, unless it lets typing through to the composer
        (the charter): keys typed before it appeared, and letters, go there;
        its own keys (Tab, Enter on a button) act at once, so the keys typed
        right behind them go where they leave the focus.

        The keys that answer another dialog or move its focus (Esc, Tab,
        Enter...: see ``screens.dialog``) go round its focused widget and act
        when they come back; the keys typed after them wait until then. Over
        the post view and the inbox, the keys that open a dialog (ctrl+k, F1...)
        work as on the main screen (a text field's own ctrl+k would take it).
        """
        from .screens.charter import CharterScreen  # imported by then if it is shown
        from .screens.dialog import Answers

        dialog = self.screen
        opening = isinstance(event, events.Key) and event.key in self._opening
        if isinstance(dialog, Follows) and isinstance(event, events.Key) and opening:
            gate = self.gates.gate(event.key)
            self._send_round(event, partial(self._open_by_key, event.key, gate))
            return True
        if isinstance(dialog, Answers) and not isinstance(dialog, CharterScreen):
            if isinstance(event, events.Key):
                if dialog.waits(event):
                    dialog.hold_keys()  # until the dialog has decided what it does
                    return False
                if dialog.decides(event):
                    dialog.hold_keys()
                    self._send_round(event, partial(self._decide, dialog, event))
                    return True
            return False
        if not isinstance(dialog, CharterScreen):
            return False
        if isinstance(event, events.Key) and not dialog.typed_before(event):
            if event.key in ("tab", "shift+tab"):
                (dialog.focus_next if event.key == "tab" else dialog.focus_previous)()
                return True
            if event.key == "enter":
                return dialog.press_focused()
        typing = (
            isinstance(event, events.Paste)
            or dialog.typed_before(event)
            or (event.is_printable and not event.key.startswith("alt+"))
        )
        if typing:
            self.composer._forward_event(event)
        return typing

    async def _decide(self, dialog: Answers, event: events.Key) -> None:
        if dialog.is_active:
            done = dialog.decide(event)
            if inspect.isawaitable(done):
                await done  # a write it queues is queued before the next key acts
        dialog.decided()

    # -- dialogs ------------------------------------------------------------------------

    def dialog_flow(self, name: str, flow: Callable[[Gate], Awaitable[object]]) -> None:
        """Run ``flow`` (it shows a dialog with ``ask`` and acts on the answer)
        as a worker; one at a time of each name.

        The keys typed from now on wait for the dialog and go to it; the keys
        typed after its answer wait until the flow has acted on it (a group
        or a direct chat opened), then go to the composer.
        """
        if name in self._flows:
            return  # already under way: its dialog will take the keys
        gate = self.gates.gate(name)
        self._flows.add(name)

        async def run() -> None:
            try:
                with contextlib.suppress(Closing):
                    await flow(gate)
            finally:
                self._flows.discard(name)
                gate.open()

        self.run_worker(run(), name=name, group=f"dialog-{name}")

    async def ask(self, dialog: Answers, gate: Gate) -> Any:
        """Show ``dialog`` and wait for its answer (in a dialog flow)."""
        dialog.gate = gate
        return await self.push_screen_wait(dialog)

    def action_to_composer(self) -> None:
        self.timeline.selected = None
        self.set_focus(self.composer)

    def action_to_messages(self) -> None:
        self.set_focus(self.portal if self.view.home else self.timeline)

    async def action_edit_last(self) -> None:
        if self.view.home:  # nothing of mine to edit on Home: ↑ goes to the posts
            self.set_focus(self.portal)
            return
        # From the composer's own key, awaited before its next key: the message
        # just sent is shown first (it is the one to edit), then the mode starts.
        await self._sends_shown()
        editing.start_edit(self, editing.last_of_mine(self), now=True)

    def action_select_message(self) -> None:
        if self.view.home:
            self.set_focus(self.portal)
            return
        self.set_focus(self.timeline)
        self.timeline.action_last()

    async def _sends_shown(self) -> None:
        """Until the messages handed over by the composer are in the list
        (waiting to be sent): a fraction of a second, the time to queue them."""
        for _ in range(SENDS_SHOWN_WAITS):
            if not self.composer.in_flight:
                return
            await asyncio.sleep(0.01)

    async def _select_when_shown(self, gate: Gate) -> None:
        try:
            await self._sends_shown()
            self.action_select_message()
        finally:
            gate.open()

    def action_messages_page_up(self) -> None:
        if self.view.home:
            self.portal.action_page_up()
        else:
            self.timeline.action_page_up()

    def action_messages_page_down(self) -> None:
        if self.view.home:
            self.portal.action_page_down()
        else:
            self.timeline.action_page_down()

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def run_sync(self) -> None:
        await self.engine.run()
        if self.engine.failure is not None:
            self._handle_exception(self.engine.failure)

    def _handle_exception(self, error: Exception) -> None:
        """Textual's end for an unhandled error (a traceback, exit 1). A cache
        file that cannot be used is not a bug: the app closes, and run_tui
        says in one line what is wrong and what to do (RSE_DEBUG=1: the
        traceback, as for any other)."""
        cause = error.error if isinstance(error, WorkerFailed) else error
        if isinstance(cause, CacheError) and not os.environ.get("RSE_DEBUG"):
            self.cache_failure = self.cache_failure or cause
            self.exit(return_code=1)
            return
        super()._handle_exception(error)

    def on_resize(self, event: events.Resize) -> None:
        self._fold(event.size.width)  # the new width: ``self.size`` may still be the old one

    def _fold(self, width: int) -> None:
        # The main screen, even while a dialog is on top of it.
        if self.screen_stack:
            self.screen_stack[0].set_class(width < NARROW, "narrow")

    # -- opening groups ------------------------------------------------------------------

    async def _open(self, group: GroupRow | None) -> None:
        previous = self.view.group
        if previous is not None and (group is None or group.group != previous.group):
            self._share_read(previous)
        self.view.group = group
        if self.view.home:
            self.view.home = False
            self.screen_stack[0].remove_class("-home")
            if self.focused is self.portal:  # hidden now: the keys typed next are text
                self.set_focus(self.composer)
        self.part(Title).show(group, self.view.kind)
        self.part(Details).show(group, None)
        if group is None:
            self.timeline.empty_text = "No group open: /join NAME, ctrl+k, or ctrl+b for the list"
            self.timeline.show([], more_above=False)
            return
        await self.client.remember("ui.group", group.group)
        await self.client.remember("ui.kind", self.view.kind)
        # Read and shown under the refresh lock: a refresh that runs meanwhile
        # (a message arriving) would otherwise be drawn over by older rows.
        async with self._refreshing:
            rows = await self.client.messages(group.group, self.view.kind, limit=FIRST_PAGE)
            hole = await self.client.history_missing(group.group, self.view.kind, None)
            shown = max((r.seq for r in rows if r.seq is not None), default=0)
            read = await self.client.mark_read(group.group, upto=shown)
            unread = (
                r.seq for r in rows if r.seq is not None and r.seq > read and r.user != self.me
            )
            self.timeline.empty_text = self._empty_text(group)
            self.timeline.show(
                rows,
                more_above=len(rows) >= FIRST_PAGE or hole is not None,
                first_unread=next(unread, None),
            )
        if previous is None or previous.group != group.group:
            # Another group: its own draft. A first group keeps what was typed;
            # the same group (chat <-> feed) keeps the composer as it is (the
            # draft saved half a second after typing may be older).
            draft = await self.client.draft(group.group)
            if previous is not None or not self.composer.text:
                self.composer.text = draft
                self.composer.move_cursor(self.composer.document.end)  # typing goes on after it
        self._composer_state(group)
        if self._typeahead_waits:
            self._typeahead_waits = False
            self.call_after_refresh(self._replay_typeahead)
        if hole is not None:
            self.fill_newest()

    def _composer_state(self, group: GroupRow) -> None:
        # The composer stays usable where one may not write: slash commands
        # (/join, /dm, /quit) work everywhere, and a message is refused with
        # the reason, its text kept.
        self.composer.placeholder = Content(self._may_not_write(group) or self._hint(group))

    def _hint(self, group: GroupRow) -> str:
        what = "chat" if self.view.kind == ChatEvent.TYPE else "a post (Markdown)"
        # The group name is untrusted: shown in a Content, never parsed as markup.
        where = f"@{clean_line(group.name)}" if group.dm else f"#{clean_line(group.name)}"
        return f"Write {what} to {where} · Enter sends · ^J new line · F1 keys"

    def _empty_text(self, group: GroupRow) -> str:
        """What an empty pane says: why there is nothing, and what to do."""
        if not group.member and group.visibility == Visibility.PRIVATE:
            name = clean_line(group.name)
            if group.requested:
                return f"Only members read #{name}: you asked to join, a moderator lets you in"
            return f"Only members read #{name}: Enter on it in the groups pane asks to join"
        return (
            "No messages yet: say hello." if self.view.kind == ChatEvent.TYPE else "No posts yet."
        )

    def _may_not_write(self, group: GroupRow) -> str:
        """Why I may not write here ("" when I may)."""
        if group.may_write(self.view.kind):
            return ""
        if not group.in_group and group.requested:
            return "You asked to join: a moderator has to let you in first"
        if not group.in_group and group.visibility == Visibility.PRIVATE:
            return "Not a member: Enter on it in the groups pane asks to join"
        if not group.in_group:
            return "Not a member: /join to write here (or Enter on it in the groups pane)"
        policy = group.chat_policy if self.view.kind == ChatEvent.TYPE else group.post_policy
        what = "chat" if self.view.kind == ChatEvent.TYPE else "posts"
        if policy == ChatPolicy.NOBODY:
            return f"No one may write {what} in #{clean_line(group.name)}"
        return f"In #{clean_line(group.name)}, only moderators may write {what}"

    async def open_group(self, group: GroupRow) -> None:
        # An edit ends with the view it was started in (its text goes: it is
        # no draft); a reply's text stays, as the draft of the group left.
        self._close_views()
        self.composer.set_mode(None, clear=True)
        await self.save_draft()
        self.view.new_direct = None
        if self.view.group is None or self.view.group.group != group.group:
            # Another group opens on its chat: a line typed right after ctrl+k
            # NAME Enter is a message, never a post to everyone by surprise
            # because the feed was the view left in the group before (unless
            # a post was begun there: it comes back as a post).
            self.view.kind = await self._kind_to_open(group.group)
        await self._open(group)
        self.groups.show(await self.client.groups(), group.group)

    def _share_read(self, group: GroupRow) -> None:
        """Tell my other devices how far I read ``group`` (left now): one marker
        for the visit, and none when nothing new was read."""
        if group.member:
            self.run_worker(self.client.share_read(group.group), group="markers")

    def _close_views(self) -> None:
        """Close the post views and the inbox on top of the main screen (a
        group opened from there by ctrl+k, say, is shown at once)."""
        from .screens.dialog import Answers

        while len(self.screen_stack) > 1:
            top = self.screen_stack[-1]
            if not isinstance(top, Follows) or not isinstance(top, Answers) or top.answered:
                return
            top.dismiss(None)

    async def show_home(self, rows: list[GroupRow] | None = None) -> None:
        """The home portal: as cached at once, then as the server has it
        (online). ``rows``: the group list just read (at start: not read twice
        before the first paint)."""
        self._close_views()
        self.composer.set_mode(None, clear=True)
        await self.save_draft()
        previous = self.view.group
        if previous is not None:
            self._share_read(previous)
        self.view.group = None
        self.view.new_direct = None
        self.view.home = True
        self.screen_stack[0].add_class("-home")
        self.part(Title).show_home(self.engine.online)
        self.part(Details).show(None, None)
        self.composer.text = ""
        self.composer.placeholder = Content(
            "↑↓ Enter: open a post · typing writes to your last group · F1 keys"
        )
        home = await self.client.home(HOME_POSTS, cached=True)
        self.portal.show(home, self.clock(), self.plain_symbols, keep=False, me=self.me)
        self._show_portal_details()
        self.groups.show(rows if rows is not None else await self.client.groups(), None, home=True)
        self.set_focus(self.portal)
        if self.engine.online:
            self.refresh_portal(ask=True)

    def refresh_portal(self, ask: bool = False) -> None:
        """Read the portal again: the cache's, or (``ask``) the server's. A read
        of the cache never cancels a question to the server (its answer is
        stored, and drawn, when it comes)."""
        (self._ask_portal if ask else self._read_portal)()

    @work(exclusive=True, group="portal-ask")
    async def _ask_portal(self) -> None:
        await self._show_portal(ask=True)

    @work(exclusive=True, group="portal")
    async def _read_portal(self) -> None:
        await self._show_portal(ask=False)

    async def _show_portal(self, ask: bool) -> None:
        try:
            home = await self.client.home(HOME_POSTS, cached=not ask)
        except (Offline, LinkDown, ProtocolError) as exc:
            self.log.warning(f"home: {exc}")
            home = await self.client.home(HOME_POSTS, cached=True)
        with contextlib.suppress(Closing):
            if self.view.home:
                self.portal.show(home, self.clock(), self.plain_symbols, me=self.me)
                self.part(Title).show_home(self.engine.online)
                self._show_portal_details()

    @on(OptionList.OptionHighlighted, "#portal")
    def _portal_moved(self) -> None:
        with contextlib.suppress(Closing):
            self._show_portal_details()

    def _show_portal_details(self) -> None:
        row = self.portal.selected_post
        home = self.portal.home
        if row is None or home is None:
            self.part(Details).show(None, None)
            return
        name = home.groups.get(row.group, f"group {row.group}")
        self.part(Details).show_post(row, name, self.clock())

    def open_thread(self, target: int) -> None:
        """The post view of message ``target`` (a post with its comments, a
        chat message's thread); the keys typed next wait for it and go to it."""
        from .screens.post import open_post  # loaded on first use, not at start-up

        # One flow per message: from a post view, the inbox opens another.
        self.dialog_flow(f"post-{target}", partial(open_post, self, target))

    def action_open_post(self) -> None:
        row = self.portal.selected_post
        if row is not None and row.seq is not None:
            self.open_thread(row.seq)

    def action_open_selected(self) -> None:
        if self.timeline.selected is None:  # nothing selected: back to writing
            self.action_to_composer()
            return

        def open_it(app: RseApp, row: MessageRow) -> None:
            app.open_thread(row.seq or 0)
            # One action: back from the post view, typing is text again (a
            # selection left behind made the next letters commands).
            app.action_to_composer()

        self._act_on_selected(open_it)

    def action_react_picker_selected(self) -> None:
        from .screens.picker import pick_reaction

        def pick(app: RseApp, row: MessageRow) -> None:
            async def flow(gate: Gate) -> None:
                await pick_reaction(app, row, gate)

            app.dialog_flow("react", flow)
            app.action_to_composer()  # one action; then typing is text again

        self._act_on_selected(pick)

    async def action_home(self) -> None:
        await self.show_home()

    def action_inbox(self) -> None:
        from .screens.inbox import open_inbox

        self.dialog_flow("inbox", partial(open_inbox, self))

    @work(exclusive=True, group="inbox-count")
    async def refresh_inbox_count(self) -> None:
        """Count the unread in the inbox for the status bar (once per burst of news)."""
        await asyncio.sleep(INBOX_EVERY)
        count = len(await self.client.inbox(unread_only=True))
        with contextlib.suppress(Closing):
            if count != self.inbox_unread:
                self.inbox_unread = count
                self.show_status()

    async def reread(self, row: GroupRow) -> GroupRow:
        """``row`` as the cache has it now (a join or leave just queued counts);
        the open group's view follows at once, before the next key is handled."""
        rows = await self.client.groups()
        fresh = next((r for r in rows if r.group == row.group), row)
        if self.view.group is not None and self.view.group.group == fresh.group:
            self.view.group = fresh
        return fresh

    async def join(self, group: GroupRow) -> None:
        await self.client.join(group.group)
        self.notify(f"joining #{clean_line(group.name)}…", markup=False)

    async def save_draft(self) -> None:
        if self.view.group is not None:
            group, draft = self.view.group.group, self.composer.draft
            await self.client.save_draft(group, draft)
            if draft.strip():  # written as a message or as a post: it reopens as one
                await self.client.remember(f"ui.draft_kind.{group}", self.view.kind)

    async def _kind_to_open(self, group: int) -> str:
        """The view a group opens on: its chat, unless a post was begun there
        (found by a new user: a post begun came back in the chat's composer,
        where Enter sends it as a message)."""
        if await self.client.draft(group):
            kind = await self.client.setting(f"ui.draft_kind.{group}")
            if kind == PostEvent.TYPE:
                return PostEvent.TYPE
        return ChatEvent.TYPE

    @work(exclusive=True, group="fill")
    async def fill_newest(self) -> None:
        """Fetch the newest page the cache lacks for the open group, if online."""
        group = self.view.group
        if group is None or not self.engine.online:
            return
        with contextlib.suppress(Closing, Offline, LinkDown):
            try:
                await self.engine.load_older(group.group, self.view.kind, None)
                # Shown whether or not this call fetched it: a fill cancelled by
                # the next one (this worker is exclusive) may have stored its
                # page without a word to the views.
                await self._refresh_open()
            except ProtocolError as exc:  # a private group left: its content is for members
                if self.view.group is not None and self.view.group.group == group.group:
                    self.timeline.empty_text = exc.message
                    self.timeline.history_complete(True)
                return
            if (
                self.view.group is not None
                and self.view.group.group == group.group
                and not self.timeline.rows
            ):
                hole = await self.client.history_missing(group.group, self.view.kind, None)
                self.timeline.history_complete(hole is None)

    async def _refresh_open(self) -> None:
        """Bring the open view up to date with the cache: new rows, the outbox's rows.

        One refresh at a time, each from one consistent read of the cache, so a
        write acknowledged in between can never be lost from view.
        """
        async with self._refreshing:
            group = self.view.group
            if group is None:
                return
            newer, pending = await self.client.tail(
                group.group, self.view.kind, self.timeline.newest_seq
            )
            # What is shown now, not what reached the cache since the tail was
            # read (a catch-up's rest stays unread, under its "new" line).
            shown = max((r.seq or 0 for r in newer), default=self.timeline.newest_seq)
            read = await self.client.mark_read(group.group, upto=shown)
            first_unread = next(
                (r.seq for r in newer if r.seq is not None and r.seq > read and r.user != self.me),
                None,
            )
            if not self.timeline.rows and newer:
                rows = await self.client.messages(group.group, self.view.kind, limit=PAGE)
                hole = await self.client.history_missing(group.group, self.view.kind, None)
                self.timeline.show(
                    rows,
                    more_above=len(rows) >= PAGE or hole is not None,
                    first_unread=first_unread,
                )
            else:
                self.timeline.extend(newer[-5000:], pending, first_unread)

    # -- engine events -----------------------------------------------------------------------

    @property
    def showing(self) -> bool:
        """False while the app closes: engine news that arrives then is dropped."""
        return bool(self.screen_stack) and self.is_running

    def _is_open(self, group: GroupRow) -> bool:
        """Whether ``group`` is the one shown still (after a wait for the cache)."""
        shown = self.view.group
        return shown is not None and shown.group == group.group and not self.view.home

    def _nothing_open(self) -> bool:
        """No group open and not Home: a new device's view, before its first groups."""
        return self.view.group is None and not self.view.home

    async def on_cache_changed(self, message: CacheChanged) -> None:
        if not self.showing:
            return
        with contextlib.suppress(Closing):  # the app closed while this was under way
            await self._apply_changes(message.changes)

    async def _apply_changes(self, changes: Changes) -> None:
        # The view is read again after each wait for the cache, never taken
        # from before it: a group opened meanwhile (ctrl+k or typing on Home
        # open one from a worker) looked, to a read made on Home, like a new
        # device's empty view, and was sent back to Home half drawn, its
        # older messages never asked for.
        arrived = self.view.group  # the one open when the news came
        group = arrived
        if group is not None and group.group in changes.forgotten:
            # Left (or back in): what it showed went from the cache; show what is
            # there now, and ask the server for the rest (it says if we may read).
            fresh = next((r for r in await self.client.groups() if r.group == group.group), None)
            if fresh is not None and self._is_open(group):
                await self._open(fresh)
        group = self.view.group
        if changes.deleted:
            self.timeline.drop(changes.deleted)
            self.part(Details).show(group, self.timeline.selected_row)
        # Rows to draw again: pins changed, or authors whose names just arrived.
        again = list(changes.edited) + [
            r.seq for r in self.timeline.rows if r.seq is not None and r.user in changes.users
        ]
        if again and group is not None:
            redrawn = await self.client.messages_after(group.group, self.view.kind, min(again) - 1)
            if self._is_open(group):
                self.timeline.replace(redrawn)
        group = self.view.group
        if group is not None and (group.group in changes.messages or changes.outbox):
            await self._refresh_open()
        if changes.groups or changes.messages or changes.users:
            rows = await self.client.groups()
            self._mentions(rows)
            group = self.view.group  # as it is now, not as it was before the read
            if group is not None:
                fresh = next((r for r in rows if r.group == group.group), None)
                if fresh is None and group.dm is None:  # gone (a secret group one left)
                    self.view.group = None
                    first = await self._initial_group(rows)
                    if first is not None and self._nothing_open():
                        await self._open(first)
                elif fresh is not None and fresh != group:
                    became_member = fresh.member and not group.member
                    self.view.group = fresh
                    self.part(Title).show(fresh, self.view.kind)
                    self.part(Details).show(fresh, self.timeline.selected_row)
                    self._composer_state(fresh)
                    if became_member:
                        self.fill_newest()
                        if self.focused is None:
                            self.action_to_composer()
            elif rows and not self.view.home:  # a new device's first groups
                # Home, as at start; what was typed ahead goes to a group.
                typed = bool(self.typeahead) or self._typeahead_waits
                if not typed and self.view.new_direct is None and any(r.member for r in rows):
                    await self.show_home()
                else:
                    first = await self._initial_group(rows)
                    if first is not None and self._nothing_open():
                        await self._open(first)
            current = self.view.group.group if self.view.group else None
            self.groups.show(rows, current, home=self.view.home)
            self.show_status()
        if self.view.new_direct is not None and (changes.groups or changes.outbox):
            direct = await self.client.direct_with(self.view.new_direct[0])
            if direct is not None:
                await self.open_group(direct)
            elif changes.outbox:
                await self._show_new_direct()
        for group_id in changes.removed:
            if arrived is not None and arrived.group == group_id:  # the one open when it came
                self.notify("you were removed from this group", severity="warning")
        if changes.charter or changes.charter_required:
            self.check_charter()
        for row in changes.mentions:
            self._alert(row)
        feed = changes.home or changes.messages or changes.groups or changes.users
        if self.view.home and (feed or changes.deleted):
            self.refresh_portal()
        for screen in self.screen_stack[1:]:
            if isinstance(screen, Follows):
                screen.cache_changed(changes)
        if changes.home or changes.messages or changes.groups:
            self.refresh_inbox_count()

    def _alert(self, row: MessageRow) -> None:
        # One alert per group per ALERT_EVERY seconds: sixty mentions in a burst
        # (or a catch-up) ring once, not sixty times; the hotlist counts them all.
        now = time.monotonic()
        if now - self._alerted.get(row.group, -ALERT_EVERY) < ALERT_EVERY:
            return
        open_group = self.view.group
        if open_group is not None and open_group.group == row.group and self.app_focus:
            return  # on screen already, in the chat being read
        self._alerted[row.group] = now
        direct = any(r.group == row.group and r.dm is not None for r in self.groups.rows)
        what = "wrote to you" if direct else "mentioned you"
        self.notify(
            clean_line(row.text)[:200], title=f"@{clean_line(row.author)} {what}", markup=False
        )
        if self.is_headless or self._driver is None:
            return
        self._driver.write(alerts.sequences(f"rse: {row.author}", row.text, os.environ))

    def on_status_changed(self, message: StatusChanged) -> None:
        if not self.showing:
            return
        went_online = message.status.link is Link.ONLINE and self._status.link is not Link.ONLINE
        self._status = message.status
        self.show_status()
        if went_online:
            self.fill_newest()
            self.check_charter()
            if self.view.home:
                self.refresh_portal(ask=True)

    @work(group="charter")
    async def check_charter(self) -> None:
        from .screens import charter  # loaded when a charter may be shown, not at start-up

        with contextlib.suppress(Closing):
            await charter.check_charter(self)

    def on_write_refused(self, message: WriteRefused) -> None:
        if not self.showing:
            return
        item = message.item
        if isinstance(item.request, EditMessage) and item.text:
            # An edit refused has no row to show it on (the message may be gone):
            # its text comes back to the composer rather than vanish.
            self.composer.restore(item.text)
            self.run_worker(self.client.discard(item.cid))
            self.notify(
                f"your edit was not saved ({clean_line(message.why)}):"
                " its text is back in the composer",
                severity="error",
                markup=False,
            )
            return
        self.notify(f"not sent: {clean_line(message.why)}", severity="error", markup=False)

    def _tick(self) -> None:
        if not self.showing:
            return
        self._status = self.engine.status
        self.show_status()

    def show_status(self) -> None:
        """The link, the outbox, the inbox, the bytes, and the groups with news
        (the hotlist): on the main screen and on the post views over it."""
        here = self.view.group.group if self.view.group else None
        hot = [r for r in self.groups.rows if r.member and r.unread and r.group != here]
        for screen in self.screen_stack:
            for bar in screen.query(StatusBar):
                bar.show(self._status, hotlist=hot, inbox=self.inbox_unread)

    # -- widget messages ------------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#groups")
    async def _group_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option_id == HOME:
            await self.show_home()
            return
        row = next((r for r in self.groups.rows if str(r.group) == event.option_id), None)
        if row is not None:
            await self.enter_group(row)

    async def enter_group(self, row: GroupRow) -> None:
        """Open a group, joining it first (open) or asking to (private)."""
        if not row.in_group:
            if row.visibility == Visibility.OPEN:
                await self.join(row)
                # The join waits in the outbox, and counts already: what is
                # typed next goes out after it (the row read before it did not).
                row = await self.reread(row)
            elif not row.requested:
                await self.client.ask_to_join(row.group)
                whom = f"the moderators of #{clean_line(row.name)}"
                self.notify(
                    f"asked {whom} to let you in"
                    if self.engine.online
                    else f"offline: {whom} will be asked to let you in when the link is back",
                    markup=False,
                )
        await self.open_group(row)
        self.action_to_composer()

    @on(Timeline.NeedOlder)
    async def _older(self) -> None:
        group, timeline = self.view.group, self.timeline
        if group is None:
            timeline.fetching = False
            return
        self.load_older(group.group, self.view.kind, timeline.oldest_seq)

    @work(group="older")
    async def load_older(self, group: int, kind: str, before: int | None) -> None:
        rows = await self.client.messages(group, kind, before=before, limit=PAGE)
        if len(rows) < PAGE and self.engine.online:
            try:
                await self.engine.load_older(group, kind, before)
            except (Offline, LinkDown, ProtocolError) as exc:
                # The link dropped, or the group went away: what the cache has will do.
                self.log.warning(f"history fetch failed: {exc}")
            rows = await self.client.messages(group, kind, before=before, limit=PAGE)
        rows = [r for r in rows if r.seq is not None]
        oldest = rows[0].seq if rows else before
        hole = await self.client.history_missing(group, kind, oldest)
        if self.view.group is not None and self.view.group.group == group:
            with contextlib.suppress(Closing):
                self.timeline.prepend(rows, more_above=len(rows) >= PAGE or hole is not None)

    @on(Timeline.Picked)
    def _picked(self, event: Timeline.Picked) -> None:
        with contextlib.suppress(Closing):
            self.part(Details).show(self.view.group, event.row)
            if event.row is not None:
                # The composer says what the letters do now, and how to get back.
                self.composer.placeholder = Content(
                    "Selected: Enter open · e edit · r reply · : react · d delete · p pin · Esc"
                )
            elif self.view.group is not None:
                self._composer_state(self.view.group)

    # A message selected on purpose takes one action, started here as the key
    # arrives; then typing is text again (the keys typed next are the new text,
    # the reply, or the answer to the question).
    def _act_on_selected(self, act: Callable[[RseApp, MessageRow], None]) -> None:
        failed = self.timeline.selected_failed
        if failed is not None and self.composer.text.strip():
            # Its text would have nowhere to go: it stays listed, nothing is lost.
            self.notify(
                "send or clear what is in the composer first: the message that was not"
                " sent comes back there",
                severity="warning",
                markup=False,
            )
            self.action_to_composer()
            return
        if failed is not None and failed.cid is not None:
            # A write the server refused: any action takes it back to the
            # composer, to be corrected and sent again, or dropped.
            self.run_worker(self.client.discard(failed.cid))
            self.timeline.extend(
                [], [r for r in self.timeline.rows if r.seq is None and r is not failed]
            )
            self.action_to_composer()
            self.composer.restore(failed.text)
            self.notify("the message that was not sent is back in the composer", markup=False)
            return
        row = self.timeline.selected_row
        waiting = self.timeline.selected_waiting
        if row is None and waiting is not None and act in (editing.start_edit, editing.start_reply):
            act(self, waiting)  # edited or answered once stored (or before it leaves)
        elif row is None and waiting is not None:
            self.notify("that message is still waiting to be sent", markup=False)
            self.action_to_composer()
        elif row is None:  # a deleted message's place
            self.notify("nothing to act on: that message is not stored", markup=False)
            self.action_to_composer()
        else:
            act(self, row)

    def action_edit_selected(self) -> None:
        self._act_on_selected(editing.start_edit)

    def action_react_selected(self) -> None:
        self._act_on_selected(editing.toggle_plus_one)

    def action_reply_selected(self) -> None:
        self._act_on_selected(editing.start_reply)

    def action_delete_selected(self) -> None:
        from .screens.charter import delete_message  # its dialog, loaded on first use

        self._act_on_selected(delete_message)

    def action_pin_selected(self) -> None:
        self._act_on_selected(editing.pin_message)

    @on(Composer.Submitted)
    async def _send(self, event: Composer.Submitted) -> None:
        # The composer has already cleared itself (keys typed after Enter belong
        # to the next message); a text that cannot go anywhere is put back.
        try:
            if not await commands.run(self, event.text):
                await self.send_text(commands.message_text(event.text), event.mode)
                await self._refresh_open()  # shown (waiting) before ↑ looks for it
        except Closing:  # quit meanwhile (a quit waits for this: see action_quit)
            return
        finally:
            if self.screen_stack:
                self.composer.in_flight -= 1

    async def send_text(self, text: str, mode: Mode | None = None) -> None:
        """Send a message to the open group or direct chat."""
        if self.view.new_direct is not None:
            await self.client.send_direct(self.view.new_direct[0], text)
            return
        group = self.view.group
        why = "Open a group first (ctrl+k)" if group is None else self._may_not_write(group)
        if group is None or why:
            self.composer.restore(text)
            self.notify(why, severity="warning", markup=False)
            return
        chat = self.view.kind == ChatEvent.TYPE
        editing_post = mode is not None and mode.kind == "edit" and mode.row.kind != ChatEvent.TYPE
        limit = MAX_CHAT_CHARS if chat and not editing_post else MAX_POST_CHARS
        if len(text) > limit:  # refused here, while it can still be shortened
            self.composer.restore(text)
            where = " (a longer text can go to the feed: ctrl+t)" if chat else ""
            self.notify(
                f"too long: {len(text):,} characters, at most {limit:,}{where}",
                severity="warning",
                markup=False,
            )
            return
        self.timeline.action_last()  # what you send is in view, as is what follows
        self.timeline.selected = None
        if not await editing.send(self, group.group, text, mode):
            send = self.client.send_chat if chat else self.client.send_post
            await send(group.group, text)
        await self.client.save_draft(group.group, self.composer.draft)

    async def open_direct(self, user: int, name: str) -> None:
        """The direct chat with someone, or a new one if none exists yet."""
        direct = await self.client.direct_with(user)
        if direct is not None:
            await self.open_group(direct)
        else:
            self.composer.set_mode(None, clear=True)  # as open_group
            await self.save_draft()
            self.view.new_direct = (user, name)
            await self._show_new_direct()
        self.action_to_composer()

    async def _show_new_direct(self) -> None:
        """The view while writing the first message to someone."""
        assert self.view.new_direct is not None
        user, name = self.view.new_direct
        self.view.group = None
        rows = await self.client.pending_direct(user)
        self.timeline.show(rows, more_above=False)
        self.part(Title).show_direct(name)
        self.part(Details).show(None, None)
        self.composer.placeholder = Content(f"Write to @{clean_line(name)} · Enter sends")

    @on(Composer.Changed)
    def _draft_changed(self) -> None:
        self.save_draft_later()

    @work(exclusive=True, group="draft")
    async def save_draft_later(self) -> None:
        await asyncio.sleep(0.5)  # one write per pause in typing, not per key
        with contextlib.suppress(Closing):
            await self.save_draft()

    # -- actions ----------------------------------------------------------------------------------

    def action_help(self) -> None:
        async def show(gate: Gate) -> None:
            from .screens.help import HelpScreen  # loaded on first use, not at start-up

            await self.ask(HelpScreen(), gate)

        self.dialog_flow("help", show)

    def action_command_palette(self) -> None:
        """The quick switcher: Textual's command palette, as a dialog of the app."""

        async def show(gate: Gate) -> None:
            from .screens.switcher import QuickSwitcher

            await self.ask(QuickSwitcher(), gate)  # it runs the command chosen

        self.dialog_flow("switcher", show)

    async def action_toggle_kind(self) -> None:
        self.composer.set_mode(None, clear=True)  # as open_group: an edit ends here
        self.view.kind = PostEvent.TYPE if self.view.kind == ChatEvent.TYPE else ChatEvent.TYPE
        await self._open(self.view.group)

    async def _step_group(self, step: int) -> None:
        row = self.groups.neighbour(self.view.group.group if self.view.group else None, step)
        if row is not None:
            await self.open_group(row)

    async def action_next_group(self) -> None:
        await self._step_group(1)

    async def action_previous_group(self) -> None:
        await self._step_group(-1)

    async def action_next_active(self) -> None:
        """The next group with unread messages after this one, mentions first."""
        row = self.groups.next_active(self.view.group.group if self.view.group else None)
        if row is None:
            self.notify("nothing unread", markup=False)
        else:
            await self.open_group(row)

    def action_toggle_groups(self) -> None:
        self._toggle("groups")

    def action_toggle_details(self) -> None:
        self._toggle("details")

    def _toggle(self, pane: str) -> None:
        screen = self.screen_stack[0]
        if screen.has_class("narrow"):
            screen.toggle_class(f"-{pane}-shown")
        else:
            screen.toggle_class(f"-{pane}-hidden")

    def action_reconnect(self) -> None:
        self.engine.retry_now()

    # The dialogs are imported when first opened: start-up does not pay for them.

    def action_directory(self) -> None:
        from .screens.people import open_directory

        self.dialog_flow("directory", partial(open_directory, self))

    def action_requests(self) -> None:
        from .screens.people import answer_requests

        self.dialog_flow("requests", partial(answer_requests, self))

    def action_settings(self) -> None:
        from .screens.settings import edit_settings

        self.dialog_flow("settings", partial(edit_settings, self))

    async def action_quit(self) -> None:
        if self.composer.in_flight and self._quit_waits < QUIT_WAITS:
            # Lines sent (Enter) just before: they are on their way to the app,
            # behind this key. Quit after them, not over them.
            self._quit_waits += 1
            self.set_timer(0.01, self.action_quit)
            return
        await self.save_draft()
        for screen in self.screen_stack:  # a comment begun in a post view, the inbox read
            leaving = getattr(screen, "before_quit", None)
            if leaving is not None:
                await leaving()
        await self._share_read_before_quitting()
        await self.engine.stop()
        self.exit(0)

    async def _share_read_before_quitting(self) -> None:
        """The open group's read marker, for my other devices: queued, and
        given a moment to leave when online (else it leaves next time)."""
        group = self.view.group
        if group is None or not group.member:
            return
        if await self.client.share_read(group.group) is None or not self.engine.online:
            return
        for _ in range(MARKER_WAITS):
            if not self.engine.status.outbox:
                return
            await asyncio.sleep(0.02)


def run_tui(
    account: Account,
    *,
    app_class: type[RseApp] = RseApp,
    headless: bool = False,
    typeahead: Typeahead | None = None,
) -> int:
    """Open the app on a saved profile; returns the exit code.

    A crash exits non-zero: Textual prints the traceback and sets the app's
    return code, while ``run()`` itself returns None.
    """
    cache = account.open_cache()
    engine = Engine(cache, url=account.settings.url, token=account.token, ca_file=account.ca_file)
    try:
        app = app_class(engine, account.settings.name)
        app.typeahead = typeahead.take() if typeahead is not None else ""
        result = app.run(headless=headless)
    finally:
        engine.close()
    if app.cache_failure is not None:
        raise app.cache_failure
    if app.return_code:
        return app.return_code
    return int(result or 0)
