"""Sign-in and account requests: hello, login, invitations, tokens, sync, the
charter, profiles and the directory."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rse_tui.protocol import (
    PROTOCOL_VERSION,
    AcceptCharter,
    AuthOk,
    Badge,
    Batch,
    CharterText,
    CreateInvite,
    Directory,
    Done,
    ErrorCode,
    Gap,
    GetCharter,
    GetUsers,
    Hello,
    InviteOk,
    Login,
    Logout,
    ProtocolError,
    Redeem,
    Revoke,
    SearchDirectory,
    SetProfile,
    Sync,
    SyncDone,
    TokenList,
    Tokens,
    UserList,
    Welcome,
    encode,
)

from .. import auth, policy, slots, storage
from .base import Caller, Services, check_line, check_password, check_user_name

T = TypeVar("T")

#: How stale a token's "last used" time may get (seconds).
TOKEN_TOUCH_EVERY = 3600


async def hello(svc: Services, caller: Caller, req: Hello) -> Welcome:
    if req.version != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.VERSION,
            f"protocol version {req.version} is not supported; this server speaks"
            f" {PROTOCOL_VERSION}",
        )
    if caller.peer.user is not None:
        raise ProtocolError(ErrorCode.FORBIDDEN, "this connection is already authenticated")
    if req.token is None:
        return Welcome(request_id=req.request_id, version=PROTOCOL_VERSION, head=0)
    parsed = auth.parse_token(req.token)
    row = await svc.db.read(storage.token_row, token_id=parsed[0]) if parsed else None
    if parsed is None or row is None or not auth.token_matches(parsed[1], row.hash):
        raise ProtocolError(ErrorCode.AUTH_FAILED, "token is not valid (logged out or revoked?)")
    _attach(svc, caller, row.user, row.name, parsed[0])
    caller.signed_in = row.created
    now = svc.now()
    if row.last_used is None or now - row.last_used >= TOKEN_TOUCH_EVERY:
        # Recorded at most hourly: a reconnect should not wait on a disk sync.
        await svc.db.write(storage.touch_token, token_id=parsed[0], now=now)
    start = await svc.db.read(storage.start_at, user=row.user)
    # Finding where to start read each of the user's groups: charged to the
    # user (reconnecting in a loop costs the user's allowance too).
    svc.charge_items(row.user, start.sources)
    return Welcome(
        request_id=req.request_id, version=PROTOCOL_VERSION, head=start.head, user=row.user
    )


def _attach(svc: Services, caller: Caller, user: int, name: str, token_id: int) -> None:
    if not svc.hub.attach(caller.peer, user, name, token_id):
        raise ProtocolError(
            ErrorCode.TOO_MANY_CONNECTIONS,
            f"at most {svc.limits.max_connections_per_user} connections per user",
        )


def _login_allowed(svc: Services, caller: Caller) -> None:
    wait = svc.login_limiter.take(caller.remote)
    if wait:
        raise ProtocolError(
            ErrorCode.RATE_LIMITED, "too many login attempts", retry_after=round(wait, 1)
        )


async def _issue_token(svc: Services, caller: Caller, user: int, name: str, rid: int) -> AuthOk:
    if svc.hub.connections(user) >= svc.limits.max_connections_per_user:
        _attach(svc, caller, user, name, 0)  # raises the typed error
    secret = auth.new_token_secret()
    token_id = await svc.db.write(
        storage.add_token, user=user, token_hash=auth.digest(secret), now=svc.now()
    )
    _attach(svc, caller, user, name, token_id)
    caller.signed_in = svc.now()
    return AuthOk(request_id=rid, token=auth.format_token(token_id, secret), user=user, name=name)


async def login(svc: Services, caller: Caller, req: Login) -> AuthOk:
    if caller.peer.user is not None:
        raise ProtocolError(ErrorCode.FORBIDDEN, "this connection is already authenticated")
    _login_allowed(svc, caller)
    key = (req.name.casefold(), caller.remote)
    wait = svc.login_failures.wait(key)
    if wait:  # refused before hashing: guesses cost the server nothing
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            "too many wrong passwords for this name from here",
            retry_after=round(wait, 1),
        )
    row = await svc.db.read(storage.user_login_row, name=req.name)
    stored = row[2] if row else None
    ok = await _checked(svc, caller, svc.hasher.verify, req.password, stored, known=key)
    if row is None or not ok:
        svc.login_failures.failed(key)  # known name or not: the same answer, the same wait
        raise ProtocolError(ErrorCode.AUTH_FAILED, "wrong name or password")
    svc.login_failures.succeeded(key)
    svc.known_sign_ins.add(key)
    return await _issue_token(svc, caller, row[0], row[1], req.request_id)


async def _checked(
    svc: Services,
    caller: Caller,
    hashing: Callable[..., Awaitable[T]],
    *args: Any,
    known: tuple[str, str] | None = None,
) -> T:
    """Run a password hash or check in the caller's turn (fair between
    addresses; a name that signed in from here before goes first)."""
    caller.signing_in = True
    try:
        extra: dict[str, Any] = {"lane": caller.remote, "gone": lambda: caller.peer.closing}
        if known is not None:
            extra["priority"] = known in svc.known_sign_ins
        return await hashing(*args, **extra)
    except slots.Busy:
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            "the server is busy checking passwords; try again shortly",
            retry_after=2.0,
        ) from None
    except slots.Gone:
        raise ProtocolError(ErrorCode.INTERNAL, "the connection closed") from None
    finally:
        caller.signing_in = False


async def redeem(svc: Services, caller: Caller, req: Redeem) -> AuthOk:
    if caller.peer.user is not None:
        raise ProtocolError(ErrorCode.FORBIDDEN, "this connection is already authenticated")
    name = check_user_name(req.name, svc.limits)
    password = check_password(req.password, svc.limits)
    _login_allowed(svc, caller)
    pw_hash = await _checked(svc, caller, svc.hasher.hash, password)
    code_hash = auth.digest(auth.normalise_invite(req.code))
    outcome = await svc.db.write(
        storage.redeem_invite, code_hash=code_hash, name=name, pw_hash=pw_hash, now=svc.now()
    )
    svc.known_sign_ins.add((name.casefold(), caller.remote))
    return await _issue_token(svc, caller, outcome.value, name, req.request_id)


async def logout(svc: Services, caller: Caller, req: Logout) -> None:
    user = caller.user
    token_id = caller.peer.token_id
    assert token_id is not None
    await svc.db.write(storage.revoke_token, user=user, token_id=token_id)
    # The reply is queued first, then every connection of this token closes.
    caller.peer.send(encode(Done(request_id=req.request_id)))
    svc.hub.end_token(token_id, "logged out")
    return None


async def tokens(svc: Services, caller: Caller, req: Tokens) -> TokenList:
    rows = await svc.db.read(storage.list_tokens, user=caller.user, current=caller.peer.token_id)
    return TokenList(request_id=req.request_id, tokens=rows)


async def revoke(svc: Services, caller: Caller, req: Revoke) -> Done | None:
    found = await svc.db.write(storage.revoke_token, user=caller.user, token_id=req.token_id)
    if not found:
        raise policy.NotFound("token")
    if req.token_id == caller.peer.token_id:
        caller.peer.send(encode(Done(request_id=req.request_id)))
        svc.hub.end_token(req.token_id, "token revoked")
        return None
    svc.hub.end_token(req.token_id, "token revoked")
    return Done(request_id=req.request_id)


# -- sync --------------------------------------------------------------------


async def sync(svc: Services, caller: Caller, req: Sync) -> None:
    user = caller.user
    peer = caller.peer
    peer.hold()
    try:
        if req.since is None:
            result = await svc.db.read(storage.start_at, user=user)
        else:
            result = await svc.db.read(
                storage.catch_up,
                user=user,
                since=req.since,
                bound=svc.limits.catch_up_bound,
                max_text=svc.limits.max_reply_text,
            )
    except BaseException:
        peer.release(2**63)
        raise
    svc.charge_items(user, len(result.events) + result.sources)
    if result.gap_upto is not None and req.since is not None:
        peer.send(encode(Gap(since=req.since, upto=result.gap_upto)))
    size = svc.limits.batch_size
    sent = 0
    for start in range(0, len(result.events), size):
        frame = encode(Batch(events=result.events[start : start + size]))
        sent += len(frame)
        peer.send(frame)
    svc.charge_bytes(user, sent)
    peer.send(encode(SyncDone(request_id=req.request_id, head=result.head)))
    peer.release(result.head)
    return None


# -- charter, profile, directory, invitations ---------------------------------------


async def get_charter(svc: Services, caller: Caller, req: GetCharter) -> CharterText:
    version, text, accepted = await svc.db.read(storage.charter, user=caller.user)
    return CharterText(request_id=req.request_id, version=version, text=text, accepted=accepted)


async def accept_charter(svc: Services, caller: Caller, req: AcceptCharter) -> Done:
    await svc.db.write(storage.accept_charter, user=caller.user, version=req.version)
    return Done(request_id=req.request_id)


async def set_profile(svc: Services, caller: Caller, req: SetProfile) -> Done:
    title = check_line(req.title, svc.limits.max_title, "a title", empty=True)
    # Through the write gate: a title others see is a write, refused until the
    # current charter is accepted like any other.
    await svc.db.write(storage.as_user, caller.user, _set_title, title=title)
    return Done(request_id=req.request_id)


def _set_title(conn: sqlite3.Connection, user: int, title: str) -> None:
    storage.set_title(conn, user, title)


async def get_users(svc: Services, caller: Caller, req: GetUsers) -> UserList:
    caller.user  # noqa: B018 - authentication check
    if len(req.users) > svc.limits.max_users_per_request:
        raise ProtocolError(
            ErrorCode.BAD_FIELD, f"at most {svc.limits.max_users_per_request} ids per request"
        )
    found = await svc.db.read(storage.users, ids=req.users)
    svc.charge_items(caller.user, len(found))
    return UserList(request_id=req.request_id, users=found)


async def search_directory(svc: Services, caller: Caller, req: SearchDirectory) -> Directory:
    query = check_line(req.query, 100, "a search", empty=True)
    if req.badge is not None and not Badge.knows(req.badge):
        raise ProtocolError(ErrorCode.BAD_FIELD, f"badges are: {', '.join(Badge)}")
    found = await svc.db.read(storage.directory, viewer=caller.user, query=query, badge=req.badge)
    svc.charge_items(caller.user, len(found) + sum(len(e.groups) for e in found))
    return Directory(request_id=req.request_id, users=found)


async def create_invite(svc: Services, caller: Caller, req: CreateInvite) -> InviteOk:
    if not 0 < req.hours <= 24 * 30:
        raise ProtocolError(ErrorCode.BAD_FIELD, "'hrs' is between 1 and 720")
    if len(req.groups) > 50:
        raise ProtocolError(ErrorCode.BAD_FIELD, "at most 50 groups per invitation")
    code = auth.new_invite_code()
    now = svc.now()
    await svc.db.write(
        storage.as_user,
        caller.user,
        _invite,
        code_hash=auth.digest(code),
        now=now,
        expires=now + req.hours * 3600,
        groups=req.groups,
    )
    return InviteOk(request_id=req.request_id, code=code)


def _invite(
    conn: sqlite3.Connection,
    user: int,
    *,
    code_hash: bytes,
    now: int,
    expires: int,
    groups: list[int],
) -> int:
    return storage.create_invite(
        conn, code_hash, admin=False, now=now, expires=expires, inviter=user, groups=groups
    )
