"""The message list: a line-based scroll view, fast at any history length.

One widget per message does not scale in Textual, so this is one widget that
paints lines: each loaded row is rendered once to strips (per width) and
``render_line`` returns the strip for a screen row. Older rows are loaded a
page at a time when the view reaches the top (``NeedOlder``); new rows are
appended, and the view follows them when it was at the bottom.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from rse_tui.sync.models import MessageRow

from .. import keys
from ..render import row_lines

_GUTTER = 2
_MARK = Segment("▌ ", Style(bold=True, color="cyan"))
_NO_MARK = Segment("  ", Style())


def _key(row: MessageRow) -> tuple[str, int | str]:
    return ("s", row.seq) if row.seq is not None else ("c", row.cid or "")


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
    Timeline { height: 1fr; background: $surface; }
    Timeline:focus { background-tint: $foreground 3%; }
    """

    selected: reactive[int | None] = reactive(None, layout=False)

    class NeedOlder(Message):
        """The view reached the oldest loaded row and more may exist."""

    class Picked(Message):
        def __init__(self, row: MessageRow | None) -> None:
            super().__init__()
            self.row = row

    class Act(Message):
        """Delete or pin the selected message (the app decides if allowed)."""

        def __init__(self, action: str, row: MessageRow) -> None:
            super().__init__()
            self.action = action
            self.row = row

    def __init__(self, *, id: str | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(id=id)
        self._clock = clock
        self.rows: list[MessageRow] = []
        self.more_above = False
        self.loading = False
        self._rendered: dict[tuple[str, int | str], list[Strip]] = {}
        self._lines: list[Strip] = []
        self._line_rows: list[int] = []
        self._row_starts: list[int] = []
        self._width = 0
        self._letters = {k for k in keys.actions("timeline") if len(k) == 1}

    # -- content -------------------------------------------------------------------

    def show(self, rows: Sequence[MessageRow], *, more_above: bool) -> None:
        """Replace the content (another group); stay at the newest row."""
        self.rows = list(rows)
        self.more_above = more_above
        self.loading = False
        self._rendered.clear()
        self._layout()
        self.selected = None
        self.scroll_end(animate=False, immediate=True)

    def prepend(self, rows: Sequence[MessageRow], *, more_above: bool) -> None:
        """Add older rows above, keeping what is on screen in place."""
        self.more_above = more_above
        self.loading = False
        if not rows:
            return
        before = len(self._lines)
        self.rows = [*rows, *self.rows]
        if self.selected is not None:
            self.selected += len(rows)
        self._layout()
        self.scroll_to(
            y=self.scroll_offset.y + len(self._lines) - before, animate=False, immediate=True
        )

    def extend(self, newer: Sequence[MessageRow], pending: Sequence[MessageRow]) -> None:
        """Append rows newer than the newest loaded one; replace the pending rows.

        The view follows new rows when it was showing the newest one.
        """
        follow = self.is_vertical_scroll_end or self.max_scroll_y == 0
        confirmed = [r for r in self.rows if r.seq is not None]
        top = confirmed[-1].seq if confirmed else 0
        assert top is not None
        self.rows = [*confirmed, *(r for r in newer if (r.seq or 0) > top), *pending]
        self._layout()
        if self.selected is not None and self.selected >= len(self.rows):
            self.selected = len(self.rows) - 1 if self.rows else None
        if follow:
            self.scroll_end(animate=False, immediate=True)

    def drop(self, seqs: Sequence[int]) -> None:
        """Remove deleted messages."""
        gone = set(seqs)
        if not any(r.seq in gone for r in self.rows):
            return
        self.rows = [r for r in self.rows if r.seq not in gone]
        for seq in gone:
            self._rendered.pop(("s", seq), None)
        self._layout()
        if self.selected is not None and self.selected >= len(self.rows):
            self.selected = len(self.rows) - 1 if self.rows else None

    def replace(self, rows: Sequence[MessageRow]) -> None:
        """Draw these rows again (a pin changed, an author's name became known)."""
        fresh = {r.seq: r for r in rows if r.seq is not None}
        if not any(r.seq in fresh for r in self.rows):
            return
        self.rows = [fresh.get(r.seq, r) if r.seq is not None else r for r in self.rows]
        for seq in fresh:
            self._rendered.pop(("s", seq), None)
        self._layout()

    @property
    def newest_seq(self) -> int:
        return max((r.seq for r in self.rows if r.seq is not None), default=0)

    # -- layout --------------------------------------------------------------------

    def _layout(self) -> None:
        width = max(self.scrollable_content_region.width - _GUTTER, 10)
        if width != self._width:
            self._rendered.clear()
            self._width = width
        console = self.app.console
        now = self._clock()
        lines: list[Strip] = []
        owners: list[int] = []
        starts: list[int] = []
        for index, row in enumerate(self.rows):
            key = _key(row)
            strips = self._rendered.get(key) if row.seq is not None else None
            if strips is None:
                strips = row_lines(row, console, width, now)
                if row.seq is not None:
                    self._rendered[key] = strips
            starts.append(len(lines))
            lines.extend(strips)
            owners.extend([index] * len(strips))
        self._lines, self._line_rows, self._row_starts = lines, owners, starts
        self.virtual_size = Size(width + _GUTTER, len(lines))
        self.refresh()

    def on_resize(self) -> None:
        if self.rows:
            self._layout()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if index >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        mark = _MARK if self._line_rows[index] == self.selected else _NO_MARK
        # Every segment gets the widget's style as its base: a segment without
        # one breaks the NO_COLOR filter, which reads each segment's colours.
        strip = Strip([mark, *self._lines[index]]).apply_style(self.rich_style)
        return strip.crop_extend(0, width, self.rich_style)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new < 1 and self.more_above and not self.loading and self.rows:
            self.loading = True
            self.post_message(self.NeedOlder())

    def watch_selected(self, old: int | None, new: int | None) -> None:
        self.refresh()
        self.post_message(self.Picked(self.rows[new] if new is not None and self.rows else None))

    # -- keys ----------------------------------------------------------------------

    def claims(self, key: str) -> bool:
        """Whether a printable key is a command here: only with a message selected."""
        return self.selected is not None and key in self._letters

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Without a selection the letters are text, not commands.
        return self.selected is not None or action not in ("delete", "pin")

    def select_last(self) -> None:
        self.action_last()

    def _select(self, index: int) -> None:
        if not self.rows:
            return
        index = max(0, min(index, len(self.rows) - 1))
        self.selected = index
        start = self._row_starts[index]
        end = self._row_starts[index + 1] if index + 1 < len(self.rows) else len(self._lines)
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        if start < top:
            self.scroll_to(y=start, animate=False, immediate=True)
        elif end > top + height:
            self.scroll_to(y=max(end - height, 0), animate=False, immediate=True)
        if index == 0 and self.more_above and not self.loading:
            self.loading = True
            self.post_message(self.NeedOlder())

    def action_select_previous(self) -> None:
        self._select((self.selected if self.selected is not None else len(self.rows)) - 1)

    def action_select_next(self) -> None:
        self._select((self.selected if self.selected is not None else -1) + 1)

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False)

    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)

    def action_first(self) -> None:
        self._select(0)

    def action_last(self) -> None:
        self._select(len(self.rows) - 1)
        self.scroll_end(animate=False, immediate=True)

    def _act(self, action: str) -> None:
        if self.selected is not None and self.rows:
            row = self.rows[self.selected]
            if row.seq is not None:
                self.post_message(self.Act(action, row))

    def action_delete(self) -> None:
        self._act("delete")

    def action_pin(self) -> None:
        self._act("pin")

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
        return "\n".join(s.text for s in self._lines[top : top + height])
