"""The cache's schema and its one reducer: migrations keep queued writes,
every event has its handler, every write kind its acknowledgement."""

from __future__ import annotations

import json
import sqlite3

import pytest

from rse_tui.protocol import (
    EVENTS,
    REQUESTS,
    CreateGroup,
    JoinGroup,
    LeaveGroup,
    SendChat,
    SendDirect,
    WriteRequest,
)
from rse_tui.sync.cache import SCHEMA_VERSION, Cache, CacheError
from rse_tui.sync.cache.acks import OWN_EVENTS
from rse_tui.sync.cache.reduce import HANDLERS
from rse_tui.sync.cache.schema import MIGRATIONS


def _old_cache(path, version: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:version]:
        migration(conn)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


def test_writes_queued_by_an_older_rse_are_sent_as_they_were_written(tmp_path):
    path = tmp_path / "cache.db"
    _old_cache(path, 7)
    conn = sqlite3.connect(path, isolation_level=None)
    rows = [
        ("a1", "chat", 7, "hello", None),
        ("a2", "dm", None, "psst", json.dumps({"user": 9})),
        ("a3", "gcreate", None, "Ops", json.dumps({"visibility": "private"})),
        ("a4", "join", 8, None, None),
        ("a5", "frobnicate", 8, None, None),  # nothing can send it
    ]
    for cid, op, grp, text, args in rows:
        conn.execute(
            "INSERT INTO outbox (cid, op, grp, text, created, args) VALUES (?, ?, ?, ?, 1.0, ?)",
            (cid, op, grp, text, args),
        )
    conn.close()
    cache = Cache(path)
    try:
        items = cache.outbox()
        assert [i.cid for i in items] == ["a1", "a2", "a3", "a4"]
        chat, dm, create, join = (i.request for i in items)
        assert chat == SendChat(request_id=0, cid="a1", group=7, text="hello")
        assert dm == SendDirect(request_id=0, cid="a2", user=9, text="psst")
        assert create == CreateGroup(request_id=0, cid="a3", name="Ops", visibility="private")
        assert join == JoinGroup(request_id=0, cid="a4", group=8)
        assert [i.text for i in items] == ["hello", "psst", "Ops", None]
        version = cache.conn.execute("PRAGMA user_version").fetchone()[0]
        assert version == SCHEMA_VERSION
    finally:
        cache.close()


def test_a_cache_from_a_newer_rse_is_refused(tmp_path):
    path = tmp_path / "cache.db"
    Cache(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(CacheError, match=f"{path} is from a newer rse .*: upgrade rse"):
        Cache(path)


def test_every_event_has_its_handler():
    missing = [kind for kind, cls in EVENTS.items() if cls not in HANDLERS]
    assert not missing, f"events the cache would drop: {missing}"


def test_every_write_kind_says_what_its_acknowledgement_stands_for():
    writes = {cls for cls in REQUESTS.values() if issubclass(cls, WriteRequest)}
    assert writes, "the protocol has writes"
    missing = sorted(c.__name__ for c in writes - set(OWN_EVENTS))
    assert writes == set(OWN_EVENTS), f"writes with no entry in acks.OWN_EVENTS: {missing}"


def test_a_group_row_reads_every_field_from_its_own_column(tmp_path):
    from rse_tui.protocol import GroupInfo

    cache = Cache(tmp_path / "cache.db")
    try:
        cache.set_identity(1, "ana")
        info = GroupInfo(group=7, name="Ops", member=True, members=5, head=0, parent=3,
                         visibility="private", moderator=True, post_policy="moderators",
                         chat_policy="nobody", comment_policy="moderators",
                         description="the room", requested=False)  # fmt: skip
        cache.put_groups([info])
        cache.conn.execute("UPDATE groups SET pending = 2 WHERE id = 7")
        cache.enqueue(LeaveGroup(request_id=0, cid="l", group=7))
        [row] = cache.groups()
        assert (row.group, row.name, row.member, row.members, row.parent) == (7, "Ops", True, 5, 3)
        assert (row.visibility, row.moderator, row.description) == ("private", True, "the room")
        assert (row.post_policy, row.chat_policy, row.comment_policy) == (
            "moderators",
            "nobody",
            "moderators",
        )
        assert (row.dm, row.requested, row.pending, row.queued) == (None, False, 2, "leave")
        assert (row.unread, row.mentions) == (0, 0)
    finally:
        cache.close()


def test_unread_mentions_are_counted_and_only_lines_with_an_at_sign_reach_the_pattern(tmp_path):
    """The group list's mention count asks Python's pattern only about unread
    lines that have an "@" (every mention has one): a cache with thousands
    of unread lines lists its groups without a call into Python for each."""
    from rse_tui.protocol import ChatEvent, CommentEvent, GroupInfo, PostEvent, UserInfo

    cache = Cache(tmp_path / "cache.db")
    try:
        cache.set_identity(1, "ana")
        cache.put_users([UserInfo(user=3, name="bo")])
        cache.put_groups(
            [
                GroupInfo(group=7, name="Ops oncall", member=True, members=3),
                GroupInfo(group=8, name="direct", member=True, members=2, dm=3),
            ]
        )
        texts = [
            "hi @Ana, can you look",  # me, in any case
            "@here the deploy is out",  # everyone
            "@ops-oncall please check db3",  # my group, its space written as -
            "mail ana@example.com",  # an address: no mention
            "@anabel will do it",  # someone else
            "nothing for anyone",
        ]
        events = [ChatEvent(seq=10, group=7, user=1, ts=1, text="@ana mine: read")]
        events += [
            ChatEvent(seq=11 + n, group=7, user=2, ts=1, text=x) for n, x in enumerate(texts)
        ]
        events += [
            PostEvent(seq=30, group=7, user=2, ts=1, text="**@ana** a post", title="T"),
            CommentEvent(seq=31, group=7, user=2, ts=1, text="and @all", post=30),
            ChatEvent(seq=40, group=8, user=3, ts=1, text="no at sign, a direct message"),
        ]
        cache.apply(events)
        asked: list[str] = []
        pattern = cache._mentions_me

        def counted(text: str | None) -> bool:
            asked.append(text or "")
            return pattern(text)

        cache.conn.create_function("mentions_me", 1, counted)
        rows = {r.group: r for r in cache.groups()}
        assert (rows[7].unread, rows[7].mentions) == (8, 5)
        assert (rows[8].unread, rows[8].mentions) == (1, 1)  # a direct message calls me
        assert asked and all("@" in text for text in asked)
    finally:
        cache.close()
