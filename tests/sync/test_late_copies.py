"""A message that reaches the cache after news of it (an edit, a deletion, a
pin) takes that news on: a history page asked for before a deletion, or the
acknowledgement of one's own message read after a moderator deleted it,
never brings back what was deleted or edited away. (Found by the soak.)"""

from __future__ import annotations

from rse_tui.protocol import (
    ChatEvent,
    DeleteEvent,
    EditEvent,
    GroupInfo,
    JoinEvent,
    JoinGroup,
    LeaveGroup,
    PinEvent,
    PostEvent,
    SendChat,
    WriteOk,
)
from rse_tui.sync.cache import Cache

ME, OTHER, GROUP = 1, 2, 10


def cache(tmp_path) -> Cache:
    c = Cache(tmp_path / "cache.db")
    c.set_identity(ME, "ana")
    return c


def texts(c: Cache) -> dict[int, tuple[str, bool]]:
    return {
        seq: (text, bool(pinned))
        for seq, text, pinned in c.conn.execute("SELECT seq, text, pinned FROM messages")
    }


def test_a_page_asked_for_before_a_deletion_does_not_bring_the_message_back(tmp_path):
    c = cache(tmp_path)
    stale = PostEvent(seq=5, group=GROUP, user=OTHER, ts=1, text="oops, a password")
    c.apply([stale])
    c.apply([DeleteEvent(seq=9, group=GROUP, user=OTHER, target=5)])
    c.fill_hole(GROUP, "p", (0, 8), [stale], more=False)  # the page, answered before
    assert texts(c) == {}


def test_an_edit_heard_before_its_message_is_kept(tmp_path):
    c = cache(tmp_path)
    c.apply([EditEvent(seq=9, group=GROUP, user=OTHER, target=5, text="fixed", ts=3)])
    c.apply([EditEvent(seq=7, group=GROUP, user=OTHER, target=5, text="older fix", ts=2)])
    c.fill_hole(
        GROUP,
        "c",
        (0, 8),
        [ChatEvent(seq=5, group=GROUP, user=OTHER, ts=1, text="typo")],
        more=False,
    )
    assert texts(c) == {5: ("fixed", False)}
    assert c.conn.execute("SELECT edited FROM messages").fetchone()[0] == 3


def test_a_pin_heard_before_its_message_is_kept_and_the_latest_pin_wins(tmp_path):
    c = cache(tmp_path)
    c.apply([PinEvent(seq=8, group=GROUP, user=OTHER, target=5, on=True)])
    c.apply([PinEvent(seq=6, group=GROUP, user=OTHER, target=5, on=False)])
    c.apply([ChatEvent(seq=5, group=GROUP, user=OTHER, ts=1, text="runbook")])
    assert texts(c) == {5: ("runbook", True)}


def test_my_message_deleted_before_its_acknowledgement_is_read_stays_deleted(tmp_path):
    c = cache(tmp_path)
    cid = c.enqueue(SendChat(request_id=0, cid="m1", group=GROUP, text="mine"))
    [item] = c.outbox()
    c.apply([DeleteEvent(seq=12, group=GROUP, user=OTHER, target=11)])  # a moderator, fast
    c.acknowledged([(item, WriteOk(request_id=1, seq=11, ts=5))])
    assert texts(c) == {} and c.outbox() == [] and cid


def test_a_copy_kept_from_an_earlier_stay_in_a_group_is_not_shown_again(tmp_path):
    """Removed from an open group, the user hears nothing of it, a moderator's
    deletion included; back in, the history is the server's again (a hole),
    not the copy of before."""
    from rse_tui.protocol import GroupEvent, JoinEvent, LeaveEvent

    c = cache(tmp_path)
    c.apply([GroupEvent(seq=1, group=GROUP, user=OTHER, ts=1, name="ops")])
    c.apply([JoinEvent(seq=2, group=GROUP, user=ME)])
    c.apply([PostEvent(seq=3, group=GROUP, user=OTHER, ts=1, text="oops, a password")])
    c.apply([LeaveEvent(seq=4, group=GROUP, user=ME, by=OTHER)])
    assert texts(c) == {}  # open or not, what it said leaves with the user
    c.fill_hole(
        GROUP,
        "p",
        (0, 4),
        [PostEvent(seq=3, group=GROUP, user=OTHER, ts=1, text="oops, a password")],
        more=False,
    )  # a look from outside
    assert texts(c) == {3: ("oops, a password", False)}
    # (seq 5: deleted while the user was out: never told)
    c.apply([JoinEvent(seq=6, group=GROUP, user=ME)])
    assert texts(c) == {}
    assert c.hole_below(GROUP, "p", None) == (0, 6)


