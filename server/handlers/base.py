"""What handlers share: the services, the session, input checks, the write helper."""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from rse_tui.protocol import ErrorCode, ProtocolError, Reply, Request, WriteOk

from .. import auth, storage
from ..config import Limits, ServerConfig
from ..database import Database, Outcome
from ..hub import Hub, Peer
from ..ratelimit import RateLimiter


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


async def write(
    svc: Services, session: Session, req: Request, fn: Callable[..., Outcome[Any]], **kwargs: Any
) -> WriteOk:
    """Run a storage write for the session's user behind the charter gate; answer it."""
    user = session.user
    outcome = await svc.db.write(
        partial(storage.as_user, user=user, fn=fn, **kwargs), origin=session.peer
    )
    result = outcome.value
    return WriteOk(request_id=req.request_id, seq=result.seq, ts=result.ts, group=result.group)


# -- input checks -------------------------------------------------------------------

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def has_control(text: str, allowed: str = "") -> bool:
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


def check_line(text: str, limit: int, what: str, *, empty: bool = False) -> str:
    """A one-line, printable, bounded text (names, titles)."""
    text = text.strip()
    if (not text and not empty) or has_control(text):
        raise ProtocolError(ErrorCode.BAD_FIELD, f"{what} is printable text, not empty")
    if len(text) > limit:
        raise ProtocolError(ErrorCode.TOO_LONG, f"{what} has at most {limit} characters")
    return text


def check_group_name(name: str, limits: Limits) -> str:
    return check_line(name, limits.max_group_name, "a group name")


def check_text(text: str, limit: int) -> str:
    if not text.strip():
        raise ProtocolError(ErrorCode.BAD_FIELD, "text is empty")
    if len(text) > limit:
        raise ProtocolError(ErrorCode.TOO_LONG, f"text has at most {limit} characters")
    if "\x00" in text:
        raise ProtocolError(ErrorCode.BAD_FIELD, "text contains a NUL character")
    return text
