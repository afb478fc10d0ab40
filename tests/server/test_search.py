"""Full-text search on the server: what one may read, and nothing else."""

from __future__ import annotations

import sqlite3

from rse_tui.protocol import (
    AddMember,
    CreateGroup,
    DeleteMessage,
    EditMessage,
    ErrorCode,
    JoinGroup,
    RemoveMember,
    Search,
    SendChat,
    SendComment,
    SendDirect,
    SendPost,
)
from server.app import RseServer
from server.schema import migrate

from ..helpers import config, new_user, refused


async def _texts(client, query: str, **fields) -> list[str]:
    found = await client.conn.call(Search, query=query, **fields)
    return [e.text for e in found.events]


async def test_a_secret_word_is_found_only_where_one_may_read_it(server):
    """A word planted in a secret group, a private group, someone else's
    direct chat, a deleted message and an edited-away text is found by no
    search of an outsider, whatever the filters; its members find it."""
    boss = await new_user(server, "boss")
    eve = await new_user(server, "eve")
    bob = await new_user(server, "bob")
    vault = (await boss.conn.call(CreateGroup, name="Vault", visibility="secret", cid="v")).group
    board = (await boss.conn.call(CreateGroup, name="Board", visibility="private", cid="b")).group
    ops = (await boss.conn.call(CreateGroup, name="Ops", cid="o")).group
    await boss.conn.call(AddMember, group=vault, user=bob.user, cid="a1")
    await boss.conn.call(SendChat, group=vault, text="the xyzzy plan", cid="c1")
    await boss.conn.call(SendPost, group=board, text="x", title="xyzzy budget", cid="c2")
    await boss.conn.call(SendDirect, user=bob.user, text="xyzzy between us", cid="c3")
    gone = (await boss.conn.call(SendChat, group=ops, text="xyzzy oops", cid="c4")).seq
    await boss.conn.call(DeleteMessage, target=gone, cid="d")
    edited = (await boss.conn.call(SendChat, group=ops, text="xyzzy draft", cid="c5")).seq
    await boss.conn.call(EditMessage, target=edited, text="nothing to see", cid="e")
    for fields in ({}, {"author": boss.user}, {"after": 0}, {"limit": 500}):
        assert await _texts(eve, "xyzzy", **fields) == [], fields
    for g in (vault, board):
        err = await refused(eve.conn.call(Search, query="xyzzy", group=g))
        missing = await refused(eve.conn.call(Search, query="xyzzy", group=10**9))
        if g == vault:  # secret: as a group that does not exist
            assert (err.code, err.message) == (missing.code, missing.message)
        else:
            assert err.code is ErrorCode.FORBIDDEN
    assert sorted(await _texts(bob, "xyzzy")) == ["the xyzzy plan", "xyzzy between us"]
    assert await _texts(boss, "nothing see") == ["nothing to see"]
    # Removed: no longer found.
    await boss.conn.call(RemoveMember, group=vault, user=bob.user, cid="r")
    assert await _texts(bob, "xyzzy") == ["xyzzy between us"]
    for c in (boss, eve, bob):
        await c.close()


async def test_filters_ranking_and_what_any_text_means(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    ops = (await ana.conn.call(CreateGroup, name="Ops", cid="o")).group
    dev = (await ana.conn.call(CreateGroup, name="Dev", cid="d")).group
    await bob.conn.call(JoinGroup, group=ops, cid="j")
    await ana.conn.call(SendChat, group=ops, text="rolling back db-2 now", cid="1")
    post = (
        await ana.conn.call(
            SendPost, group=ops, text="Steps to restore.", title="Rollback of db-2", cid="2"
        )
    ).seq
    await bob.conn.call(SendComment, post=post, text="db-2 is back, résumé sent", cid="3")
    await ana.conn.call(SendChat, group=dev, text="db-2 schema change", cid="4")
    found = await ana.conn.call(Search, query="DB-2")
    assert len(found.events) == 4 and not found.more
    assert found.events[0].seq == post  # the title weighs more
    assert {u.name for u in found.users} == {"ana", "bob"}
    assert await _texts(ana, "db 2", group=dev) == ["db-2 schema change"]
    assert await _texts(ana, "db-2", author=bob.user) == ["db-2 is back, résumé sent"]
    assert await _texts(ana, "resume") == ["db-2 is back, résumé sent"]  # accents ignored
    page = await ana.conn.call(Search, query="db", limit=2)
    assert len(page.events) == 2 and page.more
    # Any text is a query: FTS5's own syntax is only words here.
    for odd in ('db" OR "x', "db AND NOT x", "NEAR(db x)", "db*", "title:db", "(((db"):
        await ana.conn.call(Search, query=odd)
    bad_ones = (
        ("", ErrorCode.BAD_FIELD),
        ("!!!", ErrorCode.BAD_FIELD),
        ("w " * 17, ErrorCode.BAD_FIELD),
        ("x" * 501, ErrorCode.TOO_LONG),
    )
    for bad, code in bad_ones:
        await refused(ana.conn.call(Search, query=bad), code)
    await refused(ana.conn.call(Search, query="db", after=10, before=5), ErrorCode.BAD_FIELD)
    await refused(ana.conn.call(Search, query="db", limit=0), ErrorCode.BAD_FIELD)
    for c in (ana, bob):
        await c.close()


async def test_messages_stored_before_the_index_are_found(tmp_path):
    """Server schema 11 indexes what the database held already."""
    db_path = tmp_path / "rse.db"
    async with RseServer(config(db_path)) as srv:
        ana = await new_user(srv, "ana")
        g = (await ana.conn.call(CreateGroup, name="Ops", cid="o")).group
        await ana.conn.call(SendChat, group=g, text="older words", cid="1")
        await ana.close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("DROP TABLE search")
    conn.execute("PRAGMA user_version = 10")
    migrate(conn)
    conn.close()
    async with RseServer(config(db_path)) as srv:
        ana = await new_user(srv, "ana2")
        await ana.conn.call(JoinGroup, group=g, cid="j")
        assert await _texts(ana, "older") == ["older words"]
        await ana.close()
