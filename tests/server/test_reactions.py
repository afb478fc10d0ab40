"""Reactions: members react where the comment policy lets them; everyone in the
group sees them, live and on catch-up; a secret group's message is as unknown
as a missing one; a write id answers once."""

from __future__ import annotations

import sqlite3

from rse_tui.protocol import (
    CreateGroup,
    ErrorCode,
    GroupSettings,
    JoinGroup,
    React,
    ReactEvent,
    SendChat,
    Sync,
)

from ..helpers import new_user, reconnect, refused


def _reactions(db_path) -> list[tuple[int, int, str]]:
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT target, user, emoji FROM reactions ORDER BY 1, 2, 3").fetchall()
    finally:
        db.close()


async def test_members_react_and_everyone_in_the_group_sees_it(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    await bob.conn.call(JoinGroup, group=g, cid="j")
    start = await bob.conn.call(Sync, since=0)
    await ana.conn.call(Sync, since=0)
    said = (await ana.conn.call(SendChat, group=g, text="db3 is back", cid="c")).seq
    ok = await bob.conn.call(React, target=said, emoji="tada", cid="r1")
    assert (await bob.conn.call(React, target=said, emoji="tada", cid="r1")).seq == ok.seq
    live = await ana.pushes.next(ReactEvent)
    assert (live.seq, live.target, live.user, live.emoji, live.on) == (
        ok.seq,
        said,
        bob.user,
        "tada",
        True,
    )
    assert _reactions(server.config.db_path) == [(said, bob.user, "tada")]
    # Taken back: gone from the state, said in the log.
    off = await bob.conn.call(React, target=said, emoji="tada", on=False, cid="r2")
    assert _reactions(server.config.db_path) == []
    # A second device catching up gets both, in order.
    conn, pushes = await reconnect(server, ana.auth.token)
    await conn.call(Sync, since=start.head)
    await pushes.until(
        lambda f: any(getattr(e, "seq", 0) == off.seq for e in getattr(f, "events", [f]))
    )
    told = [
        (e.seq, e.on)
        for f in pushes.frames
        for e in getattr(f, "events", [f])
        if isinstance(e, ReactEvent)
    ]
    assert told == [(ok.seq, True), (off.seq, False)]
    await conn.close()
    for c in (ana, bob):
        await c.close()


async def test_who_may_react(server):
    mod = await new_user(server, "mod")
    ana = await new_user(server, "ana")
    eve = await new_user(server, "eve")
    g = (await mod.conn.call(CreateGroup, name="Ops", cid="g")).group
    await ana.conn.call(JoinGroup, group=g, cid="j")
    said = (await mod.conn.call(SendChat, group=g, text="release at 5", cid="c")).seq
    # Not a member of an open group: join first.
    err = await refused(
        eve.conn.call(React, target=said, emoji="+1", cid="e1"), ErrorCode.FORBIDDEN
    )
    assert "join the group" in err.message
    # Not a shortcode.
    err = await refused(
        ana.conn.call(React, target=said, emoji="💩", cid="a0"), ErrorCode.BAD_FIELD
    )
    assert "+1" in err.message
    # The comment policy: moderators only, then nobody.
    await mod.conn.call(GroupSettings, group=g, comment_policy="moderators", cid="s1")
    err = await refused(
        ana.conn.call(React, target=said, emoji="+1", cid="a1"), ErrorCode.FORBIDDEN
    )
    assert "only its moderators" in err.message
    await mod.conn.call(React, target=said, emoji="check", cid="m1")
    await mod.conn.call(GroupSettings, group=g, comment_policy="nobody", cid="s2")
    await refused(mod.conn.call(React, target=said, emoji="+1", cid="m2"), ErrorCode.FORBIDDEN)
    await mod.conn.call(GroupSettings, group=g, comment_policy="everyone", cid="s3")
    await ana.conn.call(React, target=said, emoji="+1", cid="a2")
    assert sorted(_reactions(server.config.db_path)) == sorted(
        [(said, mod.user, "check"), (said, ana.user, "+1")]
    )
    for c in (mod, ana, eve):
        await c.close()


async def test_a_secret_groups_message_is_as_unknown_as_a_missing_one(server):
    boss = await new_user(server, "boss")
    eve = await new_user(server, "eve")
    s = (await boss.conn.call(CreateGroup, name="Vault", visibility="secret", cid="s")).group
    said = (await boss.conn.call(SendChat, group=s, text="the code is 1234", cid="c")).seq
    hidden = await refused(eve.conn.call(React, target=said, emoji="eyes", cid="e1"))
    missing = await refused(eve.conn.call(React, target=said + 10_000, emoji="eyes", cid="e2"))
    assert (hidden.code, hidden.message) == (missing.code, missing.message)
    assert hidden.code is ErrorCode.NOT_FOUND
    assert _reactions(server.config.db_path) == []
    for c in (boss, eve):
        await c.close()


async def test_the_two_people_of_a_direct_chat_react_to_each_other(server):
    """Found by a new user: a reaction in a direct chat was refused with "in
    this group, nobody may comment or react" (its comment policy: it has no
    comments); a third person still may not."""
    from rse_tui.protocol import SendDirect

    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    eve = await new_user(server, "eve")
    said = await ana.conn.call(SendDirect, user=bob.user, text="deploy done", cid="d")
    await bob.conn.call(React, target=said.seq, emoji="+1", cid="r")
    await ana.conn.call(React, target=said.seq, emoji="tada", cid="r2")
    missing = await refused(eve.conn.call(React, target=10**9, emoji="+1", cid="x"))
    other = await refused(eve.conn.call(React, target=said.seq, emoji="+1", cid="y"))
    assert (other.code, other.message) == (missing.code, missing.message)
    for c in (ana, bob, eve):
        await c.close()
