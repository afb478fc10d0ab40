"""One small coroutine per request type, found through ``HANDLERS``.

A handler gets the server's shared services, the connection's session and the
typed request; it returns the reply (or None when it queued its frames itself,
as ``sync`` does) or raises ProtocolError. Handlers never
touch SQL (storage.py does) nor the socket (the peer's queue does).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from rse_tui.protocol import (
    HISTORY_KINDS,
    PROTOCOL_VERSION,
    AuthOk,
    Batch,
    ChatEvent,
    CreateGroup,
    Done,
    ErrorCode,
    Gap,
    GetUsers,
    GroupList,
    Hello,
    History,
    JoinGroup,
    LeaveGroup,
    ListGroups,
    Login,
    Logout,
    MemberList,
    Members,
    Page,
    PostEvent,
    ProtocolError,
    Redeem,
    Reply,
    Request,
    Revoke,
    SendChat,
    SendPost,
    Sync,
    SyncDone,
    TokenList,
    Tokens,
    UserList,
    Welcome,
    WriteOk,
    encode,
)

from . import auth, storage
from .config import Limits, ServerConfig
from .database import Database
from .hub import Hub, Peer
from .ratelimit import RateLimiter


@dataclass(slots=True)
class Services:
    """What every handler may use; one per running server."""

    config: ServerConfig
    db: Database
    hub: Hub
    hasher: auth.PasswordHasher
    user_limiter: RateLimiter
    conn_limiter: RateLimiter
    login_limiter: RateLimiter

    @property
    def limits(self) -> Limits:
        return self.config.limits

    def now(self) -> int:
        return int(self.config.clock())


@dataclass(slots=True)
class Session:
    """One connection's state."""

    peer: Peer
    remote: str

    @property
    def user(self) -> int:
        if self.peer.user is None:
            raise ProtocolError(ErrorCode.AUTH_REQUIRED, "send hello with a token or log in first")
        return self.peer.user


#: A handler returns its reply, or None when it queued its answer itself.
Handler = Callable[[Services, Session, Any], Awaitable[Reply | None]]


# -- validation --------------------------------------------------------------

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _has_control(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def check_user_name(name: str, limits: Limits) -> str:
    if not 0 < len(name) <= limits.max_user_name or not _NAME_CHARS.issuperset(name):
        raise ProtocolError(
            ErrorCode.BAD_FIELD,
            f"a user name is 1-{limits.max_user_name} letters, digits, '.', '_' or '-'",
        )
    if not name[0].isalnum():
        raise ProtocolError(ErrorCode.BAD_FIELD, "a user name starts with a letter or digit")
    return name


def check_password(password: str, limits: Limits) -> str:
    if not limits.min_password <= len(password) <= limits.max_password:
        raise ProtocolError(
            ErrorCode.BAD_FIELD,
            f"a password has {limits.min_password} to {limits.max_password} characters",
        )
    return password


def check_group_name(name: str, limits: Limits) -> str:
    name = name.strip()
    if not name or _has_control(name):
        raise ProtocolError(ErrorCode.BAD_FIELD, "a group name is printable text, not empty")
    if len(name) > limits.max_group_name:
        raise ProtocolError(
            ErrorCode.TOO_LONG, f"a group name has at most {limits.max_group_name} characters"
        )
    return name


def check_text(text: str, limit: int) -> str:
    if not text.strip():
        raise ProtocolError(ErrorCode.BAD_FIELD, "text is empty")
    if len(text) > limit:
        raise ProtocolError(ErrorCode.TOO_LONG, f"text has at most {limit} characters")
    if "\x00" in text:
        raise ProtocolError(ErrorCode.BAD_FIELD, "text contains a NUL character")
    return text


def _write_ok(request: Request, result: storage.Receipt) -> WriteOk:
    return WriteOk(request_id=request.request_id, seq=result.seq, ts=result.ts, group=result.group)


# -- connection and accounts ---------------------------------------------------


async def hello(svc: Services, session: Session, req: Hello) -> Welcome:
    if req.version != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.VERSION,
            f"protocol version {req.version} is not supported; this server speaks"
            f" {PROTOCOL_VERSION}",
        )
    if session.peer.user is not None:
        raise ProtocolError(ErrorCode.FORBIDDEN, "this connection is already authenticated")
    if req.token is None:
        return Welcome(request_id=req.request_id, version=PROTOCOL_VERSION, head=0)
    parsed = auth.parse_token(req.token)
    row = await svc.db.read(partial(storage.token_row, token_id=parsed[0])) if parsed else None
    if parsed is None or row is None or not auth.token_matches(parsed[1], row.hash):
        raise ProtocolError(ErrorCode.AUTH_FAILED, "token is not valid (logged out or revoked?)")
    _attach(svc, session, row.user, row.name, parsed[0])
    await svc.db.write(partial(storage.touch_token, token_id=parsed[0], now=svc.now()))
    head = await svc.db.read(storage.head)
    return Welcome(
        request_id=req.request_id,
        version=PROTOCOL_VERSION,
        head=head,
        user=row.user,
        name=row.name,
    )


