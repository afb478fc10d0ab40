"""Run ../shared/tools/slowlink.py (the team's link simulator) around a test.

The proxy is found at ``$RSE_SLOWLINK`` or next to the checkout, in
``../shared/tools/slowlink.py``; tests that need it are skipped, saying so,
when it is not there.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def slowlink_path() -> Path | None:
    env = os.environ.get("RSE_SLOWLINK")
    for candidate in ([Path(env)] if env else []) + [
        ROOT.parent / "shared" / "tools" / "slowlink.py",
        ROOT.parent.parent / "shared" / "tools" / "slowlink.py",
    ]:
        if candidate.is_file():
            return candidate
    return None


class SlowLink:
    def __init__(
        self, target_port: int, tmp: Path, *, latency_ms: float = 0, rate_kbit: float | None = None
    ) -> None:
        path = slowlink_path()
        if path is None:
            pytest.skip("slowlink.py not found (set RSE_SLOWLINK)")
        self.path = path
        self.target_port = target_port
        self.latency_ms = latency_ms
        self.rate_kbit = rate_kbit
        self.port_file = tmp / "slowlink.port"
        self.stats_file = tmp / "slowlink.json"
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self) -> SlowLink:
        args = [
            sys.executable,
            str(self.path),
            "--listen",
            "127.0.0.1:0",
            "--target",
            f"127.0.0.1:{self.target_port}",
            "--latency-ms",
            str(self.latency_ms),
            "--port-file",
            str(self.port_file),
            "--stats",
            str(self.stats_file),
        ]
        if self.rate_kbit:
            args += ["--rate-kbit", str(self.rate_kbit)]
        self.proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
        assert self.proc.stdout is not None
        # It prints "slowlink HOST:PORT -> TARGET" once listening, signals armed.
        async with asyncio.timeout(10):
            line = (await self.proc.stdout.readline()).decode()
        self.port = int(line.split()[1].rsplit(":", 1)[1])
        return self

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def cut(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGUSR1)

    def toggle_down(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGUSR2)

    def stats(self) -> dict:
        return json.loads(self.stats_file.read_text())

    async def stop(self) -> dict:
        assert self.proc is not None
        self.proc.terminate()
        await self.proc.wait()
        return self.stats()
