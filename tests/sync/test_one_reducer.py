"""One reducer: what a device makes of its own acknowledged writes is what
another device of the same user makes of the events the server pushed."""

from __future__ import annotations

import asyncio
import sqlite3

from rse_tui.protocol import CreateGroup, RequestJoin, SendChat, Sync
from rse_tui.sync.cache import Cache
from rse_tui.sync.client import Client
from rse_tui.sync.engine import Backoff, Engine

from ..helpers import group_named, new_user

GROUPS = (
    "SELECT id, name, member, members, visibility, post_policy, chat_policy, comment_policy,"
    " description, moderator, requested, coalesce(dm, 0) FROM groups WHERE known = 1 ORDER BY id"
)
MESSAGES = "SELECT seq, grp, kind, user, ts, text, edited, pinned, reply FROM messages ORDER BY seq"
ROLES = "SELECT grp, user, role FROM roles ORDER BY grp, user"
REACTIONS = "SELECT target, user, emoji, grp FROM reactions WHERE present = 1 ORDER BY 1, 2, 3"


def _state(path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(path)
    try:
        return {q: db.execute(q).fetchall() for q in (GROUPS, MESSAGES, ROLES, REACTIONS)}
    finally:
        db.close()


def ops_id(state: dict[str, list[tuple]]) -> int:
    return next(g[0] for g in state[GROUPS] if g[1] == "Ops")


def _device(tmp_path, server, token: str, user: int, name: str, device: str) -> Engine:
    cache = Cache(tmp_path / f"{device}.db")
    cache.set_identity(user, name)
    return Engine(
        cache,
        url=f"ws://127.0.0.1:{server.port}/ws",
        token=token,
        backoff=Backoff(first=0.05, cap=0.3),
        open_timeout=3,
    )


async def test_own_writes_and_pushed_events_leave_the_same_cache(server, tmp_path):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    await bob.conn.call(CreateGroup, name="Bobs", cid="b")
    bobs = await group_named(bob.conn, "Bobs")
    await bob.conn.call(SendChat, group=bobs, text="before ana came", cid="b1")
    await bob.conn.call(CreateGroup, name="Closed", visibility="private", cid="c")
    closed = await group_named(bob.conn, "Closed")
    carol = await new_user(server, "carol")
    await bob.conn.call(Sync, since=0)
    writer = _device(tmp_path, server, ana.auth.token, ana.user, "ana", "writer")
    reader = _device(tmp_path, server, ana.auth.token, ana.user, "ana", "reader")
    tasks = [asyncio.create_task(e.run()) for e in (writer, reader)]
    try:
        async with asyncio.timeout(30):
            await writer.wait_idle()
            await reader.wait_idle()
            await Client(writer).create_group("Ops", visibility="private")
            await writer.wait_idle()
            [ops] = [g.group for g in await writer.worker(writer.cache.groups) if g.name == "Ops"]
            for text in ("one", "two", "three"):
                await Client(writer).send_chat(ops, text)
            await Client(writer).send_post(ops, "a post")
            await writer.wait_idle()
            one, two, three = [r.seq for r in await writer.worker(writer.cache.messages, ops, "c")]
            await Client(writer).send_chat(ops, "answer", reply=one)
            await Client(writer).edit(two, "two, edited")
            await Client(writer).pin(three, on=True)
            await Client(writer).react(three, "tada")
            await Client(writer).react(three, "eyes")
            await Client(writer).react(three, "eyes", on=False)
            await Client(writer).delete(one)
            await Client(writer).change_group(
                ops, description="the ops room", chat_policy="moderators"
            )
            await Client(writer).add_member(ops, bob.user, moderator=True)
            await carol.conn.call(RequestJoin, group=ops, cid="r")
            await Client(writer).approve(ops, carol.user)
            await Client(writer).remove_member(ops, carol.user)
            await Client(writer).ask_to_join(closed)
            await Client(writer).send_direct(bob.user, "psst")
            await Client(writer).join(bobs)
            await Client(writer).send_chat(bobs, "hello bobs")
            await Client(writer).leave(bobs)
            await writer.wait_idle()
            await bob.conn.call(SendChat, group=ops, text="bob was here", cid="b2")
            # Both devices have heard everything: the writer its acknowledgements
            # (and the pushes of others' writes), the reader the pushed events.
            while True:
                await writer.wait_idle()
                await reader.wait_idle()
                w, r = _state(writer.cache.path), _state(reader.cache.path)
                if len(w[MESSAGES]) == len(r[MESSAGES]) == 6 and w[GROUPS] == r[GROUPS]:
                    break
                await asyncio.sleep(0.05)
        texts = [row[5] for row in w[MESSAGES]]
        assert texts == ["two, edited", "three", "a post", "answer", "psst", "bob was here"]
        assert w[GROUPS] == r[GROUPS]
        assert w[MESSAGES] == r[MESSAGES]
        assert w[ROLES] == r[ROLES]
        assert w[REACTIONS] == r[REACTIONS] == [(three, ana.user, "tada", ops_id(w))]
        ops_row = next(g for g in w[GROUPS] if g[1] == "Ops")
        assert (
            ops_row[2:4] == (1, 2) and ops_row[6] == "moderators" and ops_row[8] == "the ops room"
        )
    finally:
        for e in (writer, reader):
            await e.stop()
        await asyncio.gather(*tasks)
        writer.close()
        reader.close()
        await ana.close()
        await bob.close()
        await carol.close()


async def test_a_new_device_gets_the_reactions_on_the_history_it_fetches(server, tmp_path):
    from rse_tui.protocol import JoinGroup, React

    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="Ops", cid="g")).group
    await ana.conn.call(JoinGroup, group=g, cid="j")
    said = (await bob.conn.call(SendChat, group=g, text="shipped", cid="c")).seq
    await ana.conn.call(React, target=said, emoji="rocket", cid="r1")
    await bob.conn.call(React, target=said, emoji="rocket", cid="r2")
    await bob.conn.call(React, target=said, emoji="eyes", cid="r3")
    await bob.conn.call(React, target=said, emoji="eyes", on=False, cid="r4")
    device = _device(tmp_path, server, ana.auth.token, ana.user, "ana", "new")
    task = asyncio.create_task(device.run())
    try:
        async with asyncio.timeout(20):
            await device.wait_idle()
            while not await device.worker(device.cache.messages, g, "c"):
                await device.load_older(g, "c", None)
        [row] = await device.worker(device.cache.messages, g, "c")
        assert (row.seq, row.reactions) == (said, (("rocket", 2, True),))
    finally:
        await device.stop()
        await task
        device.close()
        await ana.close()
        await bob.close()
