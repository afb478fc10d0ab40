"""Fixtures for the sync engine: a real server on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from server.app import RseServer

from ..helpers import config


@pytest.fixture
async def server(tmp_path) -> AsyncIterator[RseServer]:
    srv = RseServer(config(tmp_path / "server.db"))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()
