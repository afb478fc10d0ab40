"""The post view: a post (or a chat message) with its comments (or replies),
reactions, poll and acknowledgement, and a composer for the next comment.

It opens with Enter on a post or message (the timeline, the portal, the
inbox) from the cache at once, then shows what the server answers. Typing
goes to its composer, as on the main screen: a comment on a post, a reply in
a chat message's thread (``send_chat(reply=...)``). A comment written
offline waits in the outbox, shown as waiting, and leaves once when the link
returns.

Esc goes back (with a comment half written, it selects the post first: the
text stays, and comes back if the post is opened again). The keys that act
on the post work once it is selected on purpose: Tab in the composer (or ↑
in an empty one) selects it; then ↑↓ move between the post, its poll's
options and the comments, 1-9 choose options, Enter votes, ``a``
acknowledges, ``+`` and ``:`` react, ``e`` edits; any other letter is typed
into the composer. An action done, typing is text again (the composer has
the keys). Each key there decides where the next keys go
(``screens.dialog``): they wait until it has acted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from rse_tui.protocol import MAX_CHAT_CHARS, MAX_TITLE_CHARS, ChatPolicy, Kind, ProtocolError
from rse_tui.sync.engine import LinkDown, Offline
from rse_tui.sync.models import Changes, GroupRow, MessageRow, Thread
from rse_tui.textsafe import clean, clean_line, editable

from .. import keys
from ..render import replies_label
from ..widgets.composer import Composer, Mode
from ..widgets.feed import (
    ballots_line,
    head_line,
    option_line,
    poll_head,
    reactions_line,
    reply_block,
    title_line,
    with_my_ballot,
)
from ..widgets.field import Field
from ..widgets.markdown import SafeMarkdown
from ..widgets.panes import StatusBar
from .dialog import Answers, Follows

if TYPE_CHECKING:
    from ..gates import Gate
    from ..surface import AppSurface


class PostComposer(Composer):
    """The post view's composer: Enter hands the text to the post view."""

    KEYS = ("post_composer", "composer")
    WHEN_EMPTY = frozenset({"edit_last", "to_post"})

    class Written(Message):
        bubble = False  # the post view's alone (the app sends the main composer's)

        def __init__(self, text: str, mode: Mode | None) -> None:
            super().__init__()
            self.text = text
            self.mode = mode

    def __init__(self, *, id: str | None = None, scratch_dir: Any = None) -> None:
        super().__init__(id=id, scratch_dir=scratch_dir)
        # Of the app's keys, those that make sense over a post.
        self._app_keys = {
            k: a for k, a in keys.actions("app").items() if a in ("quit", "reconnect")
        }

    @property
    def view(self) -> PostScreen:
        return cast(PostScreen, self.screen)

    def action_send(self) -> None:
        text = self.text
        if text.strip():
            mode = self.mode
            self.clear()  # taken and cleared in one step, as the main composer
            self._restored = ""
            self.set_mode(None)
            self.view.post_message(self.Written(text, mode))

    async def action_escape(self) -> None:
        """Esc leaves an edit; else goes back, a comment begun kept for the
        post (found by a new user: with text, Esc selected the post, and the
        ↓ Enter meant for Home voted in its poll)."""
        if self.mode is not None:
            self.set_mode(None, clear=True)
            self.view.edit_ended()
        else:
            self.view.action_close()

    def action_to_post(self) -> None:
        self.view.select(len(self.view.items) - 1)

    def action_title(self) -> None:
        """Tab: to the post (to act on it), or, editing a post, to its title."""
        self.view.to_title()


class PostPane(VerticalScroll, can_focus=True, inherit_bindings=False):
    """The post and its comments. Its keys are the post view's (see ``decide``)."""

    def on_focus(self) -> None:
        cast(PostScreen, self.screen).highlight()

    def on_blur(self) -> None:
        cast(PostScreen, self.screen).highlight()


class TitleField(Field):
    """A post's title, while the post is edited: Enter saves, Tab goes back
    (the post view acts on both: see ``PostScreen.decide``).

    Focused, it puts the cursor at the end, nothing selected: what is typed
    right behind the Tab adds to the title (found by a new user: "Tab End
    more" in one burst replaced the whole title with " more")."""

    def __init__(self, *, id: str | None = None, placeholder: str = "") -> None:
        super().__init__(id=id, placeholder=placeholder, select_on_focus=False)

    def on_focus(self) -> None:
        self.cursor_position = len(self.value)


