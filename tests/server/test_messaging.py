"""Groups, chat and feed between real clients of a real server."""

from __future__ import annotations

import pytest

from rse_tui.protocol import (
    Batch,
    ChatEvent,
    CreateGroup,
    ErrorCode,
    GetUsers,
    GroupEvent,
    History,
    JoinEvent,
    JoinGroup,
    LeaveEvent,
    LeaveGroup,
    ListGroups,
    Members,
    PostEvent,
    ProtocolError,
    SendChat,
    SendDirect,
    SendPost,
    Sync,
)

from ..helpers import new_user


async def live(client) -> None:
    """Start receiving live events (a fresh client syncs from the head)."""
    head = client.conn.welcome.head if client.conn.welcome.head else 0
    await client.conn.call(Sync, since=head)


async def test_two_clients_exchange_chat_and_posts(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    await live(ana)
    await live(bob)
    made = await ana.conn.call(CreateGroup, name="Ops", cid="g1")
    assert made.group is not None
    created = await bob.pushes.next(GroupEvent)
    assert (created.group, created.name, created.user) == (made.group, "Ops", ana.user)

    await bob.conn.call(JoinGroup, group=made.group, cid="j1")
    joined = await ana.pushes.next(JoinEvent)
    assert (joined.group, joined.user) == (made.group, bob.user)

    ack = await ana.conn.call(SendChat, group=made.group, text="disk full on db3", cid="m1")
    got = await bob.pushes.next(ChatEvent)
    assert (got.seq, got.user, got.text, got.ts) == (ack.seq, ana.user, "disk full on db3", ack.ts)

    reply = await bob.conn.call(SendChat, group=made.group, text="on it", cid="m2")
    back = await ana.pushes.next(ChatEvent)
    assert (back.seq, back.text, back.user) == (reply.seq, "on it", bob.user)
    assert back.seq > got.seq

    post = await ana.conn.call(SendPost, group=made.group, text="# Runbook\nstep 1", cid="p1")
    feed = await bob.pushes.next(PostEvent)
    assert (feed.seq, feed.text) == (post.seq, "# Runbook\nstep 1")
    # The sender got an acknowledgement, not its own event back.
    assert not [f for f in ana.pushes.drain() if isinstance(f, ChatEvent) and f.user == ana.user]
    await ana.close()
    await bob.close()


async def test_group_list_members_leave_and_users(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await ana.conn.call(CreateGroup, name="Platform", cid="g")).group
    await bob.conn.call(JoinGroup, group=g, cid="j")
    listing = await bob.conn.call(ListGroups)
    [info] = [x for x in listing.groups if x.group == g]
    assert (info.name, info.member, info.members) == ("Platform", True, 2)
    assert (await ana.conn.call(Members, group=g)).users == sorted([ana.user, bob.user])

    await live(ana)
    left = await bob.conn.call(LeaveGroup, group=g, cid="l")
    event = await ana.pushes.next(LeaveEvent)
    assert (event.seq, event.user) == (left.seq, bob.user)
    assert (await ana.conn.call(Members, group=g)).users == [ana.user]
    with pytest.raises(ProtocolError) as err:
        await bob.conn.call(SendChat, group=g, text="still here?", cid="m")
    assert err.value.code is ErrorCode.FORBIDDEN
    with pytest.raises(ProtocolError) as err:
        await bob.conn.call(LeaveGroup, group=g, cid="l2")
    assert err.value.code is ErrorCode.FORBIDDEN

    names = await ana.conn.call(GetUsers, users=[ana.user, bob.user, 9999])
    assert sorted((u.user, u.name) for u in names.users) == sorted(
        [(ana.user, "ana"), (bob.user, "bob")]
    )
    with pytest.raises(ProtocolError) as err:
        await ana.conn.call(CreateGroup, name="platform", cid="dup")
    assert err.value.code is ErrorCode.NAME_TAKEN
    await ana.close()
    await bob.close()


async def test_history_pages_newest_first_and_by_kind(server):
    ana = await new_user(server, "ana")
    g = (await ana.conn.call(CreateGroup, name="Hist", cid="g")).group
    seqs = []
    for n in range(25):
        seqs.append((await ana.conn.call(SendChat, group=g, text=f"line {n}", cid=f"c{n}")).seq)
    await ana.conn.call(SendPost, group=g, text="a post", cid="p")

    page = await ana.conn.call(History, group=g, kind="c", limit=10)
    assert [e.text for e in page.events] == [f"line {n}" for n in range(15, 25)]
    assert page.more
    older = await ana.conn.call(History, group=g, kind="c", before=page.events[0].seq, limit=10)
    assert [e.seq for e in older.events] == seqs[5:15]
    last = await ana.conn.call(History, group=g, kind="c", before=older.events[0].seq, limit=10)
    assert [e.seq for e in last.events] == seqs[:5] and not last.more
    posts = await ana.conn.call(History, group=g, kind="p", limit=10)
    assert [e.text for e in posts.events] == ["a post"]
    await ana.close()


async def test_events_committed_together_reach_a_client_in_one_frame(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    await live(ana)
    await live(bob)
    # A first direct message creates the conversation: several events, one write.
    ack = await ana.conn.call(SendDirect, user=bob.user, text="got a minute?", cid="d1")
    frame = await bob.pushes.until(lambda f: isinstance(f, Batch))
    seqs = [e.seq for e in frame.events]
    assert seqs == sorted(seqs) and len(seqs) > 1
    assert isinstance(frame.events[-1], ChatEvent)
    assert (frame.events[-1].seq, frame.events[-1].text) == (ack.seq, "got a minute?")
    # The writer gets its acknowledgement, not its own events.
    assert not [f for f in ana.pushes.drain() if isinstance(f, Batch | ChatEvent)]
    await ana.close()
    await bob.close()


async def test_a_write_id_reused_for_another_kind_of_write_is_refused(server):
    """The receipt of `chat c=X` must not acknowledge a `del c=X` that was never
    done: a reused id of another kind is refused and changes nothing; the same
    write sent again still gets its first answer."""
    from rse_tui.protocol import DeleteMessage, ErrorCode, History

    from ..helpers import refused

    ana = await new_user(server, "ana")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    first = await ana.conn.call(SendChat, group=g, text="keep me", cid="same")
    await refused(ana.conn.call(DeleteMessage, target=first.seq, cid="same"), ErrorCode.BAD_FIELD)
    await refused(ana.conn.call(SendPost, group=g, text="other", cid="same"), ErrorCode.BAD_FIELD)
    again = await ana.conn.call(SendChat, group=g, text="keep me", cid="same")
    assert (again.seq, again.ts) == (first.seq, first.ts)
    page = await ana.conn.call(History, group=g, kind="c", limit=10)
    assert [e.text for e in page.events] == ["keep me"]
    feed = await ana.conn.call(History, group=g, kind="p", limit=10)
    assert feed.events == []
    await ana.close()
