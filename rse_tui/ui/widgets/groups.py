"""The groups pane: Home (the portal), the tree of groups, then direct chats,
with unread counts.

Each line shows the group's place in the tree (▾ expanded, ▸ collapsed), a
mark for what it is to you (# a group you are in, + one you are not, @ a
direct chat), its name, its unread count, and a dim tag for private and
secret groups, your pending request, and requests waiting for you. Left and
right fold and unfold a branch.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from rse_tui.protocol import Visibility
from rse_tui.sync.models import GroupRow
from rse_tui.textsafe import clean_line

from .. import keys


def _tags(row: GroupRow) -> str:
    tags = []
    if row.visibility != Visibility.OPEN and row.dm is None:
        tags.append(row.visibility)
    if row.requested:
        tags.append("asked")
    if row.pending:
        tags.append(f"{row.pending} asking")
    return " ".join(tags)


def _label(row: GroupRow, depth: int, fold: str, current: bool = False) -> Content:
    name = clean_line(row.name)
    mark = "@ " if row.dm is not None else ("# " if row.member else "+ ")
    # The open group is marked by a sign too, not only by a background that
    # NO_COLOR (or a dim terminal) makes hard to see.
    here = ("▶", "bold") if current else (" ", "")
    parts: list[str | tuple[str, str]] = [here, ("  " * depth + fold, "dim"), (mark, "dim")]
    parts.append((name, "bold") if row.unread else (name, "" if row.member else "dim"))
    if row.unread:
        parts.append((f" {row.unread}", "bold reverse"))
    tags = _tags(row)
    if tags:
        parts.append((f" {tags}", "dim italic"))
    return Content.assemble(*parts)


#: The option id of the Home entry, at the top of the pane.
HOME = "home"


def _home_label(current: bool) -> Content:
    here = ("▶", "bold") if current else (" ", "")
    return Content.assemble(here, ("  ⌂ ", "dim"), ("Home", "bold"))


def tree_order(rows: Sequence[GroupRow], collapsed: set[int]) -> list[tuple[GroupRow, int, str]]:
    """Rows in tree order with their depth and fold mark; direct chats last."""
    groups = [r for r in rows if r.dm is None]
    known = {r.group for r in groups}
    children: dict[int | None, list[GroupRow]] = {}
    for row in groups:
        children.setdefault(row.parent if row.parent in known else None, []).append(row)
    out: list[tuple[GroupRow, int, str]] = []

    def walk(parent: int | None, depth: int) -> None:
        kids = sorted(children.get(parent, []), key=lambda r: (not r.member, r.name.casefold()))
        for row in kids:
            has_kids = bool(children.get(row.group))
            fold = ("▸ " if row.group in collapsed else "▾ ") if has_kids else "  "
            out.append((row, depth, fold))
            if has_kids and row.group not in collapsed:
                walk(row.group, depth + 1)

    walk(None, 0)
    direct = sorted((r for r in rows if r.dm is not None), key=lambda r: r.name.casefold())
    out.extend((row, 0, "  ") for row in direct)
    return out


class GroupList(OptionList):
    """Home, then the groups as options whose ids are the group ids."""

    BINDINGS = keys.bindings("groups")
    DEFAULT_CSS = """
    GroupList {
        width: 28; height: 1fr; border: none; border-right: tall $panel;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.rows: list[GroupRow] = []
        self.collapsed: set[int] = set()
        self._shown: list[tuple[GroupRow, int, str]] = []
        self._all: list[GroupRow] = []
        self._current: int | None = None
        self._home = False

    def show(self, rows: Sequence[GroupRow], current: int | None, *, home: bool = False) -> None:
        """The groups, ``current`` marked as open (or Home, ``home``)."""
        self._all = list(rows)
        ordered = tree_order(rows, self.collapsed)
        if ordered == self._shown and current == self._current and home == self._home:
            self._highlight(current, home)
            return
        self._shown = ordered
        self._current = current
        self._home = home
        self.rows = [row for row, _, _ in ordered]
        highlighted = self.highlighted
        self.clear_options()
        self.add_options(
            [
                Option(_home_label(home), id=HOME),
                *(
                    Option(_label(row, depth, fold, row.group == current), id=str(row.group))
                    for row, depth, fold in ordered
                ),
            ]
        )
        if current is not None or home:
            self._highlight(current, home)
        elif highlighted is not None:
            self.highlighted = min(highlighted, len(ordered))

    def index_of(self, group: int) -> int | None:
        """The option of ``group`` (Home is the first)."""
        return next((n + 1 for n, row in enumerate(self.rows) if row.group == group), None)

    def _highlight(self, group: int | None, home: bool = False) -> None:
        index = 0 if home else self.index_of(group) if group is not None else None
        if index is not None:
            self.highlighted = index

    def _fold(self, collapse: bool) -> None:
        if not self.highlighted or not self.rows:  # nothing, or Home
            return
        row = self.rows[self.highlighted - 1]
        if collapse:
            self.collapsed.add(row.group)
        else:
            self.collapsed.discard(row.group)
        self.show(self._all, self._current, home=self._home)
        self._highlight(row.group)

    def action_collapse(self) -> None:
        self._fold(True)

    def action_expand(self) -> None:
        self._fold(False)

    def action_open(self) -> None:
        self.action_select()

    def neighbour(self, group: int | None, step: int) -> GroupRow | None:
        members = [r for r in self.rows if r.member] or self.rows
        if not members:
            return None
        ids = [r.group for r in members]
        index = ids.index(group) if group in ids else -step if step > 0 else 0
        return members[(index + step) % len(members)]

    def next_active(self, group: int | None) -> GroupRow | None:
        """The first group after ``group`` (wrapping) with unread messages;
        one that mentions me comes before the others."""
        ids = [r.group for r in self.rows]
        start = ids.index(group) + 1 if group in ids else 0
        ring = self.rows[start:] + self.rows[:start]
        unread = [r for r in ring if r.unread and r.member and r.group != group]
        mentioned = [r for r in unread if r.mentions]
        found = mentioned or unread
        return found[0] if found else None
