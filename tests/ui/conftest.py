"""Fixtures for Pilot tests: a real server, a real profile, the real app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

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
