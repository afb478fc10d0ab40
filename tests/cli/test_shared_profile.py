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
