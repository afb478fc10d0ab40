"""Fixtures: a real server on 127.0.0.1, port 0, with a SQLite file per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from server.app import RseServer

from .helpers import config


@pytest.fixture
async def server(tmp_path) -> AsyncIterator[RseServer]:
    srv = RseServer(config(tmp_path / "rse.db"))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()
