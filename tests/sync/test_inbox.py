"""The inbox from the cache: what concerns me, in the order it happened, and
read once read, whatever pages confirm later."""

from __future__ import annotations

from rse_tui.protocol import (
    ChatEvent,
    GroupEvent,
    JoinEvent,
    ReactEvent,
    ReactionInfo,
    ThreadPage,
)
from rse_tui.sync.cache import Cache
from rse_tui.sync.models import InboxKind

ME, BOB, G = 1, 2, 77


def _cache(tmp_path) -> Cache:
    cache = Cache(tmp_path / "c.db")
    cache.set_identity(ME, "ana")
    cache.apply(
        [
            GroupEvent(seq=1, group=G, user=ME, ts=1, name="Ops"),
            JoinEvent(seq=2, group=G, user=ME, role="moderator"),
            JoinEvent(seq=3, group=G, user=BOB),
            ChatEvent(seq=4, group=G, user=ME, ts=4, text="mine"),
            ChatEvent(seq=5, group=G, user=ME, ts=5, text="also mine"),
        ]
    )
    return cache


def test_a_reaction_read_stays_read_when_a_page_confirms_it(tmp_path):
    cache = _cache(tmp_path)
    cache.apply([ReactEvent(seq=6, group=G, user=BOB, target=4, emoji="tada")])
    cache.apply([ChatEvent(seq=7, group=G, user=BOB, ts=7, text="@ana look")])
    items = cache.inbox()
    assert [(i.kind, i.seq, i.unread) for i in items] == [
        (InboxKind.MENTION, 7, True),
        (InboxKind.REACTION, 6, True),
    ]
    # When, and on what (found by a new user: a reaction said neither).
    assert (items[0].ts, items[1].about) == (7, "mine")
    cache.read_inbox()
    assert not cache.inbox(unread_only=True)
    # Opening the message's thread later: the page confirms the reaction, as of
    # a newer event. It is no news: still read, still in its place.
    page = ThreadPage(
        request_id=1,
        events=[ChatEvent(seq=4, group=G, user=ME, ts=4, text="mine")],
        reactions=[ReactionInfo(target=4, emoji="tada", users=[BOB])],
        as_of=50,
    )
    cache.put_thread(page)
    assert not cache.inbox(unread_only=True)
    assert [(i.kind, i.seq) for i in cache.inbox()] == [
        (InboxKind.MENTION, 7),
        (InboxKind.REACTION, 6),
    ]
    # A new reaction is news again, and comes first.
    cache.apply([ReactEvent(seq=51, group=G, user=BOB, target=5, emoji="eyes")])
    assert [(i.kind, i.seq, i.unread) for i in cache.inbox(unread_only=True)] == [
        (InboxKind.REACTION, 51, True)
    ]
    cache.close()


def test_a_reaction_waiting_to_be_sent_counts_already(tmp_path):
    """Found by a new user: a reaction made offline was not shown until it
    was sent (inviting a second); taken back offline, it goes at once too."""
    from rse_tui.protocol import React

    cache = _cache(tmp_path)
    cache.apply([ReactEvent(seq=6, group=G, user=BOB, target=4, emoji="+1")])

    def shown() -> dict[str, tuple[int, bool]]:
        [row] = [r for r in cache.messages(G, "c") if r.seq == 4]
        return {word: (count, mine) for word, count, mine in row.reactions}

    assert shown() == {"+1": (1, False)}
    cache.enqueue(React(request_id=0, cid="r1", target=4, emoji="+1"))
    cache.enqueue(React(request_id=0, cid="r2", target=4, emoji="tada"))
    assert shown() == {"+1": (2, True), "tada": (1, True)}
    cache.enqueue(React(request_id=0, cid="r3", target=4, emoji="tada", on=False))
    assert shown() == {"+1": (2, True)}
    cache.close()


def test_an_edit_waiting_to_be_sent_shows_at_once(tmp_path):
    """Found by a new user: an edit of a delivered message, made offline,
    showed the old text until it was sent."""
    from rse_tui.protocol import EditMessage

    cache = _cache(tmp_path)
    cache.enqueue(EditMessage(request_id=0, cid="e1", target=4, text="mine, corrected"))
    [row] = [r for r in cache.messages(G, "c") if r.seq == 4]
    assert row.text == "mine, corrected" and row.edited is not None
    [other] = [r for r in cache.messages(G, "c") if r.seq == 5]
    assert other.text == "also mine" and other.edited is None
    cache.close()