def why_not_write(group: GroupRow | None, root: MessageRow) -> str:
    """Why I may not comment on (or reply to) ``root`` here ("" when I may)."""
    what = "comment" if root.kind == Kind.POST else "reply"
    if group is None or not group.in_group:
        return f"Join the group to {what} (the groups pane, or /join)"
    policy = group.comment_policy if root.kind == Kind.POST else group.chat_policy
    name = clean_line(group.name)
    if policy == ChatPolicy.EVERYONE or (policy == ChatPolicy.MODERATORS and group.moderator):
        return ""
    if policy == ChatPolicy.NOBODY:
        return f"No one may {what} in #{name}"
    return f"In #{name}, only moderators may {what}"


class PostScreen(Answers, Follows, Screen[None]):
    DEFAULT_CSS = """
    PostScreen { layout: vertical; }
    PostScreen #post-bar { height: 1; padding: 0 1; background: $panel;
        text-wrap: nowrap; text-overflow: ellipsis; }
    PostScreen PostPane { height: 1fr; padding: 0 1 0 0; }
    PostScreen PostPane:focus { background-tint: $foreground 3%; }
    PostScreen .item { height: auto; border-left: blank; padding: 0 0 0 1; }
    PostScreen .item.-selected { border-left: thick $accent; }
    PostScreen #root { margin-bottom: 1; }
    PostScreen #root-title { text-style: bold; }
    PostScreen #poll, PostScreen #options, PostScreen #replies { height: auto; }
    PostScreen #poll { margin-bottom: 1; }
    PostScreen .option { text-wrap: nowrap; text-overflow: ellipsis; }
    PostScreen .reply { margin-bottom: 1; }
    PostScreen #replies-head, PostScreen #poll-head, PostScreen #poll-ballots,
    PostScreen #more { padding: 0 0 0 2; }
    PostScreen SafeMarkdown > MarkdownBlock:first-child { margin-top: 0; }
    PostScreen SafeMarkdown > MarkdownBlock:last-child { margin-bottom: 0; }
    PostScreen #root-reactions, PostScreen #root-ack { margin-top: 1; }
    PostScreen SafeMarkdown MarkdownHeader { margin: 1 0 0 0; }
    PostScreen #title-field { display: none; }
    PostScreen.-titled #title-field { display: block; }
    """

    def __init__(self, thread: Thread, *, focus_on: int | None = None) -> None:
        super().__init__()
        self.thread = thread
        self.root = thread.root
        self.ballots = thread.ballots
        self.more = thread.more
        self.focus_on = focus_on
        self.cursor = 0
        #: The poll's options chosen here, not yet voted (they start as my vote).
        self.choices: set[int] = set(self._mine())
        self.sent_vote: tuple[int, ...] | None = None
        self.sent_ack = False
        self.gone = False
        #: The comment being written here, as last typed (None: untouched).
        self.draft: str | None = None
        #: A comment or reply of mine was just written: show the end once drawn.
        self.follow = False
        self.online = thread.online
        self.reactors: list[tuple[str, list[str]]] = []
        #: The poll's results when the ballots were asked for (None: not yet).
        self.ballot_counts: tuple[int, ...] | None = None
        self.my_name = ""
        #: Where each key that decides was typed (see ``decides``).
        self._typed_in: dict[int, Widget | None] = {}
        self._keys = keys.actions("post")
        numbered = (k for k in keys.KEYMAP if k.where == "post" and k.numbered)
        self._numbered = {key for k in numbered for key in k.keys.split(",")}

    @property
    def surface(self) -> AppSurface:
        return cast("AppSurface", self.app)

    @property
    def composer(self) -> PostComposer:
        return self.query_one(PostComposer)

    @property
    def pane(self) -> PostPane:
        return self.query_one(PostPane)

    @property
    def post_selected(self) -> bool:
        """The post (or one of its parts) is selected on purpose: its keys act."""
        return self.focused is self.pane

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="post-bar")
        with PostPane():
            with Vertical(id="root", classes="item"):
                yield Static(id="root-title")
                yield Static(id="root-head")
                if self.root.kind == Kind.POST:
                    yield SafeMarkdown(self.root.text, id="root-body")
                else:
                    yield Static(Text(clean(self.root.text)), id="root-body")
                yield Static(id="root-reactions")
                yield Static(id="root-ack")
            with Vertical(id="poll"):
                yield Static(id="poll-head")
                yield Vertical(id="options")
                yield Static(id="poll-ballots")
            yield Static(id="replies-head")
            yield Vertical(id="replies")
            yield Static(id="more")
        yield TitleField(id="title-field", placeholder="the post's title (empty: none)")
        yield PostComposer(id="post-composer", scratch_dir=self.surface.client.profile_dir)
        yield StatusBar(id="post-status")

    async def on_mount(self) -> None:
        self.my_name = (await self.surface.client.identity())[1] or ""
        if self.root.poll is not None and self.root.seq is not None:
            # A vote still waiting (made offline, the view closed since) is shown
            # as mine, waiting: found by a new user, it looked like no vote.
            waiting = await self.surface.client.pending_vote(self.root.seq)
            if waiting is not None:
                self.sent_vote = tuple(sorted(waiting))
                self.choices = set(waiting)
        await self.show_thread(self.thread)
        if self.root.seq is not None:
            self.composer.text = await self.surface.client.comment_draft(self.root.seq)
            self.composer.move_cursor(self.composer.document.end)
        self.composer.focus()
        if self.focus_on is not None:
            index = self._index_of(self.focus_on)
            if index is not None:
                self.cursor = index
                self.call_after_refresh(self._show_item, index)
        self.surface.show_status()
        if self.surface.client.online:
            self.ask_server()

    @property
    def items(self) -> list[Widget]:
        """What ↑↓ move between: the post, its poll's options, the comments."""
        return [
            self.query_one("#root"),
            *self.query_one("#options").children,
            *self.query_one("#replies").children,
        ]

    def _index_of(self, seq: int) -> int | None:
        if seq == self.root.seq:
            return 0
        options = len(self.query_one("#options").children)
        for n, row in enumerate(self.thread.replies):
            if row.seq == seq:
                return 1 + options + n
        return None

    def _row_at(self, index: int) -> MessageRow:
        """The message an item stands for (a poll option: the post)."""
        options = len(self.query_one("#options").children)
        if index > options and index - options - 1 < len(self.thread.replies):
            return self.thread.replies[index - options - 1]
        return self.root

    def _option_at(self, index: int) -> int | None:
        options = len(self.query_one("#options").children)
        return index - 1 if 0 < index <= options else None

    def _mine(self) -> tuple[int, ...]:
        poll = self.root.poll
        return poll.mine if poll is not None and poll.mine else ()

    # -- content -----------------------------------------------------------------------

    def _group(self) -> GroupRow | None:
        return next((r for r in self.surface.groups.rows if r.group == self.root.group), None)

    async def show_thread(self, thread: Thread) -> None:
        """Draw ``thread`` (the same post, as the cache or the server has it now)."""
        self.thread = thread
        self.root = root = thread.root
        if thread.online:
            self.ballots, self.more = thread.ballots, thread.more
            self.ballot_counts = root.poll.counts if root.poll is not None else ()
        if root.seq is not None:
            self.reactors = await self.surface.client.reactions(root.seq)
        now = self.surface.clock()
        plain = self.surface.plain_symbols
        group = self._group()
        name = group.name if group is not None else f"group {root.group}"
        self._bar(name)
        self._shown("#root-title", title_line(root))
        self.query_one("#root-head", Static).update(head_line(root, name, now))
        body = self.query_one("#root-body")
        if isinstance(body, SafeMarkdown):
            await body.show(root.text)
        elif isinstance(body, Static):
            body.update(Text(clean(root.text)))
        reactions = reactions_line(root, self.reactors, plain)
        self._shown("#root-reactions", reactions)
        self._shown("#root-ack", self._ack_text())
        await self._show_poll(now, plain)
        pane = self.pane
        # Reading the newest comments at the end, or just wrote one: what is
        # new comes into view, as in a chat (the composer hides the end).
        before = len(self.query_one("#replies").children)
        drawn = self.is_mounted and pane.max_scroll_y > 0
        at_end = drawn and pane.scroll_y >= pane.max_scroll_y - 1
        await self._show_replies(now, plain)
        self.highlight()
        self._placeholder()
        grew = len(thread.replies) > before
        # (The flag and the anchor go together: a draw cancelled by the next
        # one in between would leave the written comment out of view.)
        if self.follow or (grew and at_end):
            # Kept at the end as what follows is drawn (Textual's anchor),
            # until the user scrolls or selects away.
            pane.anchor()
            self.follow = False

    def _shown(self, selector: str, text: Text | str) -> None:
        widget = self.query_one(selector, Static)
        widget.display = bool(text.plain if isinstance(text, Text) else text)
        widget.update(text)

    def _bar(self, group: str) -> None:
        root = self.root
        what = "post" if root.kind == Kind.POST else "thread"
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("◂ Esc back", "bold")
        text.append(f"  #{clean_line(group)} · {what} #{root.seq}", "dim")
        if self.gone:
            text.append("  · deleted", "bold")
        elif not self.online:
            text.append("  · from the cache: offline", "italic")
        self.query_one("#post-bar", Static).update(text)

    def _ack_text(self) -> Text:
        root = self.root
        if not root.ack:
            return Text()
        if root.acked:
            return Text("Announcement: acknowledged ✓", style="bold")
        if self.sent_ack:
            return Text("Announcement: acknowledged · ⋯ waiting to send", style="italic")
        if root.user == self.surface.me:
            return Text("Announcement: its readers acknowledge it", style="bold")
        return Text("Announcement: please acknowledge it (Tab, then a)", style="bold")

    async def _show_poll(self, now: float, plain: bool) -> None:
        poll = self.root.poll
        box = self.query_one("#poll")
        box.display = poll is not None
        options = self.query_one("#options")
        if poll is None:
            await options.remove_children()
            return
        self._poll_head()
        have = list(options.children)
        if len(have) != len(poll.options):
            await options.remove_children()
            await options.mount_all(
                [Static(classes="item option") for _ in range(len(poll.options))]
            )
            have = list(options.children)
        for n, widget in enumerate(have):
            cast(Static, widget).update(
                option_line(poll, n, n in self.choices, plain, sent=self.sent_vote)
            )
        ballots = self.ballots
        if not poll.anonymous and self.my_name:
            ballots = with_my_ballot(ballots, self.my_name, poll.mine)
        self._shown("#poll-ballots", ballots_line(ballots) if ballots else Text())
        if (
            not poll.anonymous
            and poll.counts != self.ballot_counts
            and self.surface.client.online
            and self.is_mounted
        ):
            self.ask_server()  # someone voted: who, and for what, is the server's to say

    def _poll_head(self) -> None:
        poll = self.root.poll
        if poll is not None:
            head = poll_head(poll, self.surface.clock(), self.sent_vote, self.post_selected)
            self.query_one("#poll-head", Static).update(head)

    async def _show_replies(self, now: float, plain: bool) -> None:
        replies = self.thread.replies
        count = sum(1 for r in replies if r.seq is not None)
        head = replies_label(MessageRow(0, 0, self.root.kind, 0, "", 0, "", comments=count))
        what = "comments" if self.root.kind == Kind.POST else "replies"
        line = Text(f"── {head or 'no ' + what + ' yet'} ──", style="dim")
        self.query_one("#replies-head", Static).update(line)
        box = self.query_one("#replies")
        have = list(box.children)
        if len(have) > len(replies):
            for widget in have[len(replies) :]:
                await widget.remove()
            have = have[: len(replies)]
        if len(have) < len(replies):
            new = [Static(classes="item reply") for _ in range(len(replies) - len(have))]
            await box.mount_all(new)
            have += new
        for widget, row in zip(have, replies, strict=True):
            cast(Static, widget).update(reply_block(row, now, plain))
        self._shown("#more", "more on the server than shown here" if self.more else "")
        self.cursor = min(self.cursor, len(self.items) - 1)

    def _placeholder(self) -> None:
        if self.gone:
            hint = "This message was deleted · Esc goes back"
        elif self.post_selected:
            hint = self._selected_hint()
        else:
            why = why_not_write(self._group(), self.root)
            what = "a comment" if self.root.kind == Kind.POST else "a reply"
            acts = "react, edit…" if self.root.user == self.surface.me else "react…"
            if self.root.poll is not None:
                acts = "vote, react…"
            elif self.root.ack and not self.root.acked:
                acts = "acknowledge, react…"
            write = why or f"Write {what} · Enter sends"
            hint = f"{write} · Tab: {acts} · Esc back"
        self.composer.placeholder = Content(hint)

    def _selected_hint(self) -> str:
        """The keys that act on what is selected, and only those (found by a
        new user: at 80 columns the hint was cut, and it offered voting on a
        comment and editing others' posts)."""
        parts = []
        poll = self.root.poll
        on_post = self._option_at(self.cursor) is not None or self.cursor == 0
        if on_post and poll is not None and not self._may_vote():  # open, and mine to give
            parts.append("1-9 Enter vote")
        if on_post and self.root.ack and not self.root.acked and not self.sent_ack:
            parts.append("a got it")
        row = self._row_at(self.cursor)
        group = self._group()
        parts.append("+ : react")
        if row.user == self.surface.me:
            parts.append("e edit")
        if row.user == self.surface.me or (group is not None and group.moderator):
            parts.append("d delete")
        parts += ["↑↓", "Esc back"]
        return "Selected: " + " · ".join(parts)

    def highlight(self) -> None:
        focused = self.post_selected
        for n, item in enumerate(self.items):
            item.set_class(focused and n == self.cursor, "-selected")
        self._placeholder()
        self._poll_head()

    def _show_item(self, index: int) -> None:
        items = self.items
        if 0 <= index < len(items):
            self.pane.scroll_to_widget(items[index], animate=False, top=index == 0)

    # -- following the cache -------------------------------------------------------------

    def cache_changed(self, changes: Changes) -> None:
        if self.answered:  # closing
            return
        if (
            self.root.group in changes.messages
            or changes.outbox
            or changes.users
            or changes.home
            or changes.groups
        ):
            self.reload()

    @work(exclusive=True, group="reload")
    async def reload(self) -> None:
        with contextlib.suppress(NoMatches):  # closed meanwhile: its parts are gone
            await self._reload()

    async def _reload(self) -> None:
        if self.root.seq is None or self.answered:
            return
        thread = await self.surface.client.thread(self.root.seq, cached=True)
        if thread is None:
            self.gone = True
            self._bar(self._group_name())
            self._placeholder()
            return
        await self.show_thread(thread)

    def _group_name(self) -> str:
        group = self._group()
        return group.name if group is not None else f"group {self.root.group}"

    @work(group="ask")
    async def ask_server(self) -> None:
        """The thread as the server has it now: every comment, the ballots."""
        with contextlib.suppress(NoMatches):  # closed meanwhile: its parts are gone
            await self._ask_server()

    async def _ask_server(self) -> None:
        if self.root.seq is None or self.answered:
            return
        try:
            thread = await self.surface.client.thread(self.root.seq)
        except (Offline, LinkDown):
            self.online = False
            self._bar(self._group_name())
            return
        except ProtocolError as exc:  # deleted, or the group is out of reach now
            self.notify(clean_line(exc.message), severity="warning", markup=False)
            return
        self.online = True
        if thread is None:
            self.gone = True
            self._bar(self._group_name())
            return
        await self.show_thread(thread)

    # -- where keys go (see screens.dialog) ------------------------------------------------

    def decides(self, event: events.Key) -> bool:
        key = event.key
        if self.post_selected:
            decides = key in self._keys or event.is_printable or key in ("tab", "shift+tab")
        elif self.focused is self.composer:
            # The composer acts on these on their way (Tab selects the post):
            # the keys after them wait until it has.
            decides = key in ("escape", "up", "tab", "shift+tab")
        elif isinstance(self.focused, TitleField):
            decides = key in ("escape", "enter", "tab", "shift+tab")
        else:
            decides = super().decides(event)
        if decides:  # where it was typed: the focus may have moved when it acts
            self._typed_in[id(event)] = self.focused
        return decides

    def decide(self, event: events.Key) -> Awaitable[None] | None:
        key = event.key
        typed_in = self._typed_in.pop(id(event), None)
        if typed_in is self.composer:
            return None  # it acted on its way (to the post, to the title, up)
        if isinstance(typed_in, TitleField):
            if key == "enter":  # (a key sent round runs no binding: Enter is here)
                self.composer.action_send()
            else:  # Esc, Tab: back to the text
                self.composer.focus()
            return None
        if typed_in is not self.pane:
            return super().decide(event)
        if key in ("tab", "shift+tab"):
            self.composer.focus()
            return None
        action = self._keys.get(key)
        if action is None:
            if event.character and event.is_printable:  # typing: the composer's
                self.composer.focus()
                self.composer.insert(event.character)
            return None
        if key in self._numbered:
            self.action_toggle_option(int(key))
            return None
        result: Awaitable[None] | None = getattr(self, f"action_{action}")()
        return result

    def cancel(self) -> None:
        self.action_close()

    # -- actions -----------------------------------------------------------------------

    def select(self, index: int) -> None:
        items = self.items
        self.cursor = max(0, min(index, len(items) - 1))
        self.pane.focus()
        self.highlight()
        self._show_item(self.cursor)

    def action_select_previous(self) -> None:
        self.select(self.cursor - 1)

    def action_select_next(self) -> None:
        self.select(self.cursor + 1)

    def action_first(self) -> None:
        self.select(0)
        self.pane.scroll_home(animate=False)

    def action_last(self) -> None:
        self.select(len(self.items) - 1)

    def action_page_up(self) -> None:
        self.pane.scroll_page_up(animate=False)

    def action_page_down(self) -> None:
        self.pane.scroll_page_down(animate=False)

    def action_write(self) -> None:
        self.composer.focus()

    def action_close(self) -> None:
        self.dismiss(None)  # the comment begun is saved as it goes (on_unmount)

    async def save_draft(self) -> None:
        """A comment begun and left (closed, or the app quit): back in the
        composer when the post opens again, here or after a restart."""
        with contextlib.suppress(NoMatches):  # the text as typed so far, if still here
            if self.composer.mode is None and self.composer.text != (self.draft or ""):
                self.draft = self.composer.text
        if self.root.seq is not None and self.draft is not None:
            await self.surface.client.save_comment_draft(self.root.seq, self.draft)

    async def before_quit(self) -> None:
        await self.save_draft()

    @on(PostComposer.Changed)
    def _draft_changed(self) -> None:
        composer = self.composer
        if composer.mode is None:  # an edit's text is no draft
            self.draft = composer.text
            self.save_draft_later()

    @work(exclusive=True, group="post-draft")
    async def save_draft_later(self) -> None:
        await asyncio.sleep(0.5)  # one write per pause in typing, not per key
        await self.save_draft()

    def on_unmount(self) -> None:
        # However the view closes (Esc, a group opened over it, Home), the
        # last text goes to the cache: on the app, which outlives this view.
        if self.root.seq is not None and self.draft is not None:
            self.app.run_worker(
                self.surface.client.save_comment_draft(self.root.seq, self.draft),
                group="post-drafts",
            )

    def _may_vote(self) -> str:
        """Why I may not vote now ("" when I may)."""
        poll = self.root.poll
        if poll is None:
            return "there is no poll here"
        if poll.closed(self.surface.clock()):
            return "the poll is closed"
        if poll.anonymous and (poll.mine is not None or self.sent_vote is not None):
            return "you voted: an anonymous vote is final"
        group = self._group()
        if group is None or not group.in_group:
            return "only the group's members vote"
        return ""

    def action_toggle_option(self, number: int) -> None:
        self._toggle(number - 1)

    def action_toggle_selected(self) -> None:
        option = self._option_at(self.cursor)
        if option is None:
            self.notify("select a poll option first (↑↓), or use its number", markup=False)
            return
        self._toggle(option)

    def _toggle(self, option: int) -> None:
        poll = self.root.poll
        why = self._may_vote()
        if why or poll is None:
            self.notify(why, markup=False)
            return
        if not 0 <= option < len(poll.options):
            self.notify(f"the poll has {len(poll.options)} options", markup=False)
            return
        if option in self.choices:
            self.choices.discard(option)
        elif poll.multiple:
            self.choices.add(option)
        else:
            self.choices = {option}
        self._redraw_options()

    def _redraw_options(self) -> None:
        poll = self.root.poll
        if poll is None:
            return
        plain = self.surface.plain_symbols
        for n, widget in enumerate(self.query_one("#options").children):
            cast(Static, widget).update(
                option_line(poll, n, n in self.choices, plain, sent=self.sent_vote)
            )
        self._poll_head()

    async def action_vote_or_write(self) -> None:
        poll = self.root.poll
        option = self._option_at(self.cursor)
        if poll is None or self._may_vote():
            if poll is not None and (option is not None or self.choices != set(self._mine())):
                self.notify(self._may_vote(), markup=False)
                return
            self.action_write()
            return
        if option is not None and self.choices == set(self._mine()):
            self._toggle(option)  # Enter on an option chooses it, and votes
        if not self.choices:
            self.notify("choose an option first (1-9)", markup=False)
            return
        if self.choices == set(self._mine()):
            self.action_write()
            return
        chosen = tuple(sorted(self.choices))
        assert self.root.seq is not None
        await self.surface.client.vote(self.root.seq, list(chosen))
        self.sent_vote = chosen
        self._redraw_options()
        self.action_write()  # one action; then typing is text again

    async def action_acknowledge(self) -> None:
        root = self.root
        if not root.ack:
            self.notify("only announcements are acknowledged", markup=False)
        elif root.acked or self.sent_ack:
            self.notify("you acknowledged it already", markup=False)
        elif root.seq is not None:
            await self.surface.client.acknowledge(root.seq)
            self.sent_ack = True
            self._shown("#root-ack", self._ack_text())
        self.action_write()

    async def action_react_plus_one(self) -> None:
        row = self._row_at(self.cursor)
        if row.seq is None:
            self.notify(_unsent(row), markup=False)
            return
        mine = any(word == "+1" and me for word, _, me in row.reactions)
        await self.surface.client.react(row.seq, "+1", on=not mine)
        self.action_write()

    def action_react_picker(self) -> None:
        row = self._row_at(self.cursor)
        if row.seq is None:
            self.notify(_unsent(row), markup=False)
            return
        from .picker import pick_reaction

        async def flow(gate: Gate) -> None:
            await pick_reaction(self.surface, row, gate)
            self.action_write()

        self.surface.dialog_flow("react", flow)

    def action_delete_selected(self) -> None:
        """``d``: delete the selected post or comment (one's own, or as a
        moderator) after a Delete chosen on purpose; one the server refused:
        drop it."""
        row = self._row_at(self.cursor)
        client = self.surface.client
        if row.seq is None:
            if row.error is not None and row.cid is not None:
                self.surface.run_worker(client.discard(row.cid))
                self.notify("dropped: it was not sent", markup=False)
                self.reload()
            else:
                self.notify(_unsent(row), markup=False)
            return
        group = self._group()
        if row.user != self.surface.me and not (group is not None and group.moderator):
            self.notify("you may delete your own only", markup=False)
            return
        from .charter import ConfirmScreen

        seq, preview = row.seq, clean_line(row.title or row.text)[:60]

        async def ask(gate: Gate) -> None:
            yes = await self.surface.ask(ConfirmScreen(f"Delete for everyone: “{preview}”?"), gate)
            if yes:
                await client.delete(seq)
                if seq == self.root.seq:
                    self.action_close()
                    return
                self.reload()
            with contextlib.suppress(NoMatches):
                self.composer.focus()

        self.surface.dialog_flow("delete", ask)

    def action_edit_selected(self) -> None:
        row = self._row_at(self.cursor)
        if row.user != self.surface.me:
            self.notify("you may edit your own only", markup=False)
            return
        if row.seq is None and (row.error is not None or row.cid is None):
            self.notify(_unsent(row), markup=False)
            return
        composer = self.composer
        composer.set_mode(Mode("edit", row))  # one waiting: its text is rewritten
        if composer.mode is None:  # refused: something is being written
            composer.focus()
            return
        if row is self.root and row.kind == Kind.POST:
            title = self.query_one(TitleField)
            title.value = row.title or ""
            self.add_class("-titled")
            composer.border_title = Content("editing the post · Tab: its title · Enter saves")
        composer.focus()

    def edit_ended(self) -> None:
        self.remove_class("-titled")

    def to_title(self) -> None:
        if self.has_class("-titled"):
            self.query_one(TitleField).focus()
        else:
            self.select(self.cursor)

    # -- sending -----------------------------------------------------------------------

    async def on_post_composer_written(self, message: PostComposer.Written) -> None:
        text, mode = message.text, message.mode
        client = self.surface.client
        composer = self.composer
        if mode is not None and mode.kind == "edit":
            await self._save_edit(text, mode.row)
            return
        why = "this message was deleted" if self.gone else why_not_write(self._group(), self.root)
        if not why and len(text) > MAX_CHAT_CHARS:
            why = f"too long: {len(text):,} characters, at most {MAX_CHAT_CHARS:,}"
        if why or self.root.seq is None:
            composer.restore(text)
            self.notify(why, severity="warning", markup=False)
            return
        self.follow = True
        if self.root.kind == Kind.POST:
            await client.comment(self.root.seq, text)
        else:
            await client.send_chat(self.root.group, text, reply=self.root.seq)
        if self.draft:  # sent: no draft left of it (only what is typed after it)
            self.draft = composer.text if composer.mode is None else ""
            await client.save_comment_draft(self.root.seq, self.draft)
        self.reload()

    async def _save_edit(self, text: str, row: MessageRow) -> None:
        titled = self.has_class("-titled") and row is self.root
        title: str | None = None
        if titled:
            typed = self.query_one(TitleField).value.strip()
            if len(typed) > MAX_TITLE_CHARS:
                self.composer.set_mode(Mode("edit", row))
                self.composer.text = text
                self.notify(f"a title has at most {MAX_TITLE_CHARS} characters", markup=False)
                return
            title = typed if typed != (row.title or "") else None
        self.edit_ended()
        self.composer.focus()
        if text == editable(row.text) and title is None:
            return  # unchanged
        client = self.surface.client
        seq = row.seq
        if seq is None and row.cid is not None:
            # Still waiting to be sent: its text is rewritten in the outbox,
            # or, gone meanwhile, it is edited once stored.
            if await client.rewrite_unsent(row.cid, text):
                self.reload()
                return
            seq = await client.stored_as(row.cid)
        if seq is None:
            self.composer.set_mode(Mode("edit", row))
            self.composer.text = text
            self.notify("that one is being sent: Enter saves this once it is stored",
                        markup=False)  # fmt: skip
            return
        await client.edit(seq, text, title=title)

    def on_screen_resume(self) -> None:
        self.surface.show_status()


