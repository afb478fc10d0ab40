"""``rse search`` against a real server: lines like rse tail's, the words
found marked, filters, and only what the user may read."""

from __future__ import annotations

from rse_tui.protocol import CreateGroup, JoinGroup, SendChat, SendPost, Sync

from ..helpers import group_named, new_user


async def test_search_prints_what_was_found_and_nothing_else(rse, server):
    await rse.join(server, "ana")
    assert (await rse("group", "create", "Ops")).code == 0
    bob = await new_user(server, "bob")
    ops = await group_named(bob.conn, "Ops")
    await bob.conn.call(JoinGroup, group=ops, cid="j")
    vault = (await bob.conn.call(CreateGroup, name="Vault", visibility="secret", cid="v")).group
    await bob.conn.call(SendChat, group=vault, text="db-2 password is hunter2", cid="s")
    await bob.conn.call(SendChat, group=ops, text="rolling back db-2 \x1b[31mnow", cid="c")
    await bob.conn.call(SendPost, group=ops, text="Steps.", title="Rollback of db-2", cid="p")
    await bob.conn.call(Sync, since=0)
    assert (await rse("chat", "Ops", "db-2 is back")).code == 0
    found = await rse("search", "DB-2")
    assert found.code == 0, found.err
    lines = found.out.splitlines()
    assert len(lines) == 3, lines
    assert "Rollback of *db*-*2*" in lines[0] and "#Ops bob:" in lines[0]  # the title first
    assert all("hunter2" not in line for line in lines)
    assert all("\x1b" not in line for line in lines)  # no terminal codes from the text
    assert any("rolling back *db*-*2*" in line for line in lines), lines  # marked off a tty
    mine = await rse("search", "db", "--from", "ana")
    assert [line.split(": ", 1)[0] for line in mine.out.splitlines()] == [
        line.split(": ", 1)[0] for line in lines if " ana:" in line
    ]
    assert (await rse("search", "hunter2")).err.strip().endswith("nothing found")
    vault_search = await rse("search", "db", "--group", "Vault")
    assert vault_search.code != 0
    none = await rse("search", "!!!")
    assert none.code != 0 and "word" in none.err
    await bob.close()
