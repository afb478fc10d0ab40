"""Deleting and pinning messages: who may, what others see, what stays secret."""

from __future__ import annotations

from rse_tui.protocol import (
    AddMember,
    Batch,
    CreateGroup,
    DeleteEvent,
    DeleteMessage,
    ErrorCode,
    History,
    JoinGroup,
    ListGroups,
    PinEvent,
    PinMessage,
    SendChat,
    SendPost,
    Sync,
)
from rse_tui.sync.connection import Connection

from ..helpers import Pushes, new_user, refused


async def test_authors_and_moderators_delete_members_do_not(server):
    mod = await new_user(server, "mod")
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await mod.conn.call(CreateGroup, name="Ops", cid="g")).group
    for c in (ana, bob):
        await c.conn.call(JoinGroup, group=g, cid="j")
    await bob.conn.call(Sync, since=0)
    mine = (await ana.conn.call(SendChat, group=g, text="oops, wrong group", cid="a")).seq
    other = (await bob.conn.call(SendChat, group=g, text="spam spam", cid="b")).seq
    err = await refused(ana.conn.call(DeleteMessage, target=other, cid="d1"))
    assert err.code is ErrorCode.FORBIDDEN
    await ana.conn.call(DeleteMessage, target=mine, cid="d2")
    await mod.conn.call(DeleteMessage, target=other, cid="d3")
    gone = [f for f in bob.pushes.frames if isinstance(f, DeleteEvent)]
    assert {e.target for e in gone} <= {mine, other}
    await bob.pushes.until(lambda f: isinstance(f, DeleteEvent) and f.target == other)
    page = await bob.conn.call(History, group=g, kind="c")
    assert [e.text for e in page.events] == []
    again = await refused(mod.conn.call(DeleteMessage, target=other, cid="d4"))
    assert again.code is ErrorCode.NOT_FOUND  # already gone
    # A resumed client never sees the deleted text, only the deletions.
    pushes = Pushes()
    conn = await Connection.open(server.url, token=bob.auth.token, on_push=pushes)
    await conn.call(Sync, since=0)
    replay = [e for f in pushes.frames if isinstance(f, Batch) for e in f.events]
    assert not any("spam" in repr(e) or "oops" in repr(e) for e in replay)
    assert {e.target for e in replay if isinstance(e, DeleteEvent)} == {mine, other}
    await conn.close()
    for c in (mod, ana, bob):
        await c.close()


async def test_authors_delete_their_own_messages_after_leaving_where_they_may_read(server):
    """Reported: after leaving an open group, deleting one's own message there
    was refused with "only the author or the group's moderators", though the
    asker was the author. In a group one may still read (open) it is allowed;
    in a private one left, the refusal says why."""
    from rse_tui.protocol import LeaveGroup

    mod = await new_user(server, "mod")
    eve = await new_user(server, "eve")
    open_g = (await mod.conn.call(CreateGroup, name="Open", cid="o")).group
    private = (await mod.conn.call(CreateGroup, name="Closed", visibility="private", cid="p")).group
    await eve.conn.call(JoinGroup, group=open_g, cid="j")
    await mod.conn.call(AddMember, group=private, user=eve.user, cid="a")
    said = (await eve.conn.call(SendChat, group=open_g, text="mine", cid="m1")).seq
    hidden = (await eve.conn.call(SendChat, group=private, text="mine too", cid="m2")).seq
    for g in (open_g, private):
        await eve.conn.call(LeaveGroup, group=g, cid=f"l{g}")
    await eve.conn.call(DeleteMessage, target=said, cid="d1")
    err = await refused(eve.conn.call(DeleteMessage, target=hidden, cid="d2"))
    assert err.code is ErrorCode.FORBIDDEN and "no longer in this group" in err.message
    for c in (mod, eve):
        await c.close()


async def test_only_moderators_pin_and_pins_are_listed(server):
    mod = await new_user(server, "mod")
    ana = await new_user(server, "ana")
    g = (await mod.conn.call(CreateGroup, name="News", cid="g")).group
    await ana.conn.call(JoinGroup, group=g, cid="j")
    await ana.conn.call(Sync, since=0)
    post = (await mod.conn.call(SendPost, group=g, text="Runbook", cid="p")).seq
    err = await refused(ana.conn.call(PinMessage, target=post, cid="x"))
    assert err.code is ErrorCode.FORBIDDEN
    await mod.conn.call(PinMessage, target=post, cid="pin")
    pinned = await ana.pushes.until(lambda f: isinstance(f, PinEvent))
    assert (pinned.target, pinned.on) == (post, True)
    [info] = [x for x in (await ana.conn.call(ListGroups)).groups if x.group == g]
    assert info.pins == [post]
    await mod.conn.call(PinMessage, target=post, on=False, cid="unpin")
    [info] = [x for x in (await ana.conn.call(ListGroups)).groups if x.group == g]
    assert info.pins == []
    for c in (mod, ana):
        await c.close()


async def test_messages_of_a_secret_group_look_missing(server):
    boss = await new_user(server, "boss")
    outsider = await new_user(server, "outsider")
    g = (await boss.conn.call(CreateGroup, name="Board", visibility="secret", cid="g")).group
    await boss.conn.call(AddMember, group=g, user=boss.user, moderator=True, cid="m")
    secret = (await boss.conn.call(SendChat, group=g, text="merger", cid="s")).seq
    for request, fields in ((DeleteMessage, {}), (PinMessage, {})):
        kind = request.TYPE  # each write its own id
        hidden = await refused(outsider.conn.call(request, target=secret, cid=f"a{kind}", **fields))
        missing = await refused(outsider.conn.call(request, target=10**9, cid=f"b{kind}", **fields))
        assert (hidden.code, hidden.message) == (missing.code, missing.message)
        assert hidden.code is ErrorCode.NOT_FOUND
    for c in (boss, outsider):
        await c.close()