def _attach(svc: Services, session: Session, user: int, name: str, token_id: int) -> None:
    if not svc.hub.attach(session.peer, user, name, token_id):
        raise ProtocolError(
            ErrorCode.TOO_MANY_CONNECTIONS,
            f"at most {svc.limits.max_connections_per_user} connections per user",
        )


def _login_allowed(svc: Services, session: Session) -> None:
    wait = svc.login_limiter.take(session.remote)
    if wait:
        raise ProtocolError(
            ErrorCode.RATE_LIMITED, "too many login attempts", retry_after=round(wait, 1)
        )


async def _issue_token(svc: Services, session: Session, user: int, name: str, rid: int) -> AuthOk:
    if svc.hub.connections(user) >= svc.limits.max_connections_per_user:
        _attach(svc, session, user, name, 0)  # raises the typed error
    secret = auth.new_token_secret()
    token_id = await svc.db.write(
        partial(storage.add_token, user=user, token_hash=auth.digest(secret), now=svc.now())
    )
    _attach(svc, session, user, name, token_id)
    return AuthOk(request_id=rid, token=auth.format_token(token_id, secret), user=user, name=name)


async def login(svc: Services, session: Session, req: Login) -> AuthOk:
    if session.peer.user is not None:
        raise ProtocolError(ErrorCode.FORBIDDEN, "this connection is already authenticated")
    _login_allowed(svc, session)
    row = await svc.db.read(partial(storage.user_login_row, name=req.name))
    ok = await svc.hasher.verify(req.password, row[2] if row else None)
    if row is None or not ok:
        raise ProtocolError(ErrorCode.AUTH_FAILED, "wrong name or password")
    return await _issue_token(svc, session, row[0], row[1], req.request_id)


async def redeem(svc: Services, session: Session, req: Redeem) -> AuthOk:
    if session.peer.user is not None:
        raise ProtocolError(ErrorCode.FORBIDDEN, "this connection is already authenticated")
    name = check_user_name(req.name, svc.limits)
    password = check_password(req.password, svc.limits)
    _login_allowed(svc, session)
    pw_hash = await svc.hasher.hash(password)
    code_hash = auth.digest(auth.normalise_invite(req.code))
    user = await svc.db.write(
        partial(
            storage.redeem_invite, code_hash=code_hash, name=name, pw_hash=pw_hash, now=svc.now()
        )
    )
    return await _issue_token(svc, session, user, name, req.request_id)


async def logout(svc: Services, session: Session, req: Logout) -> None:
    user = session.user
    token_id = session.peer.token_id
    assert token_id is not None
    await svc.db.write(partial(storage.revoke_token, user=user, token_id=token_id))
    # The reply is queued first, then every session of this token closes.
    session.peer.send(encode(Done(request_id=req.request_id)))
    svc.hub.end_token(token_id, "logged out")
    return None


async def tokens(svc: Services, session: Session, req: Tokens) -> TokenList:
    rows = await svc.db.read(
        partial(storage.list_tokens, user=session.user, current=session.peer.token_id)
    )
    return TokenList(request_id=req.request_id, tokens=rows)


async def revoke(svc: Services, session: Session, req: Revoke) -> Done | None:
    found = await svc.db.write(
        partial(storage.revoke_token, user=session.user, token_id=req.token_id)
    )
    if not found:
        raise storage.NotFound("token")
    if req.token_id == session.peer.token_id:
        session.peer.send(encode(Done(request_id=req.request_id)))
        svc.hub.end_token(req.token_id, "token revoked")
        return None
    svc.hub.end_token(req.token_id, "token revoked")
    return Done(request_id=req.request_id)


# -- sync --------------------------------------------------------------------


