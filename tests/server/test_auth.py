"""Accounts: invitations, passwords, tokens, logout and revocation."""

from __future__ import annotations

import dataclasses
import sqlite3
import time

import pytest

from rse_tui.protocol import (
    PROTOCOL_VERSION,
    ErrorCode,
    Hello,
    ListGroups,
    Login,
    Logout,
    ProtocolError,
    Redeem,
    Revoke,
    Tokens,
)
from rse_tui.sync.connection import Connection
from server.app import RseServer

from ..helpers import PASSWORD, config, invite, new_user, refused


async def test_redeem_login_and_token_hello(server):
    ana = await new_user(server, "ana")
    assert ana.auth.name == "ana"
    # The token opens a new session without the password.
    again = await Connection.open(server.url, token=ana.auth.token)
    assert again.welcome is not None
    assert again.welcome.user == ana.user
    assert (await again.call(ListGroups)).groups == []
    # Name and password give a new token; names are case-insensitive.
    fresh = await Connection.open(server.url)
    auth = await fresh.call(Login, name="ANA", password=PASSWORD)
    assert auth.user == ana.user and auth.token != ana.auth.token
    for conn in (again, fresh):
        await conn.close()
    await ana.close()


async def test_bad_credentials_are_refused_the_same_way(server):
    await (await new_user(server, "ana")).close()
    conn = await Connection.open(server.url)
    wrong = await refused(
        conn.call(Login, name="ana", password="not the one"), ErrorCode.AUTH_FAILED
    )
    nobody = await refused(
        conn.call(Login, name="zed", password="whatever1"), ErrorCode.AUTH_FAILED
    )
    assert wrong.message == nobody.message
    await refused(conn.call(ListGroups), ErrorCode.AUTH_REQUIRED)
    await conn.close()
    for token in [
        "",
        "garbage",
        "1.short",
        "99999.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "1." + "x" * 43,
    ]:
        with pytest.raises(ProtocolError) as err:
            await Connection.open(server.url, token=token)
        assert err.value.code is ErrorCode.AUTH_FAILED


async def test_version_mismatch_is_a_typed_error(server):
    conn = await Connection.open(server.url)
    err = await refused(conn.call(Hello, version=PROTOCOL_VERSION + 1), ErrorCode.VERSION)
    assert str(PROTOCOL_VERSION) in err.message
    await conn.close()


async def test_invitations_are_single_use_and_expire(server):
    code = invite(server.config.db_path)
    conn = await Connection.open(server.url)
    await conn.call(Redeem, code=code.upper(), name="first", password=PASSWORD)
    await conn.close()
    conn = await Connection.open(server.url)
    await refused(
        conn.call(Redeem, code=code, name="second", password=PASSWORD), ErrorCode.INVITE_INVALID
    )
    await refused(
        conn.call(Redeem, code="nope", name="second", password=PASSWORD), ErrorCode.INVITE_INVALID
    )
    await refused(
        conn.call(Redeem, code=invite(server.config.db_path), name="First", password=PASSWORD),
        ErrorCode.NAME_TAKEN,
    )
    await refused(
        conn.call(Redeem, code=invite(server.config.db_path), name="bad name", password=PASSWORD),
        ErrorCode.BAD_FIELD,
    )
    await refused(
        conn.call(Redeem, code=invite(server.config.db_path), name="short", password="1234"),
        ErrorCode.BAD_FIELD,
    )
    await conn.close()


async def test_expired_invitation_is_refused(tmp_path):
    cfg = config(tmp_path / "rse.db")
    code = invite(cfg.db_path, hours=1)
    later = dataclasses.replace(cfg, clock=lambda: time.time() + 2 * 3600)
    async with RseServer(later) as srv:
        conn = await Connection.open(srv.url)
        await refused(
            conn.call(Redeem, code=code, name="late", password=PASSWORD), ErrorCode.INVITE_INVALID
        )
        await conn.close()


async def test_secrets_are_stored_hashed(server):
    ana = await new_user(server, "ana")
    token = ana.auth.token
    code = invite(server.config.db_path)
    db = sqlite3.connect(server.config.db_path)
    dump = "\n".join(db.iterdump())
    db.close()
    assert PASSWORD not in dump
    assert token.split(".", 1)[1] not in dump
    assert code not in dump
    assert "scrypt$" in dump
    await ana.close()


async def test_logout_revokes_token_and_closes_its_sessions(server):
    ana = await new_user(server, "ana")
    other = await Connection.open(server.url, token=ana.auth.token)
    await ana.conn.call(Logout)
    await ana.conn.wait_closed()
    await other.wait_closed()
    assert other.ws.close_code == 4001
    with pytest.raises(ProtocolError) as err:
        await Connection.open(server.url, token=ana.auth.token)
    assert err.value.code is ErrorCode.AUTH_FAILED


async def test_list_and_revoke_tokens(server):
    ana = await new_user(server, "ana")
    second = await Connection.open(server.url)
    auth2 = await second.call(Login, name="ana", password=PASSWORD)
    listing = await ana.conn.call(Tokens)
    assert len(listing.tokens) == 2
    assert [t.current for t in listing.tokens] == [True, False]
    other_id = int(auth2.token.split(".")[0])
    await ana.conn.call(Revoke, token_id=other_id)
    await second.wait_closed()
    assert second.ws.close_code == 4001
    assert len((await ana.conn.call(Tokens)).tokens) == 1
    # Someone else's token id is unknown, not revocable.
    bob = await new_user(server, "bob")
    await refused(
        bob.conn.call(Revoke, token_id=int(ana.auth.token.split(".")[0])), ErrorCode.NOT_FOUND
    )
    await Connection.open(server.url, token=ana.auth.token)
    await ana.close()
    await bob.close()


def test_failed_logins_wait_longer_each_time_per_name_and_address():
    from server.ratelimit import FailureThrottle

    now = [0.0]
    throttle = FailureThrottle(first=1.0, cap=8.0, clock=lambda: now[0])
    me, elsewhere = ("ana", "10.0.0.1"), ("ana", "10.0.0.2")
    throttle.failed(me)
    assert throttle.wait(me) == 0  # one typo is free
    waits = []
    for _ in range(5):
        throttle.failed(me)
        waits.append(throttle.wait(me))
    assert waits == [1, 2, 4, 8, 8]  # doubling, capped
    assert throttle.wait(elsewhere) == 0  # the owner elsewhere is not locked out
    now[0] += 8
    throttle.succeeded(me)
    assert throttle.wait(me) == 0


async def test_guesses_are_refused_before_hashing(server):
    ana = await new_user(server, "ana")
    await ana.close()
    conn = await Connection.open(server.url)
    for attempt in range(2):
        await refused(
            conn.call(Login, name="ana", password=f"guess {attempt}"), ErrorCode.AUTH_FAILED
        )
    slowed = await refused(conn.call(Login, name="ANA", password="guess 2"), ErrorCode.RATE_LIMITED)
    assert slowed.retry_after and slowed.retry_after > 0
    # An unknown name is treated the same (no hint that "ana" exists).
    for attempt in range(2):
        await refused(conn.call(Login, name="zed", password=f"x {attempt}"), ErrorCode.AUTH_FAILED)
    await refused(conn.call(Login, name="zed", password="x 2"), ErrorCode.RATE_LIMITED)
    await conn.close()