def test_pins_from_the_group_list_hold_for_messages_fetched_after_it(tmp_path):
    """A new device lists its groups (with their pins) before it fetches their
    history: the pinned messages are shown pinned when they come; a pin event
    newer than the list wins over it."""
    from rse_tui.protocol import GroupInfo

    c = cache(tmp_path)
    listing = GroupInfo(group=GROUP, name="ops", member=True, head=20, pins=[5, 6])
    c.apply([PinEvent(seq=25, group=GROUP, user=OTHER, target=6, on=False)])  # after the list
    c.put_groups([listing])
    # Older events met after the list (a catch-up under way) end where it says:
    c.apply([PinEvent(seq=15, group=GROUP, user=OTHER, target=7, on=True)])
    c.apply([PinEvent(seq=18, group=GROUP, user=OTHER, target=7, on=False)])
    page = [ChatEvent(seq=s, group=GROUP, user=OTHER, ts=1, text=f"m{s}") for s in (5, 6, 7)]
    c.fill_hole(GROUP, "c", (0, 20), page, more=False)
    assert texts(c) == {5: ("m5", True), 6: ("m6", False), 7: ("m7", False)}


def test_what_was_heard_before_leaving_does_not_outdo_the_history_after_rejoining(tmp_path):
    from rse_tui.protocol import JoinEvent, LeaveEvent

    c = cache(tmp_path)
    c.apply([JoinEvent(seq=2, group=GROUP, user=ME)])
    c.apply([ChatEvent(seq=3, group=GROUP, user=OTHER, ts=1, text="v1")])
    c.apply([EditEvent(seq=4, group=GROUP, user=OTHER, target=3, text="v2", ts=2)])
    c.apply([LeaveEvent(seq=5, group=GROUP, user=ME)])
    # (seq 6: edited again while the user was out)
    c.apply([JoinEvent(seq=7, group=GROUP, user=ME)])
    page = [ChatEvent(seq=3, group=GROUP, user=OTHER, ts=1, text="v3", edited=3)]
    c.fill_hole(GROUP, "c", (0, 7), page, more=False)
    assert texts(c) == {3: ("v3", False)}


def test_my_message_acknowledged_after_i_was_removed_stays_out(tmp_path):
    """Written, then removed from the secret group before the acknowledgement was
    read: the message does not come back into the cache of someone outside."""
    from rse_tui.protocol import GroupInfo, LeaveEvent

    c = cache(tmp_path)
    c.put_groups([GroupInfo(group=GROUP, name="war room", member=True, visibility="secret")])
    c.enqueue(SendChat(request_id=0, cid="m2", group=GROUP, text="my last words here"))
    [item] = c.outbox()
    c.apply([LeaveEvent(seq=12, group=GROUP, user=ME, by=OTHER)])
    c.acknowledged([(item, WriteOk(request_id=1, seq=11, ts=5))])
    assert texts(c) == {} and c.outbox() == []


def test_a_message_pushed_before_my_leave_but_applied_after_it_stays_out(tmp_path):
    """Found by the soak (a 9.6 kbit/s client): the acknowledgement of one's
    leave was applied before a message pushed just before it, which then sat
    in the cache of someone out of the private group."""
    from rse_tui.protocol import GroupInfo, JoinEvent

    c = cache(tmp_path)
    c.put_groups([GroupInfo(group=GROUP, name="core", member=True, visibility="private")])
    c.enqueue(LeaveGroup(request_id=0, cid="l1", group=GROUP))
    [leave] = c.outbox()
    c.acknowledged([(leave, WriteOk(request_id=1, seq=20, ts=5))])
    c.apply([ChatEvent(seq=19, group=GROUP, user=OTHER, ts=1, text="for members")])
    assert texts(c) == {}
    # Back in: what is said from then on is stored as it comes.
    c.apply([JoinEvent(seq=30, group=GROUP, user=ME)])
    c.apply([ChatEvent(seq=31, group=GROUP, user=OTHER, ts=1, text="welcome back")])
    assert texts(c) == {31: ("welcome back", False)}