def _unsent(row: MessageRow) -> str:
    """Why a comment or reply cannot be acted on yet: it was never stored."""
    if row.error is not None:
        return f"that one was not sent: {clean_line(row.error)}"
    return "that one is still waiting to be sent"


async def open_post(app: AppSurface, target: int, gate: Gate) -> None:
    """Show message ``target`` in its context: a post with its comments (a
    comment: its post's), a chat message's thread (a reply: the thread of
    the message it answers)."""
    client = app.client
    try:
        thread = await client.thread(target, cached=True)
        if thread is None and client.online:
            thread = await client.thread(target)
        if thread is not None and thread.root.kind == Kind.CHAT and thread.root.reply:
            parent = await client.thread(thread.root.reply, cached=True)
            if parent is None and client.online:
                parent = await client.thread(thread.root.reply)
            thread = parent or thread
    except (Offline, LinkDown):
        thread = None
    except ProtocolError as exc:
        app.notify(clean_line(exc.message), severity="warning", markup=False)
        return
    if thread is None:
        app.notify(
            "that message is not here: it opens when online"
            if not client.online
            else "that message is gone",
            markup=False,
        )
        return
    root = thread.root
    seen = root.kind == Kind.POST and root.seq is not None and await client.see_post(root.seq)
    await app.ask(PostScreen(thread, focus_on=target), gate)
    if seen and app.view.home:
        app.refresh_portal()  # the post is read now
