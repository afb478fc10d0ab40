"""Catch-up reads what the user may see, at a cost that does not grow with the
rest of the log, and answers a head that says nothing about other groups."""

from __future__ import annotations

import random
import sqlite3

from rse_tui.protocol import (
    AddMember,
    Approve,
    CreateGroup,
    DeleteMessage,
    GroupSettings,
    JoinGroup,
    LeaveGroup,
    PinMessage,
    RemoveMember,
    RequestJoin,
    SendChat,
    SendDirect,
    SendPost,
    Sync,
)
from rse_tui.sync.connection import Connection
from server import policy, storage
from server.storage.base import EVENT_COLUMNS, event_from_row

from ..helpers import Pushes, new_user


def _hide(db: sqlite3.Connection, group: int, user: int, n: int) -> None:
    """Store ``n`` chat messages in ``group`` straight into the file."""
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        "INSERT INTO events (kind, grp, user, ts, body) VALUES ('c', ?, ?, 1, ?)",
        [(group, user, f"hidden {i}") for i in range(n)],
    )
    db.execute("COMMIT")


def _steps(db: sqlite3.Connection, user: int) -> tuple[int, int]:
    """(SQLite virtual machine steps, events returned) of a catch-up from 0."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    db.set_progress_handler(count, 100)
    try:
        found = storage.catch_up(db, user=user, since=0, bound=2_000)
    finally:
        db.set_progress_handler(None, 0)
    return steps[0], len(found.events)


async def test_catch_up_costs_what_the_user_sees_not_the_log(server):
    """Ten times more events elsewhere: the same work (today's filter over the
    whole log did ten times more)."""
    boss = await new_user(server, "boss")
    reader = await new_user(server, "reader")
    mine = (await boss.conn.call(CreateGroup, name="Ops", cid="o")).group
    await reader.conn.call(JoinGroup, group=mine, cid="j")
    for i in range(20):
        await boss.conn.call(SendChat, group=mine, text=f"visible {i}", cid=f"v{i}")
    hidden = (await boss.conn.call(CreateGroup, name="Board", visibility="secret", cid="b")).group
    other = (await boss.conn.call(CreateGroup, name="Other", cid="x")).group
    db = sqlite3.connect(server.config.db_path, isolation_level=None)
    try:
        _hide(db, hidden, boss.user, 2_000)
        _hide(db, other, boss.user, 2_000)
        small, seen = _steps(db, reader.user)
        _hide(db, hidden, boss.user, 20_000)
        _hide(db, other, boss.user, 20_000)
        large, seen_again = _steps(db, reader.user)
    finally:
        db.close()
    assert seen == seen_again >= 20
    assert large <= small * 1.2 + 10, (small, large)
    await boss.close()
    await reader.close()


async def test_catch_up_is_exactly_what_the_pushed_rule_gives(server):
    """Every kind of event, every visibility, joins, leaves, removals, requests,
    DMs, deletions: for each user, catch-up from 0 holds exactly the events
    whose audience (policy.audience, the rule for pushed events) names them,
    and a catch-up from any cursor is the tail of it."""
    rng = random.Random(11)
    users = [await new_user(server, name) for name in ("ann", "bob", "cid", "dee")]
    groups: list[int] = []
    for i, vis in enumerate(("open", "private", "secret", "open", "secret")):
        owner = users[i % len(users)]
        g = (await owner.conn.call(CreateGroup, name=f"G{i}", visibility=vis, cid=f"g{i}")).group
        groups.append(g)
    owners = {g: users[i % len(users)] for i, g in enumerate(groups)}
    messages: list[tuple[int, int]] = []  # (seq, author)
    for step in range(160):
        who = rng.choice(users)
        g = rng.choice(groups)
        roll = rng.random()
        calls = {
            0.15: (JoinGroup, {"group": g}),
            0.25: (RequestJoin, {"group": g}),
            0.32: (LeaveGroup, {"group": g}),
            0.40: (AddMember, {"group": g, "user": rng.choice(users).user}),
            0.45: (RemoveMember, {"group": g, "user": rng.choice(users).user}),
            0.50: (Approve, {"group": g, "user": rng.choice(users).user}),
            0.55: (GroupSettings, {"group": g, "description": f"d{step}"}),
            0.62: (SendDirect, {"user": rng.choice(users).user, "text": f"dm {step}"}),
            0.70: (SendPost, {"group": g, "text": f"post {step}"}),
        }
        request, fields = next(
            (c for limit, c in calls.items() if roll < limit),
            (SendChat, {"group": g, "text": f"chat {step}"}),
        )
        if request in (AddMember, Approve, RemoveMember) and rng.random() < 0.7:
            who = owners[g]
        if messages and rng.random() < 0.08:
            target = rng.choice(messages)
            request = rng.choice([DeleteMessage, PinMessage])
            who = next(u for u in users if u.user == target[1])
            fields = {"target": target[0]}
            if request is PinMessage:
                fields["on"] = True
        try:
            ok = await who.conn.call(request, cid=f"s{step}", **fields)
        except Exception:  # refusals are part of the mix
            continue
        if request in (SendChat, SendPost, SendDirect):
            messages.append((ok.seq, who.user))

    db = sqlite3.connect(server.config.db_path)
    try:
        rows = db.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE deleted = 0 ORDER BY seq"
        ).fetchall()
        members, visibility = storage.memberships(db)
        for u in users:
            expected = []
            for row in rows:
                event = event_from_row(row)
                names = policy.audience(event, members, visibility)
                if names is None or u.user in names:
                    expected.append(event.seq)
            db.execute("BEGIN")
            found = storage.catch_up(db, user=u.user, since=0, bound=10_000)
            assert [e.seq for e in found.events] == expected, u.name
            assert found.head == (expected[-1] if expected else 0)
            cursor = expected[len(expected) // 2]
            tail = storage.catch_up(db, user=u.user, since=cursor, bound=10_000)
            assert [e.seq for e in tail.events] == [s for s in expected if s > cursor]
            bounded = storage.catch_up(db, user=u.user, since=0, bound=7)
            assert [e.seq for e in bounded.events] == expected[-7:]
            assert bounded.gap_upto is not None
            assert expected[-8] <= bounded.gap_upto < expected[-7]
            db.execute("COMMIT")
    finally:
        db.close()
    for u in users:
        await u.close()


async def test_an_idle_outsider_learns_nothing_from_the_head(server):
    """The head a connection gets (hello, sync) is the newest event its user may
    see: polling it does not count or time what happens in secret groups and
    direct chats (server-wide numbers still show in one's own acknowledgements
    and received events; docs/protocol.md says what that reveals)."""
    boss = await new_user(server, "boss")
    insider = await new_user(server, "insider")
    outsider = await new_user(server, "outsider")
    g = (await boss.conn.call(CreateGroup, name="Board", visibility="secret", cid="b")).group
    await boss.conn.call(AddMember, group=g, user=insider.user, cid="a")
    before = (await outsider.conn.call(Sync, since=0)).head
    for i in range(5):
        await boss.conn.call(SendChat, group=g, text=f"secret {i}", cid=f"m{i}")
        await boss.conn.call(SendDirect, user=insider.user, text=f"dm {i}", cid=f"d{i}")
    assert (await outsider.conn.call(Sync, since=before)).head == before
    assert (await outsider.conn.call(Sync)).head == before
    again = await Connection.open(server.url, token=outsider.auth.token, on_push=Pushes())
    assert again.welcome is not None and again.welcome.head == before
    await again.close()
    # The insider's head moves with what they see.
    seen = (await insider.conn.call(Sync)).head
    assert seen > before
    for c in (boss, insider, outsider):
        await c.close()


async def test_reads_are_charged_by_the_events_they_carry(tmp_path):
    """A read of n events costs its user 1 + n/items_per_token requests: a loop
    of big reads runs out of allowance far sooner than a loop of small ones
    (and then waits, or is refused past rate_max_delay)."""
    from rse_tui.protocol import ErrorCode, History, ProtocolError
    from server.app import RseServer

    from ..helpers import config

    cfg = config(
        tmp_path / "rse.db",
        rate_burst=25,
        rate_per_second=0.1,
        rate_max_delay=0.2,
        items_per_token=20,
    )
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
        db = sqlite3.connect(cfg.db_path, isolation_level=None)
        try:
            _hide(db, g, ana.user, 400)
        finally:
            db.close()
        # 25 tokens: gcreate 1, 100 events 1 + 5, 400+ events 1 + 20: none left.
        await ana.conn.call(History, group=g, kind="c", limit=100)
        await ana.conn.call(Sync, since=0)
        try:
            await ana.conn.call(History, group=g, kind="c", limit=1)
        except ProtocolError as exc:
            assert exc.code is ErrorCode.RATE_LIMITED
        else:
            raise AssertionError("a third big read went through")
        await ana.close()


async def test_listings_are_charged_by_the_items_they_carry(tmp_path):
    """The same for a group's member list: 400 members cost 1 + 400/10."""
    from rse_tui.protocol import ErrorCode, Members, ProtocolError
    from server.app import RseServer

    from ..helpers import config

    cfg = config(
        tmp_path / "rse.db",
        rate_burst=25,
        rate_per_second=0.1,
        rate_max_delay=0.2,
        items_per_token=10,
    )
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
        db = sqlite3.connect(cfg.db_path, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            for i in range(400):
                uid = db.execute(
                    "INSERT INTO users (name, pw, created) VALUES (?, 'x', 1)", (f"u{i}",)
                ).lastrowid
                db.execute("INSERT INTO members (grp, user, joined) VALUES (?, ?, 1)", (g, uid))
            db.execute("COMMIT")
        finally:
            db.close()
        assert len((await ana.conn.call(Members, group=g)).users) == 401
        try:
            await ana.conn.call(Members, group=g)
        except ProtocolError as exc:
            assert exc.code is ErrorCode.RATE_LIMITED
        else:
            raise AssertionError("a second 400-member listing went through")
        await ana.close()


async def test_a_catch_up_is_charged_by_the_groups_it_reads(tmp_path):
    """Each group the user is in is one more read, even when nothing happened in
    it: 400 groups cost 1 + 400/10, so a sync loop over many groups runs dry."""
    from rse_tui.protocol import ErrorCode, ProtocolError
    from server.app import RseServer

    from ..helpers import config

    cfg = config(
        tmp_path / "rse.db",
        rate_burst=25,
        rate_per_second=0.1,
        rate_max_delay=0.2,
        items_per_token=10,
    )
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        db = sqlite3.connect(cfg.db_path, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            for i in range(400):
                g = db.execute(
                    "INSERT INTO groups (name, creator, created) VALUES (?, ?, 1)",
                    (f"g{i}", ana.user),
                ).lastrowid
                db.execute(
                    "INSERT INTO members (grp, user, joined) VALUES (?, ?, 1)", (g, ana.user)
                )
            db.execute("COMMIT")
        finally:
            db.close()
        head = (await ana.conn.call(Sync)).head
        try:
            await ana.conn.call(Sync, since=head)
        except ProtocolError as exc:
            assert exc.code is ErrorCode.RATE_LIMITED
        else:
            raise AssertionError("a second catch-up over 400 groups went through")
        await ana.close()
