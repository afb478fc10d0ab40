"""Governance: a role x visibility x action matrix, checked against a real server."""

from __future__ import annotations

import contextlib
import itertools
import sqlite3

import pytest

from rse_tui.protocol import (
    AddMember,
    Approve,
    CreateGroup,
    ErrorCode,
    GroupSettings,
    History,
    JoinGroup,
    JoinRequests,
    LeaveGroup,
    ListGroups,
    Members,
    ProtocolError,
    RemoveMember,
    RequestJoin,
    SearchDirectory,
    SendChat,
    SendPost,
)
from server import storage

from ..helpers import new_user

OK, FORBIDDEN, NOT_FOUND = "ok", "forbidden", "not_found"
ROLES = ("moderator", "member", "outsider", "admin")
VISIBILITIES = ("open", "private", "secret")


def make_admin(db_path, name: str) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    with storage.transaction(conn):
        storage.set_admin(conn, name, True)
    conn.close()


@pytest.fixture
async def people(server):
    clients = {role: await new_user(server, role) for role in ROLES}
    clients["stranger"] = await new_user(server, "stranger")
    make_admin(server.config.db_path, "admin")
    yield clients
    for client in clients.values():
        await client.close()


_cids = itertools.count()


def cid() -> str:
    return f"c{next(_cids)}"


async def _group(people, visibility: str, post_policy: str = "everyone") -> int:
    mod, member = people["moderator"], people["member"]
    g = (
        await mod.conn.call(
            CreateGroup,
            name=f"G{next(_cids)}",
            cid=cid(),
            visibility=visibility,
            post_policy=post_policy,
        )
    ).group
    await mod.conn.call(AddMember, group=g, user=member.user, cid=cid())
    await mod.conn.call(SendChat, group=g, text="inside", cid=cid())
    return g


# action name -> coroutine(conn, group id, people) performing it
async def _request_then_approve(conn, g, people):
    """A stranger asks (only private groups take requests), then we approve them."""
    stranger = people["stranger"]
    # Open: they would join directly; secret: unknown to them. Either way no request.
    with contextlib.suppress(ProtocolError):
        await stranger.conn.call(RequestJoin, group=g, cid=cid())
    return await conn.call(Approve, group=g, user=stranger.user, cid=cid())


ACTIONS = {
    "listed": None,
    "read": lambda c, g, p: c.call(History, group=g, kind="c"),
    "members": lambda c, g, p: c.call(Members, group=g),
    "join": lambda c, g, p: c.call(JoinGroup, group=g, cid=cid()),
    "chat": lambda c, g, p: c.call(SendChat, group=g, text="hi", cid=cid()),
    "post": lambda c, g, p: c.call(SendPost, group=g, text="news", cid=cid()),
    "settings": lambda c, g, p: c.call(GroupSettings, group=g, description="x", cid=cid()),
    "add": lambda c, g, p: c.call(AddMember, group=g, user=p["stranger"].user, cid=cid()),
    "remove": lambda c, g, p: c.call(RemoveMember, group=g, user=p["member"].user, cid=cid()),
    "request": lambda c, g, p: c.call(RequestJoin, group=g, cid=cid()),
    "requests": lambda c, g, p: c.call(JoinRequests, group=g),
    "approve": _request_then_approve,
    "leave": lambda c, g, p: c.call(LeaveGroup, group=g, cid=cid()),
}

# Expected outcome per (role, visibility) for each action, in ACTIONS order.
_M = {
    ("moderator", "open"): "ok ok ok ok ok ok ok ok ok forbidden ok not_found ok",
    ("moderator", "private"): "ok ok ok ok ok ok ok ok ok forbidden ok ok ok",
    ("moderator", "secret"): "ok ok ok ok ok ok ok ok ok forbidden ok not_found ok",
    ("member", "open"): "ok ok ok ok ok ok forbidden ok forbidden forbidden forbidden forbidden ok",
    (
        "member",
        "private",
    ): "ok ok ok ok ok ok forbidden forbidden forbidden forbidden forbidden forbidden ok",
    (
        "member",
        "secret",
    ): "ok ok ok ok ok ok forbidden forbidden forbidden forbidden forbidden forbidden ok",
    (
        "outsider",
        "open",
    ): "ok ok ok ok forbidden forbidden forbidden forbidden forbidden forbidden forbidden"
    " forbidden forbidden",
    (
        "outsider",
        "private",
    ): "ok forbidden forbidden forbidden forbidden forbidden forbidden forbidden forbidden ok"
    " forbidden forbidden forbidden",
    ("outsider", "secret"): " ".join(["no"] + ["not_found"] * 12),
    ("admin", "open"): "ok ok ok ok forbidden forbidden ok ok ok forbidden ok not_found forbidden",
    ("admin", "private"): "ok ok ok forbidden forbidden forbidden ok ok ok ok ok ok forbidden",
    ("admin", "secret"): " ".join(["no"] + ["not_found"] * 12),
}


async def _outcome(action, client, g, people) -> str:
    try:
        await ACTIONS[action](client.conn, g, people)
    except ProtocolError as exc:
        assert exc.code in (ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND), exc
        return exc.code.value
    return OK


