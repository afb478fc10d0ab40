"""Fixtures for Pilot tests: a real server, a real profile, the real app."""

from __future__ import annotations

import asyncio
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from textual import events
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

from rse_tui.sync import account as accounts
from rse_tui.sync.engine import Backoff, Engine
from rse_tui.ui.app import RseApp
from server.app import RseServer

from ..helpers import PASSWORD, invite


@pytest.fixture(autouse=True)
def no_keyring():
    """Tests never touch the machine's keyring: tokens go to the 0600 file."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@dataclass
class Profiles:
    root: Path

    async def join(self, server: RseServer, name: str, url: str | None = None) -> accounts.Account:
        code = invite(server.config.db_path)
        account, _ = await accounts.join(self.root / name, url or server.url, code, name, PASSWORD)
        return account

    def app(self, account: accounts.Account, backoff: Backoff | None = None) -> RseApp:
        engine = Engine(
            account.open_cache(),
            url=account.settings.url,
            token=account.token,
            ca_file=account.ca_file,
            backoff=backoff or Backoff(first=0.05, cap=0.2),
            open_timeout=2,
        )
        return RseApp(engine, account.settings.name)


@pytest.fixture
def profiles(tmp_path) -> Profiles:
    return Profiles(tmp_path / "homes")


async def until(pilot, predicate: Callable[[], object], within: float = 10.0) -> None:
    """Let the app process events until ``predicate()`` holds (bounded)."""
    async with asyncio.timeout(within):
        while not predicate():
            await pilot.pause(0.02)


def _key_event(key: str) -> events.Key:
    """A key event as the terminal parser makes it (the same rules as Pilot)."""
    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    original = REPLACED_KEYS.get(key, key)
    try:
        char: str | None = unicodedata.lookup(_get_unicode_name_from_key(original))
    except KeyError:
        char = key if len(key) == 1 else None
    return events.Key(key, char)


async def burst(pilot, *keys: str) -> None:
    """Deliver keys as SSH delivers typed text: all in one read, no pause between.

    Pilot's ``press`` waits for the app to be idle after each key, which hides
    every ordering fault a real burst exposes.
    """
    app = pilot.app
    for key in keys:
        event = _key_event(key)
        event.set_sender(app)
        app._driver.send_message(event)
    await pilot.pause()


async def back_to_last_group(pilot) -> None:
    """The app lands on Home when the user has groups: go to the group open
    last time (as Enter on it in the groups pane, or ctrl+k, does)."""
    app = pilot.app
    await until(pilot, lambda: app.view.home or app.view.group is not None)
    if not app.view.home:
        return
    remembered = await app.client.setting("ui.group")
    await app.open_group(next(r for r in app.groups.rows if str(r.group) == remembered))
    app.action_to_composer()
    await pilot.pause()


def screen_text(app) -> str:
    """What the terminal shows now, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def in_group(pilot, name: str) -> None:
    """Open group ``name`` once the app has it (as ctrl+k does): a new device
    lands on Home when its first groups arrive."""
    app = pilot.app
    await until(pilot, lambda: any(r.name == name and r.member for r in app.groups.rows))
    if app.view.group is None or app.view.group.name != name:
        await app.open_group(next(r for r in app.groups.rows if r.name == name))
        app.action_to_composer()
    await pilot.pause()
