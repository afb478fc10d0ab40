"""What handlers share: the services, the caller, input checks, the write helper."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec

from rse_tui.protocol import (
    RESEND_LATER,
    ErrorCode,
    ProtocolError,
    Reply,
    Request,
    WriteOk,
    WriteRequest,
)

from .. import auth, storage
from ..config import Limits, ServerConfig
from ..database import Database, Outcome
from ..hub import Hub
from ..peer import Peer
from ..ratelimit import FailureThrottle, KnownSignIns, RateLimiter

P = ParamSpec("P")


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
    login_failures: FailureThrottle
    known_sign_ins: KnownSignIns

    @property
    def limits(self) -> Limits:
        return self.config.limits

    def now(self) -> int:
        return int(self.config.clock())

    def charge_bytes(self, user: int, size: int) -> None:
        """A reply of ``size`` bytes costs one more request per
        ``Limits.bytes_per_token`` (encoding and compressing it is the cost)."""
        extra = size / self.limits.bytes_per_token
        if extra >= 0.5:
            self.user_limiter.charge(user, extra)

    def charge_items(self, user: int, count: int) -> None:
        """A reply that carried ``count`` items (events, groups, members...) costs
        its user more than one request: one more per ``Limits.items_per_token``."""
        extra = count / self.limits.items_per_token
        if extra:
            self.user_limiter.charge(user, extra)


@dataclass(frozen=True, slots=True)
class Hold:
    """A write refused for now, which the connection's later writes may not overtake."""

    cid: str
    code: ErrorCode
    retry_after: float | None


@dataclass(slots=True)
class Caller:
    """The state of one connection, which handlers get with each of its
    requests: its peer, where it comes from, its sign-in, its held write."""

    peer: Peer
    remote: str
    hold: Hold | None = None
    #: When this device signed in (its token was made): nothing it sends was
    #: written before.
    signed_in: int = 0
    #: A login or redeem is waiting for its password to be checked.
    signing_in: bool = False
    #: The timer that closes the connection if it does not sign in.
    deadline: asyncio.TimerHandle | None = None

    @property
    def user(self) -> int:
        if self.peer.user is None:
            raise ProtocolError(ErrorCode.AUTH_REQUIRED, "send hello with a token or log in first")
        return self.peer.user

    def refused(self, request: Request | None, error: ProtocolError) -> None:
        """Note a refusal: after a write refused for now, hold the later ones back.

        A connection's requests are handled in the order they arrive, so its
        writes are stored in the order the client sent them, but for one
        case: a write refused for now (``RESEND_LATER``) and sent again later
        would land after the writes that followed it. Until it is stored, the
        write gate refuses those the same way (see :func:`write`).
        """
        if (
            isinstance(request, WriteRequest)
            and error.code in RESEND_LATER
            and (self.hold is None or self.hold.cid == request.cid)
        ):
            self.hold = Hold(request.cid, error.code, error.retry_after)


#: A handler returns its reply, or None when it queued its answer itself.
Handler = Callable[[Services, Caller, Any], Awaitable[Reply | None]]


async def write(
    svc: Services,
    caller: Caller,
    req: WriteRequest,
    fn: Callable[Concatenate[sqlite3.Connection, int, P], Outcome[storage.Receipt]],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> WriteOk:
    """Run a storage write for the caller's user behind the write gate; answer it.

    The type checker holds ``args`` and ``kwargs`` against ``fn(conn, user, ...)``.
    The gate (``storage.as_client``) answers a resend with its first result,
    keeps the connection's writes in order (see :meth:`Caller.refused`) and
    checks the charter.
    """
    user = caller.user
    hold = caller.hold
    after = hold.cid if hold is not None and hold.cid != req.cid else None
    try:
        outcome = await svc.db.write_from(
            caller.peer, storage.as_client, user, req.TYPE, after, fn, *args, **kwargs
        )
    except storage.Overtakes:
        assert hold is not None
        raise ProtocolError(
            hold.code,
            f"write {hold.cid} was refused for now; send it again before this one",
            retry_after=hold.retry_after,
        ) from None
    if hold is not None and (after is None or not outcome.replayed):
        # The held write is stored now (it was this one, or the gate found it
        # stored): nothing is held back any more.
        caller.hold = None
    if outcome.refused is not None:  # kept as its answer (see storage.keep_refusal)
        raise outcome.refused
    result = outcome.value
    return WriteOk(request_id=req.request_id, seq=result.seq, ts=result.ts, group=result.group)


# -- input checks -------------------------------------------------------------------

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


#: Characters that reorder what follows them: "\u202eevil" shows as "live".
_BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)


