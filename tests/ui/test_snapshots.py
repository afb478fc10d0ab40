"""What a user sees, at 80x24 and at 120x40, compared with stored snapshots.

The screen must be the same on every run: the server's clock is fixed, the
app's clock is fixed, the server is stopped before the app opens (so the
status bar shows the offline state with a fixed retry delay and no traffic),
and content comes from the cache filled by an earlier session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest

from rse_tui.protocol import CreateGroup, JoinGroup, SendChat, SendPost
from rse_tui.sync import account as accounts
from rse_tui.sync.client import Client
from rse_tui.sync.engine import Backoff, Engine
from rse_tui.sync.models import Link
from rse_tui.ui.app import RseApp
from server.app import RseServer

from ..helpers import PASSWORD, config, invite, new_user
from .conftest import back_to_last_group

NOW = 1_790_000_000  # 2026-09-21 14:13 UTC

CHAT = [
    ("karim", "Morning all. Coffee machine on floor 3 is fixed."),
    ("lea", "Hi! I joined the platform team this week."),
    ("karim", "VPN flapping again in building B, anyone else?"),
    ("lea", "Yes, since 09:40. Opened INC-4821, status page updated."),
    ("karim", "[@click=app.quit]not a link[/] and \x1b[31mnot red\x1b[0m either"),
    (
        "lea",
        "@ana could you check the db3 replica lag? It's at 40 s and climbing; the"
        " runbook says to fail over above 60 s.",
    ),
]


async def _prepare(tmp_path) -> accounts.Account:
    cfg = dataclasses.replace(config(tmp_path / "server.db"), clock=lambda: NOW)
    async with RseServer(cfg) as srv:
        people = {name: await new_user(srv, name) for name in ("karim", "lea")}
        g = (await people["karim"].conn.call(CreateGroup, name="Incidents", cid="g")).group
        await people["karim"].conn.call(CreateGroup, name="General", cid="g2")
        await people["lea"].conn.call(JoinGroup, group=g, cid="j")
        await people["karim"].conn.call(
            SendPost,
            group=g,
            cid="p",
            text="## Runbook: VPN down\n1. Check the status page\n2. Page the on-call engineer",
        )
        account, _ = await accounts.join(
            tmp_path / "home", srv.url, invite(cfg.db_path), "ana", PASSWORD
        )
        cache = account.open_cache()
        engine = Engine(cache, url=account.settings.url, token=account.token)
        task = asyncio.create_task(engine.run())
        await engine.wait_online()
        await Client(engine).join(g)
        await engine.wait_idle()
        for n, (who, text) in enumerate(CHAT):
            await people[who].conn.call(SendChat, group=g, text=text, cid=f"c{n}")
        await engine.load_older(g, "c", None)
        await engine.load_older(g, "p", None)
        await engine.worker(cache.set, "ui.group", g)
        await engine.stop()
        await task
        engine.close()
        for client in people.values():
            await client.close()
    return account


def _app(account: accounts.Account) -> RseApp:
    engine = Engine(
        account.open_cache(),
        url=account.settings.url,
        token=account.token,
        backoff=Backoff(first=600, cap=600, rng=random.Random(1)),
        open_timeout=1,
    )
    return RseApp(engine, account.settings.name, clock=lambda: NOW + 60)


#: The app's reads after its first paint (the inbox's count, the portal, a post).
READING = {"inbox-count", "portal", "reload"}


async def _offline(pilot) -> None:
    """Offline, and what the app reads after its first paint is on screen."""
    app = pilot.app
    async with asyncio.timeout(10):
        while app.engine.status.link is not Link.RECONNECTING:
            await pilot.pause(0.02)
        while any(w.group in READING and not w.is_finished for w in app.workers):
            await pilot.pause(0.02)
    app._tick()
    await pilot.pause()


async def _offline_in_the_group(pilot) -> None:
    """The app lands on Home: the group open last time, as a user opens it."""
    await _offline(pilot)
    await back_to_last_group(pilot)
    await _offline(pilot)


@pytest.fixture
def account(tmp_path, monkeypatch):
    import time

    import keyring
    from keyring.backends import fail

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield asyncio.run(_prepare(tmp_path))
    finally:
        keyring.set_keyring(previous)


def test_snapshot_80x24(snap_compare, account):
    assert snap_compare(_app(account), terminal_size=(80, 24), run_before=_offline_in_the_group)


def test_snapshot_120x40(snap_compare, account):
    assert snap_compare(_app(account), terminal_size=(120, 40), run_before=_offline_in_the_group)


def test_snapshot_120x40_feed(snap_compare, account):
    assert snap_compare(
        _app(account), terminal_size=(120, 40), run_before=_offline_in_the_group, press=["ctrl+t"]
    )


@pytest.fixture
def no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")


def test_snapshot_80x24_no_color(snap_compare, account, no_color):
    assert snap_compare(_app(account), terminal_size=(80, 24), run_before=_offline_in_the_group)


def test_snapshot_120x40_no_color(snap_compare, account, no_color):
    assert snap_compare(_app(account), terminal_size=(120, 40), run_before=_offline_in_the_group)