@pytest.mark.parametrize(("role", "visibility"), list(_M))
async def test_role_visibility_action_matrix(server, people, role, visibility):
    expected = dict(zip(ACTIONS, _M[(role, visibility)].split(), strict=True))
    got = {}
    for action in ACTIONS:
        g = await _group(people, visibility)  # a fresh group per action: no side effects
        if action == "listed":
            listing = await people[role].conn.call(ListGroups)
            got[action] = "ok" if any(x.group == g for x in listing.groups) else "no"
            continue
        got[action] = await _outcome(action, people[role], g, people)
    assert got == expected


async def test_announcements_only_moderators_post_everyone_comments(server, people):
    mod, member = people["moderator"], people["member"]
    g = (
        await mod.conn.call(
            CreateGroup,
            name="Announcements",
            cid=cid(),
            post_policy="moderators",
            comment_policy="everyone",
        )
    ).group
    await member.conn.call(JoinGroup, group=g, cid=cid())
    await mod.conn.call(SendPost, group=g, text="Launch day!", cid=cid())
    with pytest.raises(ProtocolError) as err:
        await member.conn.call(SendPost, group=g, text="me too", cid=cid())
    assert err.value.code is ErrorCode.FORBIDDEN and "moderators" in err.value.message
    await member.conn.call(SendChat, group=g, text="congrats", cid=cid())
    listing = await member.conn.call(ListGroups)
    [info] = [x for x in listing.groups if x.group == g]
    assert (info.post_policy, info.comment_policy, info.moderator) == (
        "moderators",
        "everyone",
        False,
    )


async def test_chat_policy_nobody_and_moderators(server, people):
    mod, member = people["moderator"], people["member"]
    g = await _group(people, "open")
    await mod.conn.call(GroupSettings, group=g, chat_policy="moderators", cid=cid())
    with pytest.raises(ProtocolError):
        await member.conn.call(SendChat, group=g, text="x", cid=cid())
    await mod.conn.call(SendChat, group=g, text="still me", cid=cid())
    await mod.conn.call(GroupSettings, group=g, chat_policy="nobody", cid=cid())
    with pytest.raises(ProtocolError):
        await mod.conn.call(SendChat, group=g, text="x", cid=cid())


async def test_bad_settings_values_are_refused(server, people):
    mod = people["moderator"]
    for fields in ({"visibility": "hidden"}, {"post_policy": "nobody"}, {"chat_policy": "all"}):
        with pytest.raises(ProtocolError) as err:
            await mod.conn.call(CreateGroup, name="X", cid=cid(), **fields)
        assert err.value.code is ErrorCode.BAD_FIELD


async def test_a_word_outside_the_vocabulary_is_refused_naming_the_words(server, people):
    """The words come from the protocol's enums; the refusals read as they always did."""
    mod = people["moderator"]
    g = (await mod.conn.call(CreateGroup, name="Words", cid=cid())).group
    refusals = [
        (
            CreateGroup,
            {"name": "X", "visibility": "hidden"},
            "visibility is one of: open, private, secret",
        ),
        (
            CreateGroup,
            {"name": "X", "post_policy": "nobody"},
            "the post policy is one of: everyone, moderators",
        ),
        (
            CreateGroup,
            {"name": "X", "chat_policy": "all"},
            "the chat policy is one of: everyone, moderators, nobody",
        ),
        (
            CreateGroup,
            {"name": "X", "comment_policy": "all"},
            "the comment policy is one of: everyone, moderators, nobody",
        ),
        (
            GroupSettings,
            {"group": g, "visibility": "hidden"},
            "visibility is one of: open, private, secret",
        ),
        (
            GroupSettings,
            {"group": g, "post_policy": "nobody"},
            "post policy is one of: everyone, moderators",
        ),
        (
            GroupSettings,
            {"group": g, "comment_policy": "x"},
            "comment policy is one of: everyone, moderators, nobody",
        ),
        (
            History,
            {"group": g, "kind": "zz"},
            "'k' is 'c' (chat), 'p' (feed posts) or 'm' (comments)",
        ),
        (SearchDirectory, {"badge": "hero"}, "badges are: ambassador"),
    ]
    for request, fields, message in refusals:
        if request in (CreateGroup, GroupSettings):
            fields = {**fields, "cid": cid()}
        with pytest.raises(ProtocolError) as err:
            await mod.conn.call(request, **fields)
        assert (err.value.code, err.value.message) == (ErrorCode.BAD_FIELD, message)


async def test_tree_parent_rules(server, people):
    mod, member = people["moderator"], people["member"]
    top = (await mod.conn.call(CreateGroup, name="Engineering", cid=cid())).group
    child = (await mod.conn.call(CreateGroup, name="SRE", parent=top, cid=cid())).group
    with pytest.raises(ProtocolError) as err:  # only the parent's moderators add under it
        await member.conn.call(CreateGroup, name="Rogue", parent=top, cid=cid())
    assert err.value.code is ErrorCode.FORBIDDEN
    secret = (await mod.conn.call(CreateGroup, name="Board", visibility="secret", cid=cid())).group
    with pytest.raises(ProtocolError) as err:
        await mod.conn.call(CreateGroup, name="Open child", parent=secret, cid=cid())
    assert err.value.code is ErrorCode.FORBIDDEN
    listing = await member.conn.call(ListGroups)
    [info] = [x for x in listing.groups if x.group == child]
    assert info.parent == top


