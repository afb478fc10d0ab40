"""How one message becomes lines: indent, URLs, days, tasks, actions, mentions."""

from __future__ import annotations

import time

import pytest
from rich.console import Console

from rse_tui.mentions import mention_pattern
from rse_tui.sync.models import MessageRow
from rse_tui.ui.render import day_label, row_lines, task_boxes, when

NOW = 1_790_000_000.0  # 2026-09-21 14:13 UTC


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _lines(text: str, width: int = 40, author: str = "karim", **kw) -> list[str]:
    row = MessageRow(seq=1, group=1, kind="c", user=2, author=author, ts=NOW, text=text)
    return [s.text.rstrip() for s in row_lines(row, Console(width=200), width, NOW, **kw)]


def test_wrapped_and_multi_line_messages_hang_under_the_text():
    lines = _lines("the replica lag is at forty seconds and climbing\nfailing over now")
    assert lines[0] == "14:13 karim the replica lag is at forty"
    indent = len("14:13 karim ")
    assert all(line.startswith(" " * indent) and line[indent] != " " for line in lines[1:])
    assert [line.strip() for line in lines[1:]] == ["seconds and climbing", "failing over now"]


def test_a_url_that_fits_the_width_is_never_cut():
    url = "https://status.example.com/incidents/4821/timeline"
    lines = _lines(f"see {url} now", width=60)
    assert any(url in line for line in lines)
    assert all(len(line) <= 60 for line in lines)


def test_actions_and_mentions():
    assert _lines("/me is rolling back")[0] == "14:13 * karim is rolling back"
    row = MessageRow(1, 1, "c", 2, "karim", NOW, "@ANA and @here, not @anatole")
    strips = row_lines(row, Console(width=200), 60, NOW, mention_pattern("ana"))
    marked = [seg.text for seg in strips[0] if seg.style is not None and seg.style.reverse]
    assert marked == ["@ANA", "@here"]


def test_day_labels_and_full_dates():
    assert day_label(NOW, NOW) == "Today"
    assert day_label(NOW - 86400, NOW) == "Yesterday"
    assert day_label(NOW - 3 * 86400, NOW) == "Friday 18 September"
    assert day_label(NOW - 400 * 86400, NOW) == "Sunday 17 August 2025"
    assert when(NOW - 400 * 86400, NOW) == "2025-08-17 14:13"  # last year: with the time


def test_task_lists_show_boxes():
    text = "- [ ] call the vendor\n- [x] page on-call\n1. [X] done\nnot [ ] a task"
    assert task_boxes(text) == "- ☐ call the vendor\n- ☑ page on-call\n1. ☑ done\nnot [ ] a task"


def test_replies_quote_what_they_answer_and_edits_say_so():
    row = MessageRow(
        2, 1, "c", 3, "lea", NOW, "me", edited=NOW, reply=1, quote="karim: who is \x1b[31mon call?"
    )
    lines = [s.text.rstrip() for s in row_lines(row, Console(width=200), 40, NOW)]
    assert lines == ["          ↳ karim: who is ␛[31mon call?", "14:13 lea me (edited)"]
    unknown = MessageRow(2, 1, "c", 3, "lea", NOW, "me", reply=1)
    assert "↳ an earlier message" in row_lines(unknown, Console(width=200), 40, NOW)[0].text


def test_posts_show_their_title_poll_announcement_and_comments():
    from rse_tui.sync.models import PollState

    poll = PollState(options=("yes", "no", "later"), counts=(2, 1, 0), voters=3, mine=(0,))
    row = MessageRow(
        5, 1, "p", 2, "karim", NOW, "Shall we?", title="Move the \x1b[2Jstandup", poll=poll,
        ack=True, comments=2, reactions=(("+1", 1, False),),
    )  # fmt: skip
    lines = [s.text.rstrip() for s in row_lines(row, Console(width=200), 90, NOW, plain=True)]
    assert lines[0] == "karim · 14:13  :+1: 1  ▸ 2 comments"
    assert lines[1] == "Move the ␛[2Jstandup"
    assert "Shall we?" in lines[2]
    assert lines[3] == (
        "poll · 3 options · 3 voters · you voted · announcement: please acknowledge"
    )
    long = MessageRow(6, 1, "p", 2, "karim", NOW, "x", title="t" * 500)
    assert all(len(s.text) <= 40 for s in row_lines(long, Console(width=200), 40, NOW))


