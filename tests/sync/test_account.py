"""Joining fills the new profile's cache for its first screen, from one flight."""

from __future__ import annotations

import pytest

from rse_tui.protocol import ChatEvent, CreateGroup, ErrorCode, ListGroups, ProtocolError, SendChat
from rse_tui.sync import account
from rse_tui.sync.cache import Cache
from server.admin import mint_invite, open_db

from ..helpers import PASSWORD, new_user


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


async def _two_groups(server) -> tuple[object, int, int, str]:
    host = await new_user(server, "host")
    alpha = (await host.conn.call(CreateGroup, name="Alpha", cid="a")).group
    bravo = (await host.conn.call(CreateGroup, name="bravo", cid="b")).group
    for n in range(5):
        await host.conn.call(SendChat, group=alpha, text=f"alpha {n}", cid=f"a{n}")
    for n in range(3):
        await host.conn.call(SendChat, group=bravo, text=f"bravo {n}", cid=f"b{n}")
    conn = open_db(server.config.db_path)
    try:
        code = mint_invite(conn, admin=False, hours=1, groups=[alpha, bravo])
    finally:
        conn.close()
    return host, alpha, bravo, code


def _texts(cache: Cache, group: int) -> list[str]:
    return [row.text for row in cache.messages(group, ChatEvent.TYPE)]


async def test_join_brings_the_newest_messages_of_each_member_group(server, tmp_path):
    host, alpha, bravo, code = await _two_groups(server)
    acct, _ = await account.join(tmp_path / "home", server.url, code, "newcomer", PASSWORD)
    cache = acct.open_cache()
    try:
        assert _texts(cache, alpha) == [f"alpha {n}" for n in range(5)]
        assert _texts(cache, bravo) == [f"bravo {n}" for n in range(3)]
        # Everything there was came: no hole left to fetch, authors known.
        assert cache.hole_below(alpha, ChatEvent.TYPE, None) is None
        assert cache.hole_below(bravo, ChatEvent.TYPE, None) is None
        assert cache.user_name(host.user) == "host"
        assert cache.cursor() > 0
    finally:
        cache.close()
    await host.close()


async def test_a_budget_fills_groups_in_list_order_and_leaves_holes(server, tmp_path, monkeypatch):
    host, alpha, bravo, code = await _two_groups(server)
    monkeypatch.setattr(account, "FIRST_SCREEN", 6)
    acct, _ = await account.join(tmp_path / "home", server.url, code, "newcomer", PASSWORD)
    cache = acct.open_cache()
    try:
        # Alpha (first by name) took its 5; bravo got the one left: its newest.
        assert _texts(cache, alpha) == [f"alpha {n}" for n in range(5)]
        assert cache.hole_below(alpha, ChatEvent.TYPE, None) is None
        assert _texts(cache, bravo) == ["bravo 2"]
        hole = cache.hole_below(bravo, ChatEvent.TYPE, None)
        assert hole is not None  # older bravo messages are still to fetch
    finally:
        cache.close()
    await host.close()


async def test_recent_is_bounded_and_only_from_member_groups(server):
    host, alpha, bravo, _ = await _two_groups(server)
    other = await new_user(server, "other")
    reply = await other.conn.call(ListGroups, recent=50)
    assert {g.group for g in reply.groups} >= {alpha, bravo}
    assert reply.recent == []  # open groups it is not in: listed, but no messages
    for bad in (-1, 501):
        with pytest.raises(ProtocolError) as err:
            await other.conn.call(ListGroups, recent=bad)
        assert err.value.code is ErrorCode.BAD_FIELD
    mine = await host.conn.call(ListGroups, recent=4)
    assert [e.text for e in mine.recent] == ["alpha 1", "alpha 2", "alpha 3", "alpha 4"]
    await host.close()
    await other.close()


async def test_a_refused_invitation_leaves_no_profile(server, tmp_path):
    with pytest.raises(ProtocolError) as err:
        await account.join(tmp_path / "home", server.url, "nope-nope", "newcomer", PASSWORD)
    assert err.value.code is ErrorCode.INVITE_INVALID
    assert not (tmp_path / "home" / "profiles").exists() or not any(
        (tmp_path / "home" / "profiles").iterdir()
    )


async def test_login_fills_a_new_device_and_leaves_a_synced_cache_to_resume(server, tmp_path):
    host, alpha, _, _ = await _two_groups(server)
    home = tmp_path / "home"
    acct, _ = await account.login(home, server.url, "host", PASSWORD)
    cache = acct.open_cache()
    try:
        assert _texts(cache, alpha) == [f"alpha {n}" for n in range(5)]
        cursor = cache.cursor()
    finally:
        cache.close()
    await host.conn.call(SendChat, group=alpha, text="while logged out", cid="late")
    # Logging in again on this device: the cache resumes from its cursor later,
    # so nothing between it and the new head may be skipped over.
    acct, _ = await account.login(home, server.url, "host", PASSWORD)
    cache = acct.open_cache()
    try:
        assert cache.cursor() == cursor
        assert "while logged out" not in _texts(cache, alpha)
    finally:
        cache.close()
    await host.close()


async def test_a_wrong_password_saves_nothing(server, tmp_path):
    host = await new_user(server, "host")
    with pytest.raises(ProtocolError) as err:
        await account.login(tmp_path / "home", server.url, "host", "not the password")
    assert err.value.code is ErrorCode.AUTH_FAILED
    assert not (tmp_path / "home" / "profiles").exists() or not any(
        (tmp_path / "home" / "profiles").iterdir()
    )
    await host.close()