async def test_groups_asked_by_id_answer_what_the_full_list_would(server):
    bob = await new_user(server, "bob")
    ana = await new_user(server, "ana")
    vault = (await bob.conn.call(CreateGroup, name="Vault", visibility="secret", cid="v")).group
    inner = (
        await bob.conn.call(CreateGroup, name="Inner", parent=vault, visibility="secret", cid="i")
    ).group
    hidden = (await bob.conn.call(CreateGroup, name="Hidden", visibility="secret", cid="h")).group
    lobby = (await bob.conn.call(CreateGroup, name="Lobby", cid="o")).group
    await bob.conn.call(AddMember, group=inner, user=ana.user, cid="a")
    full = {g.group: g for g in (await ana.conn.call(ListGroups)).groups}
    some = (await ana.conn.call(ListGroups, only=[inner, hidden, lobby, 999])).groups
    # A secret group she is not in, like an id that does not exist, is left out.
    assert [g.group for g in some] == [inner, lobby]  # by name, as in the full list
    assert all(g == full[g.group] for g in some)
    assert some[0].parent is None  # she may not see the group it is under...
    [seen_by_bob] = (await bob.conn.call(ListGroups, only=[inner])).groups
    assert seen_by_bob.parent == vault  # ...bob may
    with pytest.raises(ProtocolError) as err:
        await ana.conn.call(ListGroups, only=[])
    assert err.value.code is ErrorCode.BAD_FIELD
    await ana.close()
    await bob.close()


async def test_one_join_request_per_person_and_names_that_read_as_something_else(server):
    boss = await new_user(server, "boss")
    bob = await new_user(server, "bob")
    g = (await boss.conn.call(CreateGroup, name="PrivX", visibility="private", cid="p")).group
    await bob.conn.call(RequestJoin, group=g, cid="r1")
    with pytest.raises(ProtocolError) as again:
        await bob.conn.call(RequestJoin, group=g, cid="r2")
    assert again.value.code is ErrorCode.FORBIDDEN and "already asked" in again.value.message
    assert len((await boss.conn.call(JoinRequests, group=g)).requests) == 1
    for name in ("#ops", "@ana", "/join", " #x"):
        with pytest.raises(ProtocolError) as bad:
            await boss.conn.call(CreateGroup, name=name, cid=f"n{name}")
        assert bad.value.code is ErrorCode.BAD_FIELD
    for c in (boss, bob):
        await c.close()


async def test_a_plain_member_cannot_demote_a_moderator(server):
    boss = await new_user(server, "boss")
    bob = await new_user(server, "bob")
    g = (await boss.conn.call(CreateGroup, name="Open", cid="o")).group
    await bob.conn.call(JoinGroup, group=g, cid="j")
    with pytest.raises(ProtocolError) as err:
        await bob.conn.call(AddMember, group=g, user=boss.user, moderator=False, cid="d")
    assert err.value.code is ErrorCode.FORBIDDEN
    listed = await boss.conn.call(Members, group=g)
    assert boss.user in listed.moderators
    for c in (boss, bob):
        await c.close()


async def test_names_may_not_hold_direction_controls(server):
    """ "\\u202egnireenignE" shows as "Engineering": a name must read as it is."""
    boss = await new_user(server, "boss")
    for name in ("\u202egnireenignE", "Ops\u2066x"):
        with pytest.raises(ProtocolError) as bad:
            await boss.conn.call(CreateGroup, name=name, cid=f"n{ord(name[-1])}")
        assert bad.value.code is ErrorCode.BAD_FIELD
    ok = await boss.conn.call(CreateGroup, name="Ops 👩‍💻 team", cid="emoji")  # ZWJ stays
    assert ok.group
    await boss.close()


async def test_settings_keep_the_tree_rule_of_secret_groups(server):
    boss = await new_user(server, "boss")
    top = (await boss.conn.call(CreateGroup, name="Board", visibility="secret", cid="t")).group
    kid = (
        await boss.conn.call(
            CreateGroup, name="Board kid", parent=top, visibility="secret", cid="k"
        )
    ).group
    with pytest.raises(ProtocolError) as opened:
        await boss.conn.call(GroupSettings, group=kid, visibility="open", cid="s1")
    assert opened.value.code is ErrorCode.FORBIDDEN
    open_top = (await boss.conn.call(CreateGroup, name="Eng", cid="e")).group
    await boss.conn.call(CreateGroup, name="Eng kid", parent=open_top, cid="ek")
    with pytest.raises(ProtocolError) as hidden:
        await boss.conn.call(GroupSettings, group=open_top, visibility="secret", cid="s2")
    assert hidden.value.code is ErrorCode.FORBIDDEN
    await boss.close()
