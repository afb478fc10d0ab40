"""``rse tail`` beside another process on the same profile (the app, say)."""

from __future__ import annotations

import asyncio
import re

from rse_tui.protocol import JoinGroup, SendChat
from rse_tui.sync.cache import Cache
from rse_tui.sync.engine import Engine

from ..helpers import group_named, new_user

LINE = re.compile(r"^#(\d+) \S+ \S+ (\S+): (.*)$")


async def test_tail_prints_every_message_while_another_process_shares_the_profile(rse, server):
    await rse.join(server, "ana")
    assert (await rse("group", "create", "Ops")).code == 0
    bob = await new_user(server, "bob")
    ops = await group_named(bob.conn, "Ops")
    await bob.conn.call(JoinGroup, group=ops, cid="j")
    [profile] = (rse.home / "profiles").iterdir()
    other = Engine(  # the app, open on the same profile: same cache file, own connection
        Cache(profile / "cache.db"), url=server.url, token=(profile / "token").read_text()
    )
    runner = asyncio.create_task(other.run())
    await other.wait_online()
    tail = await rse.start("tail", "Ops")
    assert tail.stdout is not None
    printed: list[tuple[int, str]] = []
    for n in range(12):
        ack = await bob.conn.call(SendChat, group=ops, text=f"note {n}", cid=f"n{n}")
        # Each message is printed as it comes, not when a later one arrives.
        line = (await asyncio.wait_for(tail.stdout.readline(), 10)).decode()
        seq, author, text = LINE.match(line.rstrip("\n")).groups()
        printed.append((int(seq), text))
        assert (int(seq), author, text) == (ack.seq, "bob", f"note {n}")
    tail.terminate()
    rest = (await tail.communicate())[0].decode()
    assert rest == ""  # nothing printed twice
    assert [t for _, t in printed] == [f"note {n}" for n in range(12)]
    await other.stop()
    await runner
    other.close()
    await bob.close()


async def test_a_command_keeps_the_refused_writes_of_the_app(rse, server):
    """A command delivers the whole outbox of the profile, the app's writes too;
    of those refused, it forgets only its own (it printed them): the app's stay
    in the outbox marked refused, for the app to show. (Found by the soak.)"""
    from rse_tui.protocol import CreateGroup, GroupSettings

    await rse.join(server, "ana")
    bob = await new_user(server, "bob")
    await bob.conn.call(CreateGroup, name="Quiet", cid="q")
    quiet = await group_named(bob.conn, "Quiet")
    assert (await rse("group", "join", "Quiet")).code == 0
    await bob.conn.call(GroupSettings, group=quiet, chat_policy="nobody", cid="s")
    [profile] = (rse.home / "profiles").iterdir()
    app = Cache(profile / "cache.db")  # the app queued this while the command ran
    app.enqueue(SendChat(request_id=0, cid="fromapp", group=quiet, text="from the app"))
    app.close()
    result = await rse("chat", "Quiet", "from the command")
    assert result.code == 1
    said = result.err.splitlines()
    assert any("(from the command) was refused" in s and "kept" not in s for s in said), said
    assert any("(from the app) was refused" in s and "kept there" in s for s in said), said
    app = Cache(profile / "cache.db")
    kept = app.outbox(include_failed=True)
    app.close()
    assert [(i.text, bool(i.error)) for i in kept] == [("from the app", True)]
    # A command whose own work went through exits 0, saying what of others'
    # was refused (it said 1 after 'rse charter --accept', say).
    app = Cache(profile / "cache.db")
    app.enqueue(SendChat(request_id=0, cid="again", group=quiet, text="again from the app"))
    app.close()
    synced = await rse("sync")
    assert synced.code == 0, synced.err
    assert any("(again from the app) was refused" in s for s in synced.err.splitlines())
    await bob.close()
