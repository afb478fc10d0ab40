"""Direct messages: leaving a direct chat hides it until the next message, which
reaches both people, live and on catch-up, whoever left."""

from __future__ import annotations

from rse_tui.protocol import (
    ChatEvent,
    CreateGroup,
    GroupEvent,
    History,
    JoinEvent,
    LeaveGroup,
    SendDirect,
    Sync,
)

from ..helpers import new_user, reconnect


async def test_a_message_after_leaving_reaches_both_live_and_on_catch_up(server):
    alice = await new_user(server, "alice")
    bob = await new_user(server, "bob")
    carol = await new_user(server, "carol")
    for c in (bob, carol):
        await c.conn.call(Sync, since=0)
    first = await alice.conn.call(SendDirect, user=bob.user, text="first", cid="d1")
    dm = first.group
    assert dm is not None
    seen = await bob.pushes.next(ChatEvent)
    await bob.conn.call(LeaveGroup, group=dm, cid="bye")
    # Bob is away; alice writes again and is acknowledged.
    await bob.close()
    again = await alice.conn.call(SendDirect, user=bob.user, text="after bob left", cid="d2")
    assert again.group == dm
    # Bob comes back: the catch-up brings the chat back, then the message.
    conn, pushes = await reconnect(server, bob.auth.token)
    await conn.call(Sync, since=seen.seq)
    back = await pushes.next(JoinEvent)
    assert (back.group, back.user) == (dm, bob.user)
    assert (await pushes.next(ChatEvent)).text == "after bob left"
    # Live too, and bob writes back after alice left in turn.
    await alice.conn.call(Sync, since=again.seq)
    await alice.conn.call(LeaveGroup, group=dm, cid="bye-a")
    reply = await conn.call(SendDirect, user=alice.user, text="back", cid="d3")
    assert reply.group == dm
    assert (await alice.pushes.next(JoinEvent)).user == alice.user
    assert (await alice.pushes.next(ChatEvent)).text == "back"
    page = await conn.call(History, group=dm, kind="c")
    assert [e.text for e in page.events] == ["first", "after bob left", "back"]
    # Nobody else saw any of it (carol does get what is public, after it).
    public = (await alice.conn.call(CreateGroup, name="Open", cid="o")).group
    await carol.pushes.until(lambda f: getattr(f, "group", None) == public)
    frames = [e for f in carol.pushes.frames for e in getattr(f, "events", [f])]
    assert not [e for e in frames if getattr(e, "group", None) == dm]
    await conn.close()
    for c in (alice, carol):
        await c.close()


async def test_a_new_direct_chat_announces_itself_to_both(server):
    alice = await new_user(server, "alice")
    bob = await new_user(server, "bob")
    await bob.conn.call(Sync, since=0)
    sent = await alice.conn.call(SendDirect, user=bob.user, text="hi", cid="d1")
    settings = await bob.pushes.next(GroupEvent)  # after the joins: bob is in its audience
    assert settings.group == sent.group and settings.dm
    for c in (alice, bob):
        await c.close()


async def test_chat_into_a_direct_chat_the_other_left_brings_them_back_live(server):
    """Reported: after bob left, alice's `chat g=DM` (not `dm`) was acknowledged
    but never pushed to bob, and did not bring him back; his cursor then
    passed it. A chat line is a message like any other: it brings him back
    first, and reaches him live."""
    from rse_tui.protocol import Members, SendChat

    alice = await new_user(server, "alice")
    bob = await new_user(server, "bob")
    await bob.conn.call(Sync, since=0)
    dm = (await alice.conn.call(SendDirect, user=bob.user, text="hi", cid="d1")).group
    await bob.pushes.next(ChatEvent)
    await bob.conn.call(LeaveGroup, group=dm, cid="bye")
    one = await alice.conn.call(SendChat, group=dm, text="ONE", cid="c1")
    back = await bob.pushes.next(JoinEvent)
    assert (back.group, back.user) == (dm, bob.user)
    got = await bob.pushes.next(ChatEvent)
    assert (got.seq, got.text) == (one.seq, "ONE")
    assert sorted((await alice.conn.call(Members, group=dm)).users) == sorted(
        [alice.user, bob.user]
    )
    for c in (alice, bob):
        await c.close()


async def test_a_new_direct_chat_live_is_what_its_catch_up_says(server):
    """Found by the protocol attacker: the recipient was pushed its own join,
    the settings and the message, but not the sender's join (the sender was
    its only member when that event was counted), which its catch-up then
    carried. A write's joins count for all its events: live and catch-up agree."""
    alice = await new_user(server, "alice")
    bob = await new_user(server, "bob")
    start = await bob.conn.call(Sync, since=0)
    await alice.conn.call(SendDirect, user=bob.user, text="hi", cid="d1")
    await bob.pushes.next(ChatEvent)
    live = [
        (type(e).__name__, e.seq)
        for f in bob.pushes.frames
        for e in getattr(f, "events", [f])
        if getattr(e, "seq", 0) > start.head
    ]
    conn, pushes = await reconnect(server, bob.auth.token)
    await conn.call(Sync, since=start.head)
    await pushes.until(lambda f: any(isinstance(e, ChatEvent) for e in getattr(f, "events", [f])))
    caught_up = [
        (type(e).__name__, e.seq)
        for f in pushes.frames
        for e in getattr(f, "events", [f])
        if getattr(e, "seq", 0) > start.head
    ]
    assert live == caught_up
    assert [kind for kind, _ in live].count("JoinEvent") == 2
    await conn.close()
    for c in (alice, bob):
        await c.close()
