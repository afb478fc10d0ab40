"""A non-member probes a secret group every way there is and learns nothing.

Each probe is made twice, once with the secret group's id and once with an
id no group has; the answers must be identical (same error code and message).
Events about the secret group must never reach the outsider, live or in a
catch-up, and no listing, directory entry or name check may mention it.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from rse_tui.protocol import (
    AcceptCharter,
    AddMember,
    Approve,
    Batch,
    CreateGroup,
    CreateInvite,
    DeleteMessage,
    EditMessage,
    GetCharter,
    GroupSettings,
    History,
    JoinGroup,
    JoinRequests,
    LeaveGroup,
    ListGroups,
    Members,
    PinMessage,
    ProtocolError,
    Redeem,
    RemoveMember,
    RequestJoin,
    SearchDirectory,
    SendChat,
    SendDirect,
    SendPost,
    SetProfile,
    Sync,
)
from rse_tui.sync.connection import Connection
from server import storage

from ..helpers import Pushes, new_user

MISSING = 424_242


def _probes(member_id: int):
    return {
        "gset": lambda g: (GroupSettings, {"group": g, "name": "x", "cid": f"s{g}"}),
        "greq": lambda g: (RequestJoin, {"group": g, "cid": f"q{g}"}),
        "gapprove": lambda g: (Approve, {"group": g, "user": member_id, "cid": f"a{g}"}),
        "gadd": lambda g: (AddMember, {"group": g, "user": member_id, "cid": f"d{g}"}),
        "gremove": lambda g: (RemoveMember, {"group": g, "user": member_id, "cid": f"r{g}"}),
        "greqs": lambda g: (JoinRequests, {"group": g}),
        "join": lambda g: (JoinGroup, {"group": g, "cid": f"j{g}"}),
        "leave": lambda g: (LeaveGroup, {"group": g, "cid": f"l{g}"}),
        "members": lambda g: (Members, {"group": g}),
        "chat": lambda g: (SendChat, {"group": g, "text": "hello?", "cid": f"c{g}"}),
        "post": lambda g: (SendPost, {"group": g, "text": "hello?", "cid": f"p{g}"}),
        "hist chat": lambda g: (History, {"group": g, "kind": "c"}),
        "hist feed": lambda g: (History, {"group": g, "kind": "p"}),
        "child": lambda g: (
            CreateGroup,
            {"name": f"child{g}", "parent": g, "visibility": "secret", "cid": f"k{g}"},
        ),
        "invite": lambda g: (CreateInvite, {"groups": [g]}),
    }


async def _answer(conn, request, fields):
    try:
        await conn.call(request, **fields)
    except ProtocolError as exc:
        return (exc.code.value, exc.message)
    return ("ok", "")


@pytest.fixture
async def board(server):
    """A secret group with members, content, a moderator and activity."""
    boss = await new_user(server, "boss")
    insider = await new_user(server, "insider")
    outsider = await new_user(server, "outsider")
    g = (
        await boss.conn.call(
            CreateGroup, name="Board", visibility="secret", description="merger talks", cid="b"
        )
    ).group
    await boss.conn.call(AddMember, group=g, user=insider.user, cid="add")
    await boss.conn.call(SendChat, group=g, text="acquire Initech", cid="m1")
    await boss.conn.call(SendPost, group=g, text="Q3 plan", cid="p1")
    yield boss, insider, outsider, g
    for c in (boss, insider, outsider):
        await c.close()


async def test_every_request_about_a_secret_group_looks_like_a_missing_one(server, board):
    _, insider, outsider, g = board
    for name, probe in _probes(insider.user).items():
        request, fields = probe(g)
        secret = await _answer(outsider.conn, request, fields)
        request, fields = probe(MISSING)
        missing = await _answer(outsider.conn, request, fields)
        assert secret == missing, name
        assert secret[0] == "not_found", name


async def test_listings_directory_and_names_do_not_mention_it(server, board):
    _, _, outsider, g = board
    listing = await outsider.conn.call(ListGroups)
    assert g not in {x.group for x in listing.groups}
    assert all(x.parent != g for x in listing.groups)
    found = await outsider.conn.call(SearchDirectory, query="")
    for entry in found.users:
        assert g not in entry.groups
    # The name is free for anyone else: a collision would reveal it.
    same = await outsider.conn.call(CreateGroup, name="Board", cid="mine")
    assert same.group != g
    again = await outsider.conn.call(CreateGroup, name="Board 2", visibility="secret", cid="m2")
    assert again.group not in (g, same.group)


async def test_no_event_about_it_reaches_the_outsider(server, board):
    boss, insider, outsider, g = board
    await outsider.conn.call(Sync, since=0)
    # Everything that can happen in the group happens; then a marker elsewhere.
    await boss.conn.call(SendChat, group=g, text="still secret", cid="m2")
    await boss.conn.call(SendPost, group=g, text="minutes", cid="p2")
    await boss.conn.call(GroupSettings, group=g, description="renamed", cid="s1")
    await boss.conn.call(AddMember, group=g, user=insider.user, moderator=True, cid="mod")
    await boss.conn.call(RemoveMember, group=g, user=insider.user, cid="rm")
    await boss.conn.call(SendDirect, user=insider.user, text="between us", cid="dm1")
    marker = (await boss.conn.call(CreateGroup, name="Public", cid="pub")).group
    await outsider.pushes.until(lambda f: getattr(f, "group", None) == marker)
    leaked = [f for f in outsider.pushes.frames if _mentions(f, g)]
    assert leaked == []
    texts = json.dumps([repr(f) for f in outsider.pushes.frames])
    for secret_text in ("still secret", "minutes", "renamed", "between us", "Board"):
        assert secret_text not in texts


def _mentions(frame, g: int) -> bool:
    if isinstance(frame, Batch):
        return any(_mentions(e, g) for e in frame.events)
    return getattr(frame, "group", None) == g or getattr(frame, "parent", None) == g


async def test_catch_up_from_zero_holds_nothing_of_it(server, board):
    boss, insider, outsider, g = board
    lobby = (await boss.conn.call(CreateGroup, name="Lobby", cid="lobby")).group
    await outsider.conn.call(JoinGroup, group=lobby, cid="in")
    await boss.conn.call(SendChat, group=lobby, text="welcome", cid="w")
    await boss.conn.call(SendDirect, user=insider.user, text="psst", cid="dm")
    await outsider.close()
    pushes = Pushes()
    conn = await Connection.open(server.url, token=outsider.auth.token, on_push=pushes)
    await conn.call(Sync, since=0)
    events = [e for f in pushes.frames if isinstance(f, Batch) for e in f.events]
    assert any(getattr(e, "text", "") == "welcome" for e in events)
    assert not any(_mentions(e, g) for e in events)
    assert not any("psst" in repr(e) for e in events)
    await conn.close()


async def test_removed_member_loses_access_at_once_and_on_resume(server, board):
    boss, insider, _, g = board
    await insider.conn.call(Sync, since=0)
    cursor = (await insider.conn.call(Sync, since=0)).head
    await boss.conn.call(RemoveMember, group=g, user=insider.user, cid="kick")
    # The removal reaches them; then nothing more from the group.
    await insider.pushes.until(lambda f: getattr(f, "by", None) == boss.user)
    await boss.conn.call(SendChat, group=g, text="after the kick", cid="after")
    marker = (await boss.conn.call(CreateGroup, name="Elsewhere", cid="else")).group
    await insider.pushes.until(lambda f: getattr(f, "group", None) == marker)
    assert not any("after the kick" in repr(f) for f in insider.pushes.frames)
    for request, fields in ((History, {"group": g, "kind": "c"}), (Members, {"group": g})):
        with pytest.raises(ProtocolError) as err:
            await insider.conn.call(request, **fields)
        assert err.value.code.value == "not_found"
    pushes = Pushes()
    conn = await Connection.open(server.url, token=insider.auth.token, on_push=pushes)
    await conn.call(Sync, since=cursor)
    replay = [e for f in pushes.frames if isinstance(f, Batch) for e in f.events]
    assert not any("after the kick" in repr(e) for e in replay)
    await conn.close()


async def test_invitation_re_checks_the_inviters_rights(server):
    boss = await new_user(server, "boss")
    helper = await new_user(server, "helper")
    g = (await boss.conn.call(CreateGroup, name="Core", visibility="private", cid="g")).group
    await boss.conn.call(AddMember, group=g, user=helper.user, moderator=True, cid="m")
    code = (await helper.conn.call(CreateInvite, groups=[g])).code
    # The helper is demoted before the invitation is used.
    await boss.conn.call(AddMember, group=g, user=helper.user, moderator=False, cid="d")
    conn = await Connection.open(server.url)
    newbie = await conn.call(Redeem, code=code, name="newbie", password="long enough pw")
    members = await boss.conn.call(Members, group=g)
    assert newbie.user not in members.users  # never more than the inviter could grant now
    # A moderator's invitation does add to the group.
    code2 = (await boss.conn.call(CreateInvite, groups=[g])).code
    conn2 = await Connection.open(server.url)
    second = await conn2.call(Redeem, code=code2, name="second", password="long enough pw")
    assert second.user in (await boss.conn.call(Members, group=g)).users
    # An invitation cannot pre-assign a group the inviter may not add to.
    with pytest.raises(ProtocolError):
        await helper.conn.call(CreateInvite, groups=[g])
    for c in (conn, conn2):
        await c.close()
    await boss.close()
    await helper.close()


async def test_charter_must_be_accepted_before_writing(server):
    ana = await new_user(server, "ana")
    g = (await ana.conn.call(CreateGroup, name="Before", cid="g")).group
    conn = sqlite3.connect(server.config.db_path, isolation_level=None)
    with storage.transaction(conn):
        storage.publish_charter(conn, "# Charter\nBe kind.", 1)
    conn.close()
    with pytest.raises(ProtocolError) as err:
        await ana.conn.call(SendChat, group=g, text="hi", cid="m")
    assert err.value.code.value == "charter"
    with pytest.raises(ProtocolError) as err:  # a title others see is a write too
        await ana.conn.call(SetProfile, title="boss")
    assert err.value.code.value == "charter"
    text = await ana.conn.call(GetCharter)
    assert (text.version, text.accepted) == (1, 0) and "Be kind." in text.text
    await ana.conn.call(AcceptCharter, version=1)
    first = await ana.conn.call(SendChat, group=g, text="hi", cid="m")
    conn = sqlite3.connect(server.config.db_path, isolation_level=None)
    with storage.transaction(conn):
        storage.publish_charter(conn, "# Charter v2", 2)
    conn.close()
    with pytest.raises(ProtocolError) as err:
        await ana.conn.call(SendChat, group=g, text="again", cid="m2")
    assert "version 2" in err.value.message
    # A resend of a write already stored still gets its first answer.
    again = await ana.conn.call(SendChat, group=g, text="hi", cid="m")
    assert (again.seq, again.ts) == (first.seq, first.ts)
    await ana.close()


async def test_message_ids_of_a_secret_group_look_like_missing_ones(server, board):
    """Delete, pin, edit, and a reply that names a secret message: the same answer
    as for a message that does not exist."""
    boss, _, outsider, g = board
    secret_msg = (await boss.conn.call(History, group=g, kind="c")).events[0].seq
    mine = (await outsider.conn.call(CreateGroup, name="Mine", cid="mine")).group
    probes = {
        "del": lambda t: (DeleteMessage, {"target": t, "cid": f"d{t}"}),
        "pin": lambda t: (PinMessage, {"target": t, "cid": f"n{t}"}),
        "edit": lambda t: (EditMessage, {"target": t, "text": "mine now", "cid": f"e{t}"}),
        "reply": lambda t: (
            SendChat,
            {"group": mine, "text": "re", "reply": t, "cid": f"r{t}"},
        ),
    }
    for name, probe in probes.items():
        secret = await _answer(outsider.conn, *probe(secret_msg))
        missing = await _answer(outsider.conn, *probe(MISSING))
        assert secret == missing == ("not_found", secret[1]), name
    page = await boss.conn.call(History, group=g, kind="c")
    assert [e.text for e in page.events] == ["acquire Initech"]


async def test_the_directory_shows_private_groups_to_their_members_only(server):
    """Who is in a private group is for its members (``members`` says so too)."""
    boss = await new_user(server, "boss")
    carol = await new_user(server, "carol")
    priv = (await boss.conn.call(CreateGroup, name="PrivX", visibility="private", cid="p")).group
    opened = (await boss.conn.call(CreateGroup, name="Open", cid="o")).group

    async def boss_groups(asker) -> list[int]:
        found = await asker.conn.call(SearchDirectory, query="boss")
        return next(e.groups for e in found.users if e.user == boss.user)

    assert await boss_groups(carol) == [opened]
    assert sorted(await boss_groups(boss)) == sorted([priv, opened])
    await boss.conn.call(AddMember, group=priv, user=carol.user, cid="add")
    assert sorted(await boss_groups(carol)) == sorted([priv, opened])
    for c in (boss, carol):
        await c.close()


async def test_a_secret_group_and_a_missing_one_run_the_same_statements(server, board):
    """Timing: for every stored operation that names a group or a message, the
    two answers take the same path: the same statements, in the same order
    (compared with numbers blanked out: the ids differ), which a test can check
    without measuring time."""
    import re
    import sqlite3 as _sqlite3

    from server import storage as _storage

    _, insider, outsider, g = board
    u = outsider.user
    m = insider.user
    conn = _sqlite3.connect(server.config.db_path, isolation_level=None)
    try:
        secret_msg = conn.execute(
            "SELECT seq FROM events WHERE grp = ? AND kind = 'c'", (g,)
        ).fetchone()[0]
        by_group = {
            "members": lambda x: _storage.members(conn, u, x),
            "history": lambda x: _storage.history(conn, u, x, "c", None, 10),
            "join": lambda x: _storage.join_group(conn, u, x, "c1", 1),
            "leave": lambda x: _storage.leave_group(conn, u, x, "c1", 1),
            "greq": lambda x: _storage.request_join(conn, u, x, "c1", 1),
            "greqs": lambda x: _storage.join_requests(conn, u, x),
            "gapprove": lambda x: _storage.approve(conn, u, x, m, "c1", 1),
            "gadd": lambda x: _storage.add_member(conn, u, x, m, False, "c1", 1),
            "gremove": lambda x: _storage.remove_member(conn, u, x, m, "c1", 1),
            "gset": lambda x: _storage.update_group(conn, u, x, "c1", 1, description="d"),
            "chat": lambda x: _storage.append_message(conn, u, x, "c", "hi", "c1", 1),
            "post": lambda x: _storage.append_message(conn, u, x, "p", "hi", "c1", 1),
            "child": lambda x: _storage.create_group(
                conn, u, "kid", "c1", 1, parent=x, visibility="secret"
            ),
            "invite": lambda x: _storage.create_invite(
                conn, b"h" * 32, admin=False, now=1, expires=2, inviter=u, groups=[x]
            ),
            "groups only": lambda x: _storage.list_groups(conn, u, [x]),
        }
        by_message = {
            "del": lambda x: _storage.delete_message(conn, u, x, "c1", 1),
            "pin": lambda x: _storage.pin_message(conn, u, x, True, "c1", 1),
            "edit": lambda x: _storage.edit_message(conn, u, x, "x", 99, "c1", 1),
            "reply": lambda x: _storage.append_message(conn, u, g, "c", "x", "c1", 1, reply=x),
        }
        cases = [(name, call, (g, MISSING)) for name, call in by_group.items()]
        cases += [(name, call, (secret_msg, MISSING)) for name, call in by_message.items()]
        for name, call, ids in cases:
            runs = []
            for target in ids:
                statements: list[str] = []
                conn.execute("BEGIN IMMEDIATE")
                conn.set_trace_callback(statements.append)
                try:
                    call(target)
                    answer = "ok"
                except ProtocolError as exc:
                    answer = f"{exc.code.value}: {exc.message}"
                finally:
                    conn.set_trace_callback(None)
                    conn.execute("ROLLBACK")
                runs.append((answer, [re.sub(r"\b\d+\b", "N", s) for s in statements]))
            assert runs[0] == runs[1], name
    finally:
        conn.close()


async def test_group_ids_do_not_count_hidden_groups(server):
    """Ids missing from an outsider's list (below the id gcreate gave them) used to
    be exactly the secret groups and direct chats: ids are now random, so the
    ones in between say nothing, and a new id says nothing of how many exist."""
    boss = await new_user(server, "boss")
    insider = await new_user(server, "insider")
    outsider = await new_user(server, "outsider")
    hidden = []
    for i in range(6):
        g = await boss.conn.call(CreateGroup, name=f"S{i}", visibility="secret", cid=f"s{i}")
        hidden.append(g.group)
    dm = await boss.conn.call(SendDirect, user=insider.user, text="psst", cid="dm")
    hidden.append(dm.group)
    mine = [
        (await outsider.conn.call(CreateGroup, name=f"Mine {i}", cid=f"m{i}")).group
        for i in range(6)
    ]
    listed = {g.group for g in (await outsider.conn.call(ListGroups)).groups}
    assert set(mine) <= listed
    # Sequential ids: 1..7 hidden, then 8..13 the outsider's, and the gap below
    # the outsider's first id is the number of hidden groups.
    below = max(mine) - 1 - len({g for g in listed if g < max(mine)})
    assert below > 1_000, "ids below the outsider's own are mostly unused numbers"
    assert max(mine) - min(mine) > 1_000, "consecutive creations get unrelated ids"
    assert all(0 < g < 2**31 for g in [*mine, *hidden])
    for c in (boss, insider, outsider):
        await c.close()
