"""Passwords, tokens and invitation codes.

Passwords are hashed with scrypt (memory-hard, in the standard library). The
work is bounded twice: each hash uses at most ``maxmem`` bytes, and at most
``concurrency`` hashes run at once, in threads, so a burst of logins neither
exhausts memory nor stalls the event loop.

A token is ``<id>.<secret>``: the server keeps only SHA-256 of the secret, finds
the row by id and compares digests in constant time. Invitation codes are
random, single-use, expiring, and also stored hashed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from .slots import FairSlots

#: 192 random bits: far beyond guessing, and 11 bytes less on every reconnect.
TOKEN_BYTES = 24
INVITE_BYTES = 15
#: Stored instead of a hash for accounts nobody may log in to (demo authors).
NO_LOGIN = "!"


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost; the default is OWASP's recommendation (128 MiB, ~0.3 s)."""

    n: int = 2**17
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        # scrypt needs 128 * n * r * p bytes; leave room for its bookkeeping.
        return 128 * self.n * self.r * self.p + 2**20


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, params: ScryptParams) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem,
        dklen=32,
    )
    return f"scrypt${params.n}${params.r}${params.p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        params = ScryptParams(int(n), int(r), int(p))
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode("utf-8"),
        salt=_unb64(salt),
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem,
        dklen=32,
    )
    return hmac.compare_digest(candidate, _unb64(digest))


class PasswordHasher:
    """Runs scrypt in threads, at most ``concurrency`` at a time, taking turns
    fairly (see :mod:`server.slots`): ``lane`` is who asks (an address),
    ``priority`` a name known to sign in from there, ``gone`` tells whether the
    asker left (then nothing is hashed). Raises ``slots.Busy`` when there is no
    place to wait, ``slots.Gone`` when the asker left."""

    def __init__(self, params: ScryptParams, concurrency: int = 2, max_waiting: int = 64) -> None:
        self.params = params
        self._slots = FairSlots(concurrency, max_waiting)
        # A hash of a random password, verified when the user name is unknown
        # so that a missing account costs the same time as a wrong password.
        self._decoy = hash_password(secrets.token_urlsafe(16), params)

    @property
    def waiting(self) -> int:
        return self._slots.waiting

    async def hash(
        self, password: str, *, lane: Hashable = None, gone: Callable[[], bool] | None = None
    ) -> str:
        await self._slots.acquire(lane if lane is not None else object(), gone=gone)
        try:
            return await asyncio.to_thread(hash_password, password, self.params)
        finally:
            self._slots.release()

    async def verify(
        self,
        password: str,
        stored: str | None,
        *,
        lane: Hashable = None,
        priority: bool = False,
        gone: Callable[[], bool] | None = None,
    ) -> bool:
        lane = lane if lane is not None else object()
        await self._slots.acquire(lane, priority=priority, gone=gone)
        try:
            if stored is None or stored == NO_LOGIN:
                await asyncio.to_thread(verify_password, password, self._decoy)
                return False
            return await asyncio.to_thread(verify_password, password, stored)
        finally:
            self._slots.release()


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def new_token_secret() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def format_token(token_id: int, secret: str) -> str:
    return f"{token_id}.{secret}"


def parse_token(token: str) -> tuple[int, str] | None:
    """Split ``<id>.<secret>``; None when it has not that shape."""
    head, sep, secret = token.partition(".")
    # ASCII digits only: str.isdigit() also takes '¹' and '٣', which int() refuses.
    if not sep or not (head.isascii() and head.isdigit()) or len(head) > 15:
        return None
    if not 20 <= len(secret) <= 128:
        return None
    return int(head), secret


def token_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(digest(secret), stored_hash)


def new_invite_code() -> str:
    """A code that is easy to read aloud or paste: ``xxxxxx-xxxxxx-xxxxxx-xxxxxx``."""
    raw = base64.b32encode(secrets.token_bytes(INVITE_BYTES)).decode("ascii").lower()
    return "-".join(raw[i : i + 6] for i in range(0, len(raw), 6))


def normalise_invite(code: str) -> str:
    return code.strip().lower()
