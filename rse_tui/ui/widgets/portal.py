"""The home portal: featured posts (for everyone, and pinned in my groups),
then the newest posts of my groups, two lines each.

Each post shows whether it is unread, its title (or first line), then its
group, author, time, comment and reaction counts, and its poll or
announcement. ↑↓ choose a post; Enter opens it (the app routes Enter: the
keys typed after it wait for the post view). Letters typed here go to the
composer, as everywhere on the main screen.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from rse_tui.sync.models import Home, MessageRow
from rse_tui.textsafe import clean_line

from .. import keys
from ..render import reaction_label, replies_label, when
from .feed import first_line

#: Shown when neither the cache nor the server has a post for me yet.
NOTHING_YET = (
    "No posts yet. Posts of your groups show here: ctrl+k or the groups pane"
    " (ctrl+b) to find groups, ctrl+t in a group for its feed."
)


def post_item(
    row: MessageRow,
    group: str,
    unread: bool,
    now: float | None,
    plain: bool,
    me: int | None = None,
) -> Content:
    """Two lines: ``● Title`` and ``#Ops · karim · 14:05 · 3 comments · 👍 2``."""
    title = clean_line(row.title) if row.title else first_line(row.text) or "(a post)"
    parts: list[str | tuple[str, str]] = [
        ("● " if unread else "  ", "bold"),
        (title, "bold" if unread else ""),
        "\n  ",
        (f"#{clean_line(group)}", "dim"),
        " · ",
        (clean_line(row.author), "bold"),
        (f" · {when(row.ts, now)}", "dim"),
    ]
    replies = replies_label(row)
    if replies:
        parts.append(f" · {replies}")
    for word, count, mine in row.reactions:
        parts.append((f" {reaction_label(word, plain)} {count}", "bold" if mine else "dim"))
    if row.poll is not None:
        parts.append((" · poll" + (", voted" if row.poll.mine is not None else ""), "italic"))
    if row.ack and row.user == me:  # mine: others acknowledge it, not I
        parts.append((" · announcement", "italic"))
    elif row.ack:
        parts.append((" · acknowledged" if row.acked else " · please acknowledge", "italic"))
    if row.pinned:
        parts.append((" · ⚑ pinned", "dim"))
    return Content.assemble(*parts)


class Portal(OptionList, inherit_bindings=False):
    """Posts as options whose ids are their sequence numbers. Enter is not
    its own: the app opens the post once the keys before it are handled."""

    BINDINGS = keys.bindings("portal")
    DEFAULT_CSS = """
    Portal { height: 1fr; border: none; text-wrap: nowrap; text-overflow: ellipsis;
        background: $surface; }
    Portal > .option-list--option { padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.posts: dict[str, MessageRow] = {}
        self.home: Home | None = None

    def show(
        self,
        home: Home,
        now: float | None = None,
        plain: bool = False,
        *,
        keep: bool = True,
        me: int | None = None,
    ) -> None:
        """Draw ``home``, keeping the post under the cursor under it (``keep``),
        else with the cursor on the first post."""
        self.home = home
        kept = self.selected_post if keep else None
        featured = home.featured
        shown = {r.seq for r in featured}
        newest = [r for r in home.posts if r.seq not in shown]
        options: list[Option] = []
        self.posts = {}

        def section(title: str, rows: Iterable[MessageRow]) -> None:
            rows = list(rows)
            if not rows:
                return
            options.append(Option(Content.styled(f"── {title} ──", "bold"), disabled=True))
            for row in rows:
                name = home.groups.get(row.group, f"group {row.group}")
                unread = row.seq in home.unread
                item = post_item(row, name, unread, now, plain, me)
                options.append(Option(item, id=str(row.seq)))
                self.posts[str(row.seq)] = row

        section("Featured", featured)
        section("Newest in your groups", newest)
        if not options:
            options.append(Option(Content.styled(NOTHING_YET, "italic"), disabled=True))
        highlighted = self.highlighted if keep else None
        self.clear_options()
        self.add_options(options)
        ids = [o.id for o in options]
        if kept is not None and str(kept.seq) in ids:
            self.highlighted = ids.index(str(kept.seq))
        elif self.posts:
            first = next(i for i, o in enumerate(options) if not o.disabled)
            self.highlighted = max(first, min(highlighted or first, len(options) - 1))

    @property
    def selected_post(self) -> MessageRow | None:
        index = self.highlighted
        if index is None or index >= self.option_count:
            return None
        option = self.get_option_at_index(index)
        return self.posts.get(option.id or "")

    def visible_text(self) -> str:
        """What it lists, as plain text (for tests and screen readers)."""
        return "\n".join(str(self.get_option_at_index(i).prompt) for i in range(self.option_count))
