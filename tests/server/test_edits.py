"""Editing one's messages and replying to one: who may, what others see, what the log keeps."""

from __future__ import annotations

import sqlite3

from rse_tui.protocol import (
    ChatEvent,
    CreateGroup,
    DeleteMessage,
    EditEvent,
    EditMessage,
    ErrorCode,
    GroupSettings,
    History,
    JoinGroup,
    SendChat,
    SendPost,
    Sync,
)

from ..helpers import new_user, refused


async def test_authors_edit_their_messages_and_everyone_sees_it(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    await bob.conn.call(JoinGroup, group=g, cid="j")
    await bob.conn.call(Sync, since=0)
    first = (await ana.conn.call(SendChat, group=g, text="restart db2", cid="m")).seq
    post = (await ana.conn.call(SendPost, group=g, text="# Plan", cid="p")).seq
    await bob.pushes.next(ChatEvent)
    await ana.conn.call(EditMessage, target=first, text="restart db3", cid="e1")
    await ana.conn.call(EditMessage, target=post, text="# Plan v2", cid="e2")
    live = await bob.pushes.next(EditEvent)
    assert (live.target, live.text, live.user) == (first, "restart db3", ana.user)
    err = await refused(bob.conn.call(EditMessage, target=first, text="mine", cid="x"))
    assert err.code is ErrorCode.FORBIDDEN
    [chat] = (await bob.conn.call(History, group=g, kind="c")).events
    assert (chat.text, chat.edited is not None) == ("restart db3", True)
    [p] = (await bob.conn.call(History, group=g, kind="p")).events
    assert p.text == "# Plan v2" and p.edited is not None
    for c in (ana, bob):
        await c.close()


async def test_catch_up_brings_the_last_edit_only(server):
    ana = await new_user(server, "ana")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    seq = (await ana.conn.call(SendChat, group=g, text="v1", cid="m")).seq
    for n in (2, 3):
        await ana.conn.call(EditMessage, target=seq, text=f"v{n}", cid=f"e{n}")
    bob = await new_user(server, "bob")
    await bob.conn.call(JoinGroup, group=g, cid="j")
    await bob.conn.call(Sync, since=seq - 1)
    edits = []
    while True:
        try:
            edits.append(await bob.pushes.next(EditEvent, within=0.5))
        except TimeoutError:
            break
    assert [e.text for e in edits] == ["v3"]
    for c in (ana, bob):
        await c.close()


async def test_an_edit_where_one_may_no_longer_write_is_refused(server):
    mod = await new_user(server, "mod")
    ana = await new_user(server, "ana")
    g = (await mod.conn.call(CreateGroup, name="News", cid="g")).group
    await ana.conn.call(JoinGroup, group=g, cid="j")
    seq = (await ana.conn.call(SendChat, group=g, text="hello", cid="m")).seq
    await mod.conn.call(GroupSettings, group=g, chat_policy="moderators", cid="s")
    err = await refused(ana.conn.call(EditMessage, target=seq, text="edited", cid="e"))
    assert err.code is ErrorCode.FORBIDDEN
    err = await refused(ana.conn.call(EditMessage, target=seq + 999, text="x", cid="e2"))
    assert err.code is ErrorCode.NOT_FOUND
    too_long = "x" * (server.config.limits.max_chat_chars + 1)
    await mod.conn.call(GroupSettings, group=g, chat_policy="everyone", cid="s2")
    err = await refused(ana.conn.call(EditMessage, target=seq, text=too_long, cid="e3"))
    assert err.code is ErrorCode.TOO_LONG
    for c in (mod, ana):
        await c.close()


async def test_a_deleted_message_takes_its_edits_text_with_it(server):
    ana = await new_user(server, "ana")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    seq = (await ana.conn.call(SendChat, group=g, text="password is hunter2", cid="m")).seq
    await ana.conn.call(EditMessage, target=seq, text="password is hunter3", cid="e1")
    await ana.conn.call(EditMessage, target=seq, text="password is [redacted]", cid="e2")
    db = sqlite3.connect(server.config.db_path)
    try:
        texts = [r[0] for r in db.execute("SELECT body FROM events WHERE body IS NOT NULL")]
        assert not any("hunter" in (t or "") for t in texts)  # an edit replaces the last one
        await ana.conn.call(DeleteMessage, target=seq, cid="d")
        texts = [r[0] for r in db.execute("SELECT body FROM events WHERE body IS NOT NULL")]
        assert not any("password" in (t or "") for t in texts)
    finally:
        db.close()
    await ana.close()


async def test_replies_name_a_chat_message_of_the_same_group(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    other = (await ana.conn.call(CreateGroup, name="Other", cid="g2")).group
    await bob.conn.call(JoinGroup, group=g, cid="j")
    await ana.conn.call(Sync, since=0)
    asked = (await ana.conn.call(SendChat, group=g, text="who is on call?", cid="q")).seq
    elsewhere = (await ana.conn.call(SendChat, group=other, text="hm", cid="h")).seq
    post = (await ana.conn.call(SendPost, group=g, text="# plan", cid="p")).seq
    await bob.conn.call(SendChat, group=g, text="me", reply=asked, cid="a")
    for bad in (elsewhere, post, asked + 999):
        err = await refused(bob.conn.call(SendChat, group=g, text="x", reply=bad, cid=f"b{bad}"))
        assert err.code is ErrorCode.NOT_FOUND
    live = await ana.pushes.next(ChatEvent)
    assert (live.text, live.reply) == ("me", asked)
    events = (await ana.conn.call(History, group=g, kind="c")).events
    assert [(e.text, e.reply) for e in events] == [("who is on call?", None), ("me", asked)]
    for c in (ana, bob):
        await c.close()