def test_a_chat_message_with_replies_says_how_many():
    one = MessageRow(1, 1, "c", 2, "karim", NOW, "who is on call?", comments=1)
    assert _lines_of(one)[0] == "14:13 karim who is on call?  ▸ 1 reply"
    three = MessageRow(1, 1, "c", 2, "karim", NOW, "who?", comments=3)
    assert _lines_of(three)[0] == "14:13 karim who?  ▸ 3 replies"


def _lines_of(row: MessageRow, width: int = 60) -> list[str]:
    return [s.text.rstrip() for s in row_lines(row, Console(width=200), width, NOW)]


def test_feed_pieces_neutralise_what_a_server_should_have_refused():
    """Titles, options and names with control characters (an old server, a
    hostile one): shown as stand-ins, never sent to the terminal."""
    from rse_tui.sync.models import PollState
    from rse_tui.ui.widgets.feed import (
        first_line,
        head_line,
        option_line,
        reactions_line,
        reply_block,
        title_line,
    )

    evil = "\x1b]0;PWNED\x07\x1b[2J\u202e"
    poll = PollState(options=(f"yes{evil}", "no"), counts=(1, 0), voters=1, mine=(0,))
    row = MessageRow(
        1, 1, "p", 2, f"bob{evil}", NOW, f"# {evil}head\nbody", title=f"T{evil}", poll=poll,
        reactions=(("+1", 1, False),),
    )  # fmt: skip
    texts = [
        title_line(row).plain,
        head_line(row, f"Ops{evil}", NOW).plain,
        option_line(poll, 0, True, plain=True).plain,
        reactions_line(row, [("+1", [f"eve{evil}"])], plain=True).plain,
        reply_block(row, NOW, plain=True).plain,
        first_line(row.text),
    ]
    for text in texts:
        assert not any(ord(c) < 32 and c != "\n" for c in text), text
        assert "\u202e" not in text and "\x1b" not in text
    assert texts[0] == "T␛]0;PWNED␇␛[2J\ufffd"
    assert texts[2].startswith(" 1 (*)    1 ############ 100% yes␛]0;PWNED")


async def test_the_status_bar_keeps_link_outbox_and_inbox_on_a_narrow_terminal():
    """Found by a new user: offline at 80 columns, the bar ran out of room
    and the end was cut; the least useful parts go first now (the keys
    hint, ^R, F5, the bytes), and the link, the outbox and the inbox stay."""
    import time

    from textual.app import App

    from rse_tui.sync.models import GroupRow, Link, Status
    from rse_tui.ui.widgets.panes import StatusBar

    class Bar(App[None]):
        def compose(self):
            yield StatusBar()

    status = Status(Link.OFFLINE, retry_at=time.monotonic() + 45, outbox=3, sent=12_000)
    hot = [
        GroupRow(group=n, name=f"incident-room-{n}", member=True, members=3, unread=n)
        for n in (1, 2)
    ]
    for width, gone in ((200, ()), (80, ("F1 keys", "(^R now)", "(F5)")), (50, ("↑",))):
        app = Bar()
        async with app.run_test(size=(width, 3)) as pilot:
            bar = app.query_one(StatusBar)
            bar.show(status, hotlist=hot, inbox=2)
            await pilot.pause()
            shown = bar.text
            for needed in ("○ offline", "3 waiting to send", "inbox 2"):
                assert needed in shown, (width, shown)
            for part in gone:
                assert part not in shown, (width, shown)
            if width == 200:
                assert "F1 keys" in shown and "Act: #incident-room-2 2" in shown
            assert len(shown) <= width or "Act:" in shown, (width, shown)  # only the list is cut


def test_my_own_announcement_on_home_does_not_ask_me_to_acknowledge_it():
    """Found by a new user: Home asked the author to acknowledge their own."""
    from rse_tui.ui.widgets.portal import post_item

    row = MessageRow(9, 1, "p", 1, "ana", 0, "Freeze at 16:00", title="Freeze", ack=True)
    assert "please acknowledge" not in str(post_item(row, "Ops", False, 0, False, me=1))
    assert "announcement" in str(post_item(row, "Ops", False, 0, False, me=1))
    assert "please acknowledge" in str(post_item(row, "Ops", False, 0, False, me=2))
