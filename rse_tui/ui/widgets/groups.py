"""The groups pane: every group, with unread counts; members' groups first."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from rse_tui.sync.models import GroupRow
from rse_tui.textsafe import clean_line

from .. import keys


def _label(row: GroupRow) -> Content:
    name = clean_line(row.name)
    if not row.member:
        return Content.assemble(("+ ", "dim"), (name, "dim"))
    if row.unread:
        return Content.assemble(("# ", "dim"), (name, "bold"), (f" {row.unread}", "bold reverse"))
    return Content.assemble(("# ", "dim"), name)


class GroupList(OptionList):
    """Groups as options whose ids are the group ids."""

    BINDINGS = keys.bindings("groups")
    DEFAULT_CSS = """
    GroupList { width: 26; height: 1fr; border: none; border-right: tall $panel; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.rows: list[GroupRow] = []

    def show(self, rows: Sequence[GroupRow], current: int | None) -> None:
        ordered = sorted(rows, key=lambda r: (not r.member, r.name.casefold()))
        if [(_label(r), r.group) for r in ordered] == [(_label(r), r.group) for r in self.rows]:
            self._highlight(current)
            return
        self.rows = ordered
        highlighted = self.highlighted
        self.clear_options()
        self.add_options([Option(_label(r), id=str(r.group)) for r in ordered])
        if current is not None:
            self._highlight(current)
        elif highlighted is not None and ordered:
            self.highlighted = min(highlighted, len(ordered) - 1)

    def _highlight(self, group: int | None) -> None:
        for index, row in enumerate(self.rows):
            if row.group == group:
                self.highlighted = index
                return

    def action_open(self) -> None:
        self.action_select()

    def neighbour(self, group: int | None, step: int) -> GroupRow | None:
        members = [r for r in self.rows if r.member] or self.rows
        if not members:
            return None
        ids = [r.group for r in members]
        index = ids.index(group) if group in ids else -step if step > 0 else 0
        return members[(index + step) % len(members)]
