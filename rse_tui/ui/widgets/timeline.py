"""The message list: a line-based scroll view, fast at any history length.

One widget per message does not scale in Textual, so this is one widget that
paints lines: each loaded row is rendered once to strips (per width) and
``render_line`` returns the strip for a screen row. Older rows are loaded a
page at a time when the view reaches the top (``NeedOlder``).

Where the view is: a group opens at its newest message, or at the first
unread one under a "new" line when the unread messages do not fit. While
the view shows the newest line it follows what arrives; scrolled up, it
stays put and its last line counts what arrived below ("3 new ↓ PgDn").
Between the rows are lines that are not messages: the day, the start of
the history, "no messages yet". A short history sits at the bottom of the view.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from rse_tui.sync.models import MessageRow

from .. import keys
from ..render import MUTED, clock, day_key, day_label, row_lines

_GUTTER = 2
_MARK = Segment("▌ ", Style(bold=True, color="cyan"))
_NO_MARK = Segment("  ", Style())
_NEW = Style(color="red", bold=True)
_NOT_A_ROW = -1


def _key(row: MessageRow) -> tuple[str, int | str]:
    return ("s", row.seq) if row.seq is not None else ("c", row.cid or "")


#: Shown where the cache holds none of a group's history (a group left, or
#: joined) and it is not being fetched: offline, say.
EARLIER_ON_SERVER = "earlier messages are on the server: shown when online"


class Timeline(ScrollView, can_focus=True):
    """Messages of one group and kind, oldest at the top.

    No message is selected until the user asks (an arrow key here, alt+up in
    the composer); only then do the letters of the key table act on one, and
    any other letter goes to the composer. Its bindings act as the app
    receives each key, so a selection made in a burst of keys holds for the
    keys after it.
    """

    BINDINGS = keys.bindings("timeline", priority=True)
    DEFAULT_CSS = """
    Timeline {
        height: 1fr; background: $surface;
        /* Lines are laid out to the width left by a scrollbar that is always
           there: no horizontal scrolling, no width change when one appears. */
        overflow-x: hidden; scrollbar-gutter: stable; scrollbar-size-vertical: 1;
    }
    Timeline:focus { background-tint: $foreground 3%; }
    """

    selected: reactive[int | None] = reactive(None, layout=False)

    class NeedOlder(Message):
        """The view reached the oldest loaded row and more may exist."""

    class Picked(Message):
        def __init__(self, row: MessageRow | None) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(id=id)
        self._clock = clock
        self.rows: list[MessageRow] = []
        self.more_above = False
        #: Older rows are being fetched (not Textual's ``loading``, whose
        #: indicator covers the list and keeps it from taking the focus: alt+↑
        #: then selected nothing, and the letters after it were typed).
        self.fetching = False
        #: ``@me``, ``@here``...: highlighted in messages (set by the app).
        self.mention: re.Pattern[str] | None = None
        self.empty_text = "No messages yet."
        self._rendered: dict[tuple[str, int | str], list[Strip]] = {}
        self._lines: list[Strip] = []
        self._line_rows: list[int] = []
        self._row_starts: list[int] = []
        self._width = 0
        self._letters = {
            k
            for routed in (False, True)
            for k in keys.actions("timeline", routed=routed)
            if len(k) == 1 or k in keys.PRINTABLE_NAMES
        }
        self._follow = True  # the view shows the newest line and keeps doing so
        self._unseen = 0  # rows that arrived below while scrolled up
        self._first_unread: int | None = None  # seq under the "new" line
        self._deleted: set[int | None] = set()
        self._land_when_sized = False

    # -- content -------------------------------------------------------------------

    def show(
        self, rows: Sequence[MessageRow], *, more_above: bool, first_unread: int | None = None
    ) -> None:
        """Replace the content (another group): at the newest row, or at the
        first unread one (``first_unread``, a seq) when the unread do not fit."""
        self.rows = list(rows)
        self.more_above = more_above
        self.fetching = False
        self._rendered.clear()
        self._deleted.clear()
        self._first_unread = first_unread
        self._unseen = 0
        self.selected = None
        self._follow = True
        self._layout()
        # Not laid out yet (shown again after Home): it lands once it has a size.
        self._land_when_sized = not self.scrollable_content_region.height
        self._land()

    def _land(self) -> None:
        """Scroll to where a reader starts: the "new" line if the unread are
        taller than the view, else the newest line."""
        marker = self._marker_line()
        height = self.scrollable_content_region.height
        if marker is not None and height and len(self._lines) - marker > height:
            self._follow = False
            self.scroll_to(y=marker, animate=False, immediate=True, force=True)
            self._unseen = self._rows_below()  # "12 new ↓ PgDn": how many wait below
        else:
            self._follow = True
            self.scroll_end(animate=False, immediate=True, force=True)

    def _marker_line(self) -> int | None:
        if self._first_unread is None:
            return None
        for index, row in enumerate(self.rows):
            if row.seq is not None and row.seq >= self._first_unread:
                return self._row_starts[index] - 1  # the "new" line itself
        return None

    def prepend(self, rows: Sequence[MessageRow], *, more_above: bool) -> None:
        """Add older rows above, keeping what is on screen in place. Rows not
        older than the oldest one shown are left out: a page asked for while
        only waiting rows were shown is the newest page, which the view may
        have been given meanwhile (it was shown twice)."""
        self.more_above = more_above
        self.fetching = False
        oldest = self.oldest_seq
        if oldest is not None:
            rows = [r for r in rows if r.seq is not None and r.seq < oldest]
        else:
            held = {r.seq for r in self.rows}
            rows = [r for r in rows if r.seq is not None and r.seq not in held]
        before = len(self._lines)
        if rows:
            # Replies read before what they answer was here: quoted now.
            older = {r.seq: r for r in rows if r.seq is not None}
            later = [
                replace(r, quote=f"{older[r.reply].author}: {older[r.reply].text}")
                if r.reply in older and r.quote is None
                else r
                for r in self.rows
            ]
            for r, was in zip(later, self.rows, strict=True):
                if r is not was:
                    self._rendered.pop(_key(r), None)
            self.rows = [*rows, *later]
            if self.selected is not None:
                self.selected += len(rows)
        self._layout()
        self.scroll_to(
            y=self.scroll_offset.y + len(self._lines) - before,
            animate=False,
            immediate=True,
            force=True,
        )

    def extend(
        self,
        newer: Sequence[MessageRow],
        pending: Sequence[MessageRow],
        first_unread: int | None = None,
    ) -> None:
        """Append rows newer than the newest loaded one; replace the pending rows.

        The view follows new rows when it was showing the newest one; when
        scrolled up, it counts them instead. When more unread rows arrive at
        once than the view holds (a catch-up after being away), it stops at
        the first of them, under the "new" line.
        """
        confirmed = [r for r in self.rows if r.seq is not None]
        top = confirmed[-1].seq if confirmed else 0
        assert top is not None
        arrived = [r for r in newer if (r.seq or 0) > top]
        known = {r.cid for r in self.rows if r.seq is None}
        self.rows = [*confirmed, *arrived, *pending]
        if not self._follow:
            self._unseen += sum(1 for r in arrived if r.cid not in known)
        if self.selected is not None and self.selected >= len(self.rows):
            self.selected = len(self.rows) - 1 if self.rows else None
        self._layout()
        if first_unread is not None and self._first_unread is None and self._follow:
            # Read as they arrive while they fit; a catch-up taller than the
            # view stops at its first message instead of scrolling past it.
            start = next(
                (self._row_starts[i] for i, r in enumerate(self.rows) if r.seq == first_unread),
                None,
            )
            height = self.scrollable_content_region.height
            if start is not None and not height:
                # Not laid out yet (just shown again after Home): it lands,
                # at the "new" line if the unread are taller, once it has a size.
                self._first_unread = first_unread
                self._land_when_sized = True
                self._layout()
            elif start is not None and len(self._lines) - start > height:
                self._first_unread = first_unread
                self._follow = False
                self._layout()
                self._land()

    def _rows_below(self) -> int:
        """How many rows start below the bottom of the view."""
        bottom = self.scroll_offset.y + self.scrollable_content_region.height
        return sum(1 for start in self._row_starts if start >= bottom)

    def drop(self, seqs: Sequence[int]) -> None:
        """Show deleted messages as deleted (until the group is opened again)."""
        gone = {r.seq for r in self.rows if r.seq in set(seqs)}
        if not gone:
            return
        # The text goes at once; the row stays as a placeholder.
        self.rows = [replace(r, text="") if r.seq in gone else r for r in self.rows]
        for seq in gone:
            self._deleted.add(seq)
            self._rendered.pop(("s", seq), None)
        self._layout()

    def replace(self, rows: Sequence[MessageRow]) -> None:
        """Draw these rows again (a pin changed, an author's name became known)."""
        fresh = {r.seq: r for r in rows if r.seq is not None}
        if not any(r.seq in fresh for r in self.rows):
            return
        self.rows = [fresh.get(r.seq, r) if r.seq is not None else r for r in self.rows]
        for seq in fresh:
            self._rendered.pop(("s", seq), None)
        self._layout()

    def history_complete(self, complete: bool) -> None:
        """Whether the loaded rows reach the start of the history (nothing above)."""
        if self.more_above == complete:
            self.more_above = not complete
            self._layout()

    @property
    def newest_seq(self) -> int:
        return max((r.seq for r in self.rows if r.seq is not None), default=0)

    # -- layout --------------------------------------------------------------------

    def _note(self, text: str, style: Style, width: int) -> Strip:
        """A line that is not a message: ``──── Today ────``."""
        label = f" {text} "
        side = max(width - len(label), 2) // 2
        line = Text("─" * side + label + "─" * side, style=style, no_wrap=True)
        return Strip(line.render(self.app.console)).crop(0, width)

    def _row_strips(self, row: MessageRow, width: int, now: float) -> list[Strip]:
        key = _key(row)
        strips = self._rendered.get(key) if row.seq is not None else None
        if strips is None:
            if row.seq in self._deleted:
                text = Text(f"{clock(row.ts)} {row.author}: message deleted", style=MUTED)
                strips = [Strip(text.render(self.app.console))]
            else:
                plain = bool(getattr(self.app, "plain_symbols", False))
                strips = row_lines(row, self.app.console, width, now, self.mention, plain)
            if row.seq is not None:
                self._rendered[key] = strips
        return strips

    def _layout(self) -> None:
        width = max(self.scrollable_content_region.width - _GUTTER, 10)
        if width != self._width:
            self._rendered.clear()
            self._width = width
        now = self._clock()
        lines: list[Strip] = []
        owners: list[int] = []
        starts: list[int] = []

        def note(text: str, style: Style = MUTED) -> None:
            lines.append(self._note(text, style, width))
            owners.append(_NOT_A_ROW)

        if not self.more_above and not self.fetching:
            note("start of the history" if self.rows else self.empty_text)
        elif not self.rows and not self.fetching:
            # Nothing here, but the server has its history: say so, not a blank pane.
            note(EARLIER_ON_SERVER)
        day = None
        for index, row in enumerate(self.rows):
            if day_key(row.ts) != day:
                day = day_key(row.ts)
                note(day_label(row.ts, now))
            if self._first_unread is not None and row.seq == self._first_unread:
                note("new", _NEW)
            starts.append(len(lines))
            strips = self._row_strips(row, width, now)
            lines.extend(strips)
            owners.extend([index] * len(strips))
        self._lines, self._line_rows, self._row_starts = lines, owners, starts
        self.virtual_size = Size(width + _GUTTER, len(lines))
        if self._follow:
            self.scroll_end(animate=False, immediate=True, force=True)
        self.refresh()
        height = self.scrollable_content_region.height
        if height and len(lines) < height:
            # The top is in view already, and no scrolling will reach it: a
            # few new messages over a history the cache does not hold yet.
            self._want_older()

    def _want_older(self) -> None:
        # Older than a stored row: with only waiting rows, "older" would be
        # the newest page, which the view gets as new rows anyway.
        if self.more_above and not self.fetching and self.oldest_seq is not None:
            self.fetching = True
            self.post_message(self.NeedOlder())

    def on_resize(self) -> None:
        self._layout()
        if self._land_when_sized and self.scrollable_content_region.height:
            self._land_when_sized = False
            self._land()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        height = self.scrollable_content_region.height
        # Fewer lines than the view: they sit at the bottom, by the composer,
        # where new ones appear (as in a terminal).
        index = self.scroll_offset.y + y - max(height - len(self._lines), 0)
        if self._unseen and not self._follow and y == height - 1:
            label = f"{self._unseen} new ↓ PgDn"
            return self._note(label, _NEW, width).apply_style(self.rich_style)
        if not 0 <= index < len(self._lines):
            return Strip.blank(width, self.rich_style)
        mark = _MARK if self._line_rows[index] == self.selected else _NO_MARK
        # Every segment gets the widget's style as its base: a segment without
        # one breaks the NO_COLOR filter, which reads each segment's colours.
        strip = Strip([mark, *self._lines[index]]).apply_style(self.rich_style)
        return strip.crop_extend(0, width, self.rich_style)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._follow = new >= self.max_scroll_y
        if self._follow:
            self._unseen = 0
        elif self._unseen:  # those scrolled into view are seen
            self._unseen = min(self._unseen, self._rows_below())
        if new < 1:
            self._want_older()

    def watch_selected(self, old: int | None, new: int | None) -> None:
        self.refresh()
        self.post_message(self.Picked(self.rows[new] if new is not None and self.rows else None))

    # -- keys ----------------------------------------------------------------------

    def claims(self, key: str) -> bool:
        """Whether a printable key is a command here: only with a message selected."""
        return self.selected is not None and key in self._letters

    def _select(self, index: int) -> None:
        if not self.rows:
            return
        index = max(0, min(index, len(self.rows) - 1))
        self.selected = index
        start = self._row_starts[index]
        end = self._row_starts[index + 1] if index + 1 < len(self.rows) else len(self._lines)
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        if start < top:
            self.scroll_to(y=start, animate=False, immediate=True, force=True)
        elif end > top + height:
            self.scroll_to(y=max(end - height, 0), animate=False, immediate=True, force=True)
        if index == 0:
            self._want_older()

    def action_select_previous(self) -> None:
        self._select((self.selected if self.selected is not None else len(self.rows)) - 1)

    def action_select_next(self) -> None:
        self._select((self.selected if self.selected is not None else -1) + 1)

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False, force=True)

    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False, force=True)

    def action_first(self) -> None:
        self._select(0)

    def action_last(self) -> None:
        self._select(len(self.rows) - 1)
        self._follow = True
        self._unseen = 0
        self.scroll_end(animate=False, immediate=True, force=True)

    @property
    def selected_failed(self) -> MessageRow | None:
        """The selected message, if it is a write the server refused."""
        if self.selected is None or not self.rows:
            return None
        row = self.rows[self.selected]
        return row if row.seq is None and row.error is not None else None

    @property
    def selected_row(self) -> MessageRow | None:
        """The message selected on purpose, if it is one that was stored."""
        if self.selected is None or not self.rows:
            return None
        row = self.rows[self.selected]
        return row if row.seq is not None and row.seq not in self._deleted else None

    @property
    def selected_waiting(self) -> MessageRow | None:
        """The selected message, if it is mine and still waiting to be sent."""
        if self.selected is None or not self.rows:
            return None
        row = self.rows[self.selected]
        return row if row.pending and row.cid is not None else None

    @property
    def oldest_seq(self) -> int | None:
        return next((r.seq for r in self.rows if r.seq is not None), None)

    @property
    def line_count(self) -> int:
        return len(self._lines)

    def visible_text(self) -> str:
        """The plain text on screen (for tests and screen readers)."""
        top = self.scroll_offset.y
        height = self.scrollable_content_region.height
        shown = [s.text for s in self._lines[top : top + height]]
        if self._unseen and not self._follow and len(shown) >= height:
            shown[height - 1] = f"{self._unseen} new ↓ PgDn"
        return "\n".join(shown)