def test_a_group_joined_by_my_own_request_is_asked_about_again(tmp_path):
    """Found by the soak: the group list asked for after one's own join is lost
    if the link drops then; the group stays marked to be asked about."""
    from rse_tui.protocol import GroupInfo

    c = cache(tmp_path)
    c.put_groups([GroupInfo(group=GROUP, name="ops", member=False)])
    assert c.unknown_groups() == []
    c.enqueue(JoinGroup(request_id=0, cid="j1", group=GROUP))
    [join] = c.outbox()
    c.acknowledged([(join, WriteOk(request_id=1, seq=20, ts=5))])
    assert c.unknown_groups() == [GROUP]
    c.put_groups([GroupInfo(group=GROUP, name="ops", member=True, head=20)], only=[GROUP])
    assert c.unknown_groups() == []


def test_a_list_that_says_we_are_in_before_the_join_event_leaves_a_hole(tmp_path):
    """Rejoined (or added again) while a group list was on its way: the list
    says "member" before the stream's join event does. What the group said
    while we were out is the server's to tell: a hole, not a silent gap; and
    a copy kept from a look from outside goes (it may be stale)."""
    c = cache(tmp_path)
    c.put_groups([GroupInfo(group=GROUP, name="Ops", member=False, members=1, head=4)])
    c.fill_hole(
        GROUP,
        "c",
        (0, 4),
        [ChatEvent(seq=4, group=GROUP, user=OTHER, ts=1, text="seen outside")],
        more=False,
    )
    changes = c.put_groups([GroupInfo(group=GROUP, name="Ops", member=True, members=2, head=12)])
    assert GROUP in changes.forgotten and texts(c) == {}
    assert c.hole_below(GROUP, "c", None) == (0, 12)
    c.apply([JoinEvent(seq=11, group=GROUP, user=ME), ChatEvent(seq=13, group=GROUP, user=OTHER,
             ts=2, text="after")])  # fmt: skip
    assert texts(c) == {13: ("after", False)}
    assert c.hole_below(GROUP, "c", None) == (0, 12)  # the join found us in: no second hole


def test_a_pages_reactions_hold_as_of_its_moment_and_newer_news_wins(tmp_path):
    from rse_tui.protocol import ReactEvent, ReactionInfo

    c = cache(tmp_path)
    page = [ChatEvent(seq=s, group=GROUP, user=OTHER, ts=1, text=f"m{s}") for s in (5, 6)]

    def present() -> set[tuple[int, int, str]]:
        rows = c.conn.execute("SELECT target, user, emoji FROM reactions WHERE present = 1")
        return set(rows.fetchall())

    # Taken back at event 20; a page computed before (as of 15) still lists it.
    c.apply([ReactEvent(seq=20, group=GROUP, user=OTHER, target=5, emoji="tada", on=False)])
    listed = [ReactionInfo(target=5, emoji="tada", users=[OTHER])]
    c.fill_hole(GROUP, "c", (0, 8), page, more=False, reactions=listed, as_of=15)
    assert present() == set()
    # A later page (as of 30) is the truth for what it lists and what it does not.
    c.apply([ReactEvent(seq=25, group=GROUP, user=ME, target=6, emoji="+1")])
    c.fill_hole(GROUP, "c", (0, 8), page, more=False, reactions=[
        ReactionInfo(target=5, emoji="eyes", users=[OTHER, ME])], as_of=30)  # fmt: skip
    assert present() == {(5, OTHER, "eyes"), (5, ME, "eyes")}
    rows = {r.seq: r.reactions for r in c.messages(GROUP, "c")}
    assert rows[5] == (("eyes", 2, True),) and rows[6] == ()
