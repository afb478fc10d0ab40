"""Fixtures for driving the real ``rse`` command against a real server."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.app import RseServer

from ..helpers import PASSWORD, invite


@dataclass
class Result:
    code: int
    out: str
    err: str


class Rse:
    """Runs ``python -m rse_tui.cli`` with a private RSE_HOME and no keyring."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {
            **os.environ,
            "RSE_HOME": str(home),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        }
        self.env.pop("NO_COLOR", None)

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "rse_tui.cli",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )

    async def __call__(self, *args: str, stdin: str = "") -> Result:
        proc = await self.start(*args)
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
        assert proc.returncode is not None
        return Result(proc.returncode, out.decode(), err.decode())

    async def join(self, server: RseServer, name: str, url: str | None = None) -> Result:
        code = invite(server.config.db_path)
        result = await self(
            "join",
            url or server.url,
            code,
            "--name",
            name,
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        assert result.code == 0, result
        return result


@pytest.fixture
def rse(tmp_path) -> Rse:
    return Rse(tmp_path / "home")
