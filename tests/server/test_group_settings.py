"""A group's settings as the server stores and tells them: the ``g`` event's
stored body (wire names, None and empty values left out) and what a member
sees of it, for a creation, a settings change, a group under a secret one and
a direct chat."""

from __future__ import annotations

import sqlite3

from rse_tui.protocol import (
    CreateGroup,
    GroupEvent,
    GroupSettings,
    ListGroups,
    SendDirect,
    Sync,
    encode,
)
from server.storage.base import EVENT_COLUMNS, event_from_row

from ..helpers import new_user, reconnect


def _stored(db_path) -> list[tuple[str, GroupEvent]]:
    """Each ``g`` event's stored body, and the event read back from it (as a catch-up does)."""
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE kind = 'g' ORDER BY seq")
        return [(row[5], event_from_row(row)) for row in rows]
    finally:
        conn.close()


async def test_settings_events_are_stored_and_told_the_same_way(server):
    alice = await new_user(server, "alice")
    bob = await new_user(server, "bob")
    watch, pushes = await reconnect(server, alice.auth.token)  # alice's other device
    await watch.call(Sync, since=watch.welcome.head)
    ops = (
        await alice.conn.call(
            CreateGroup,
            name="Ops",
            cid="c1",
            visibility="private",
            post_policy="moderators",
            description="Runbooks",
        )
    ).group
    kid = (await alice.conn.call(CreateGroup, name="Kid", cid="c2", parent=ops)).group
    await alice.conn.call(GroupSettings, group=ops, cid="c3", name="Ops2", description="")
    vault = (await alice.conn.call(CreateGroup, name="V", cid="c4", visibility="secret")).group
    inner = (
        await alice.conn.call(CreateGroup, name="I", cid="c5", parent=vault, visibility="secret")
    ).group
    dm = (await alice.conn.call(SendDirect, user=bob.user, text="hi", cid="c6")).group
    rest = '"cp":"everyone","cm":"everyone"'
    stored = _stored(server.config.db_path)
    assert [body for body, _ in stored] == [
        f'{{"n":"Ops","vis":"private","pp":"moderators",{rest},"d":"Runbooks"}}',
        f'{{"n":"Kid","pa":{ops},"vis":"open","pp":"everyone",{rest}}}',
        f'{{"n":"Ops2","vis":"private","pp":"moderators",{rest}}}',
        f'{{"n":"V","vis":"secret","pp":"everyone",{rest}}}',
        # A secret parent is never named in an event.
        f'{{"n":"I","vis":"secret","pp":"everyone",{rest}}}',
        '{"n":"direct","vis":"secret","pp":"moderators","cp":"everyone","cm":"nobody","dm":1}',
    ]
    # Live, to alice's other device: a write's joins count for all its
    # events, so a secret group's creation reaches its creator's devices (as
    # their catch-up would).
    told = [await pushes.next(GroupEvent) for _ in range(6)]
    await watch.close()
    assert [(e.group, e.name, e.parent, e.visibility, e.description, e.dm) for e in told] == [
        (ops, "Ops", None, "private", "Runbooks", False),
        (kid, "Kid", ops, "open", "", False),
        (ops, "Ops2", None, "private", "", False),
        (vault, "V", None, "secret", "", False),
        (inner, "I", None, "secret", "", False),
        (dm, "direct", None, "secret", "", True),
    ]
    read_back = [event for _, event in stored]
    assert [encode(e) for e in read_back] == [encode(e) for e in told]
    listed = (await alice.conn.call(ListGroups)).groups
    assert [encode(g) for g in listed] == [
        f'{{"g":{dm},"n":"direct","m":true,"mc":2,"h":{_head(listed, dm)},"vis":"secret",'
        f'"pp":"moderators","cm":"nobody","dm":{bob.user}}}',
        f'{{"g":{inner},"n":"I","m":true,"mc":1,"h":{_head(listed, inner)},"pa":{vault},'
        '"vis":"secret","mod":true}',
        f'{{"g":{kid},"n":"Kid","m":true,"mc":1,"h":{_head(listed, kid)},"pa":{ops},"mod":true}}',
        f'{{"g":{ops},"n":"Ops2","m":true,"mc":1,"h":{_head(listed, ops)},"vis":"private",'
        '"mod":true,"pp":"moderators"}',
        f'{{"g":{vault},"n":"V","m":true,"mc":1,"h":{_head(listed, vault)},"vis":"secret",'
        '"mod":true}',
    ]


def _head(listed, group: int) -> int:
    return next(g.head for g in listed if g.group == group)