def has_control(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def _breaks_line(text: str) -> bool:
    """A line or paragraph separator (U+2028, U+2029) in what is one line."""
    return any(unicodedata.category(ch) in ("Zl", "Zp") for ch in text)


def _shows_other_than_it_is(text: str) -> bool:
    return not _BIDI_CONTROLS.isdisjoint(text)


#: Characters that draw as nothing (besides format characters, category Cf:
#: zero-width space, soft hyphen, word joiner, BOM...): fillers, blanks, the
#: grapheme joiner, variation selectors, invisible vowels, the Arabic
#: stretching stroke, the object replacement character.
_BLANKS = frozenset(
    "\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5\u0640\ufffc"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)
#: Joiners: kept between two letters of a script or two emoji (a family
#: emoji is not three), dropped next to a Latin letter ("Yes\u200d").
_JOINERS = frozenset("\u200c\u200d")
#: Full-width Latin letters, digits and signs read as their ASCII ones.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}


def _visible(text: str) -> str:
    kept: list[str] = []
    for i, ch in enumerate(text):
        if ch in _JOINERS:
            before, after = text[i - 1 : i], text[i + 1 : i + 2]
            if before and after and not before.isascii() and not after.isascii():
                kept.append(ch)
            continue
        category = unicodedata.category(ch)
        if category == "Cf" or ch in _BLANKS:
            continue
        if kept and category in ("Mn", "Me") and kept[-1] == ch:
            continue  # a mark written twice reads as once
        kept.append(ch)
    return "".join(kept)


def shown_form(text: str) -> str:
    """What a reader sees of ``text``: without the characters that draw as
    nothing, composed (NFC), full-width letters as ASCII, spaces as one,
    lower case. "Yes", "Ye\u00ads", "Yes\u200b" and full-width "Yes" are the
    same option to a voter; "Masse" and "Maße", "x2" and "x²" are not. Only
    marks left (nothing to carry them) is empty."""
    shown = unicodedata.normalize("NFC", _visible(text)).translate(_FULL_WIDTH)
    shown = " ".join(shown.split()).lower()
    if all(unicodedata.category(ch) in ("Mn", "Me") for ch in shown):
        return ""
    return shown


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
    blank = not shown_form(text)  # "\u200b" alone is as empty as ""
    if (blank and not empty) or has_control(text) or _breaks_line(text):
        raise ProtocolError(ErrorCode.BAD_FIELD, f"{what} is printable text, not empty")
    if blank:  # may be empty, and looks it: it is
        return ""
    if _shows_other_than_it_is(text):  # names must read as they are
        raise ProtocolError(ErrorCode.BAD_FIELD, f"{what} may not hold direction controls")
    if len(text) > limit:
        raise ProtocolError(ErrorCode.TOO_LONG, f"{what} has at most {limit} characters")
    return text


def check_group_name(name: str, limits: Limits) -> str:
    name = check_line(name, limits.max_group_name, "a group name")
    if name.lstrip()[:1] in ("#", "@", "/"):
        # "#ops" is how a group is written, "@ana" a person, "/join" a command:
        # a name starting with one of them would be mistaken for another thing.
        raise ProtocolError(ErrorCode.BAD_FIELD, "a group name does not start with #, @ or /")
    return name


def check_page(limit: int, limits: Limits) -> int:
    """How many items a page asks for (``n``): 1 to ``max_history_page``."""
    if not 0 < limit <= limits.max_history_page:
        raise ProtocolError(ErrorCode.BAD_FIELD, f"'n' is between 1 and {limits.max_history_page}")
    return limit


_ASCII_SHOWN = re.compile("[!-~]")


def _blank(text: str) -> bool:
    """Nothing a reader would see (fast for the usual text: any ASCII sign)."""
    return _ASCII_SHOWN.search(text) is None and not shown_form(text)


def check_text(text: str, limit: int) -> str:
    if _blank(text):
        raise ProtocolError(ErrorCode.BAD_FIELD, "text is empty")
    if len(text) > limit:
        raise ProtocolError(ErrorCode.TOO_LONG, f"text has at most {limit} characters")
    if "\x00" in text:
        raise ProtocolError(ErrorCode.BAD_FIELD, "text contains a NUL character")
    return text
