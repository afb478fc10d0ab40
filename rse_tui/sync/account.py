"""Joining, logging in and out: turn credentials into a saved profile.

Shared by the command line and the UI. A successful join or login saves the
profile's settings, stores the token (keyring or private file), opens the
profile's cache and makes the profile the current one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rse_tui.protocol import (
    AuthOk,
    ChatEvent,
    Event,
    GroupList,
    ListGroups,
    Login,
    Logout,
    Redeem,
    Reply,
    Sync,
)

from .cache import Cache
from .connection import Connection, await_reply
from .credentials import TokenStore
from .profile import Profile, ProfileError, Settings, current, make_current, slug

#: Chat messages a new device asks for with its group list: a first screen's worth.
FIRST_SCREEN = 60


@dataclass(frozen=True, slots=True)
class Account:
    """A usable profile: where it is, what it talks to, and its token."""

    profile: Profile
    settings: Settings
    token: str

    @property
    def ca_file(self) -> Path | None:
        return Path(self.settings.ca_file) if self.settings.ca_file else None

    def open_cache(self) -> Cache:
        return Cache(self.profile.cache_path)


def token_store(profile: Profile, notify: Callable[[str], None] | None = None) -> TokenStore:
    return TokenStore(profile.path, profile.key, notify=notify)


def load(root: Path, notify: Callable[[str], None] | None = None) -> Account:
    """The current profile with its token, or ProfileError saying what to do."""
    profile = current(root)
    settings = profile.settings()
    token = token_store(profile, notify).load()
    if not token:
        raise ProfileError(
            f"no token for {settings.name} at {settings.url}: run 'rse login {settings.url}"
            f" --name {settings.name}'"
        )
    return Account(profile, settings, token)


def save(
    root: Path,
    url: str,
    ca_file: Path | None,
    auth: AuthOk,
    notify: Callable[[str], None] | None = None,
    key: str | None = None,
) -> tuple[Account, str]:
    """Store a fresh login as a profile; return it and where the token went."""
    profile = Profile(root, key or slug(url, auth.name)).create()
    settings = Settings(
        url=url,
        name=auth.name,
        ca_file=str(ca_file.resolve()) if ca_file else None,
        user=auth.user,
    )
    profile.save_settings(settings)
    where = token_store(profile, notify).save(auth.token)
    cache = Cache(profile.cache_path)
    try:
        with cache.guarded():
            user, _ = cache.identity()
            if user is not None and user != auth.user:
                raise ProfileError(f"the cache at {profile.cache_path} belongs to another account")
            cache.set_identity(auth.user, auth.name)
    finally:
        cache.close()
    make_current(profile)
    return Account(profile, settings, auth.token), where


async def join(
    root: Path,
    url: str,
    code: str,
    name: str,
    password: str,
    ca_file: Path | None = None,
    notify: Callable[[str], None] | None = None,
) -> tuple[Account, str]:
    """Redeem an invitation: a new account, a new profile, its first screen."""
    return await _sign_in(
        root, url, ca_file, notify, Redeem, code=code, name=name, password=password
    )


async def login(
    root: Path,
    url: str,
    name: str,
    password: str,
    ca_file: Path | None = None,
    notify: Callable[[str], None] | None = None,
) -> tuple[Account, str]:
    return await _sign_in(root, url, ca_file, notify, Login, name=name, password=password)


async def _sign_in(
    root: Path,
    url: str,
    ca_file: Path | None,
    notify: Callable[[str], None] | None,
    request: type[Redeem] | type[Login],
    **fields: str,
) -> tuple[Account, str]:
    """Sign in, save the profile, and fill a new device's cache for its first screen.

    On a slow link every round trip counts, so it all leaves in one flight on
    one connection: the sign-in, the group list with the newest chat
    messages of the member groups, and the live head (the server handles a
    connection's requests in order, so the last two run as the signed-in
    user). The app then starts from a cache that already shows something.
    A cache that has synced before is left to resume where it stopped.
    """
    conn = await Connection.open(url, ca_file=ca_file, hello=False)
    pending: list[asyncio.Future[Reply]] = []
    try:
        signed = await conn.submit(request(request_id=conn.next_id(), **fields))
        pending = [
            await conn.submit(ListGroups(request_id=conn.next_id(), recent=FIRST_SCREEN)),
            await conn.submit(Sync(request_id=conn.next_id())),
        ]
        auth: AuthOk = await await_reply(signed)
        account, where = save(root, url, ca_file, auth, notify)
        groups = await await_reply(pending[0])
        live = await await_reply(pending[1])
        cache = account.open_cache()
        try:
            with cache.guarded():
                if cache.cursor() == 0:
                    first_screen(cache, groups, live.head)
        finally:
            cache.close()
    finally:
        for future in pending:  # refused along with the sign-in: nobody reads them
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
        # The closing handshake would cost a round trip the user need not wait for.
        conn.close_soon()
    return account, where


def first_screen(cache: Cache, reply: GroupList, head: int) -> None:
    """Store a new device's group list, live head and newest messages.

    The messages fill the member groups in list order (see ``ListGroups``):
    a group that got all it could have taken may have older ones (its hole
    stays below them); a group that got fewer has no more. A fresh cache on
    a command-line path: the few writes run inline.
    """
    cache.put_groups(reply.groups, fresh=True)
    cache.apply([], head)
    cache.put_users(reply.users)
    by_group: dict[int, list[Event]] = {}
    for event in reply.recent:
        by_group.setdefault(getattr(event, "group", 0), []).append(event)
    budget = FIRST_SCREEN
    for group in (g.group for g in reply.groups if g.member):
        if budget <= 0:
            break
        events = by_group.get(group, [])
        hole = cache.hole_below(group, ChatEvent.TYPE, None)
        if hole is not None:
            cache.fill_hole(
                group,
                ChatEvent.TYPE,
                hole,
                events,
                len(events) == budget,
                [r for r in reply.reactions if r.target in {e.seq for e in events}],
                reply.as_of,
            )
        budget -= len(events)


async def logout(account: Account, *, open_timeout: float = 10.0) -> bool:
    """Revoke the token on the server (if reachable) and forget it here.

    Returns whether the server confirmed the revocation.
    """
    confirmed = False
    try:
        conn = await Connection.open(
            account.settings.url,
            token=account.token,
            ca_file=account.ca_file,
            open_timeout=open_timeout,
        )
        try:
            await conn.call(Logout)
            confirmed = True
        finally:
            await conn.close()
    except Exception:  # unreachable or already revoked: forget it locally all the same
        confirmed = False
    token_store(account.profile).forget()
    return confirmed