async def sync(svc: Services, session: Session, req: Sync) -> None:
    user = session.user
    peer = session.peer
    peer.hold()
    try:
        result = await svc.db.read(
            partial(storage.catch_up, user=user, since=req.since, bound=svc.limits.catch_up_bound)
        )
    except BaseException:
        peer.release(2**63)
        raise
    if result.gap_upto is not None:
        peer.send(encode(Gap(since=req.since, upto=result.gap_upto)))
    size = svc.limits.batch_size
    for start in range(0, len(result.events), size):
        peer.send(encode(Batch(events=result.events[start : start + size])))
    peer.send(encode(SyncDone(request_id=req.request_id, head=result.head)))
    peer.release(result.head)
    return None


# -- groups and messages -------------------------------------------------------


async def create_group(svc: Services, session: Session, req: CreateGroup) -> WriteOk:
    name = check_group_name(req.name, svc.limits)
    result = await svc.db.write(
        partial(storage.create_group, user=session.user, name=name, cid=req.cid, now=svc.now()),
        origin=session.peer,
    )
    return _write_ok(req, result.value)


async def list_groups(svc: Services, session: Session, req: ListGroups) -> GroupList:
    groups = await svc.db.read(partial(storage.list_groups, user=session.user))
    return GroupList(request_id=req.request_id, groups=groups)


async def join_group(svc: Services, session: Session, req: JoinGroup) -> WriteOk:
    result = await svc.db.write(
        partial(storage.join_group, user=session.user, group=req.group, cid=req.cid, now=svc.now()),
        origin=session.peer,
    )
    return _write_ok(req, result.value)


async def leave_group(svc: Services, session: Session, req: LeaveGroup) -> WriteOk:
    result = await svc.db.write(
        partial(
            storage.leave_group, user=session.user, group=req.group, cid=req.cid, now=svc.now()
        ),
        origin=session.peer,
    )
    return _write_ok(req, result.value)


async def members(svc: Services, session: Session, req: Members) -> MemberList:
    session.user  # noqa: B018 - authentication check
    users = await svc.db.read(partial(storage.members, group=req.group))
    return MemberList(request_id=req.request_id, users=users)


async def _append(
    svc: Services, session: Session, req: SendChat | SendPost, kind: str, limit: int
) -> WriteOk:
    user = session.user
    text = check_text(req.text, limit)
    result = await svc.db.write(
        partial(
            storage.append_message,
            user=user,
            group=req.group,
            kind=kind,
            text=text,
            cid=req.cid,
            now=svc.now(),
        ),
        origin=session.peer,
    )
    return _write_ok(req, result.value)


async def send_chat(svc: Services, session: Session, req: SendChat) -> WriteOk:
    return await _append(svc, session, req, ChatEvent.TYPE, svc.limits.max_chat_chars)


async def send_post(svc: Services, session: Session, req: SendPost) -> WriteOk:
    return await _append(svc, session, req, PostEvent.TYPE, svc.limits.max_post_chars)


async def history(svc: Services, session: Session, req: History) -> Page:
    session.user  # noqa: B018 - authentication check
    if req.kind not in HISTORY_KINDS:
        raise ProtocolError(ErrorCode.BAD_FIELD, "'k' is 'c' (chat) or 'p' (feed posts)")
    if not 0 < req.limit <= svc.limits.max_history_page:
        raise ProtocolError(
            ErrorCode.BAD_FIELD, f"'n' is between 1 and {svc.limits.max_history_page}"
        )
    events, more = await svc.db.read(
        partial(storage.history, group=req.group, kind=req.kind, before=req.before, limit=req.limit)
    )
    return Page(request_id=req.request_id, events=events, more=more)


async def get_users(svc: Services, session: Session, req: GetUsers) -> UserList:
    session.user  # noqa: B018 - authentication check
    if len(req.users) > svc.limits.max_users_per_request:
        raise ProtocolError(
            ErrorCode.BAD_FIELD, f"at most {svc.limits.max_users_per_request} ids per request"
        )
    found = await svc.db.read(partial(storage.users, ids=req.users))
    return UserList(request_id=req.request_id, users=found)


HANDLERS: Mapping[type[Request], Handler] = {
    Hello: hello,
    Login: login,
    Redeem: redeem,
    Logout: logout,
    Tokens: tokens,
    Revoke: revoke,
    Sync: sync,
    CreateGroup: create_group,
    ListGroups: list_groups,
    JoinGroup: join_group,
    LeaveGroup: leave_group,
    Members: members,
    SendChat: send_chat,
    SendPost: send_post,
    History: history,
    GetUsers: get_users,
}
