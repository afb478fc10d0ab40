"""A local cache rse cannot use, under every command and the app: one line
naming the file, what is wrong with it and what to do, exit 1, and no
traceback (but with RSE_DEBUG=1).

The caches: one from a newer rse (its schema version ahead of this one's),
one that does not match its version (a table missing: another build's
file), one damaged past its first page (it opens, then every read fails);
real files of a real profile, against a real server.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import shutil
import sqlite3
import struct
import sys
import termios
from pathlib import Path

import pytest

from rse_tui.cli import build_parser
from rse_tui.sync.cache import SCHEMA_VERSION
from rse_tui.sync.cache.errors import unusable

from ..helpers import PASSWORD
from .conftest import Rse

REBUILD = (
    "move it away and run rse again to rebuild it from the server"
    " (writes still queued in it are lost)"
)
#: What each damage does to the file, and the start of what rse says of it.
DAMAGES = {
    "newer": (
        "PRAGMA user_version = 99",
        f"is from a newer rse (cache schema 99, this rse reads up to {SCHEMA_VERSION}):"
        f" upgrade rse, or move the file away and run rse again to rebuild it from the server",
    ),
    "mismatched": ("DROP TABLE meta", f"does not match this rse (no such table: meta): {REBUILD}"),
    "damaged": (None, f"is damaged (database disk image is malformed): {REBUILD}"),
}
#: Commands that do not read the cache: nothing to say of it.
NOT_CACHED = {
    "demo": "its own profile and server (and it needs a terminal)",
    "join": "a new account, so a new profile and cache",
    "logout": "forgets the token: what one does before starting over",
}


def _commands() -> set[str]:
    """Every command of ``rse``, as "group create" for a group action."""
    found: set[str] = set()

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    inner = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
                    if inner:
                        walk(sub, f"{prefix}{name} ")
                    else:
                        found.add(f"{prefix}{name}")

    walk(build_parser(), "")
    return found


def _rows(url: str) -> dict[str, list[str]]:
    return {
        "login": ["login", url, "--name", "ana", "--password-stdin"],
        "chat": ["chat", "Ops", "hi"],
        "post": ["post", "Ops", "notes"],
        "tail": ["tail", "Ops", "--no-follow"],
        "sync": ["sync"],
        "dm": ["dm", "bob", "hi"],
        "react": ["react", "1", "+1"],
        "directory": ["directory"],
        "charter": ["charter"],
        "show": ["show", "1"],
        "comment": ["comment", "1", "hi"],
        "reply": ["reply", "1", "hi"],
        "edit": ["edit", "1", "hi"],
        "poll": ["poll", "Ops", "When?", "--option", "Tue", "--option", "Wed"],
        "vote": ["vote", "1", "1"],
        "ack": ["ack", "1"],
        "inbox": ["inbox"],
        "feature": ["feature", "1"],
        "search": ["search", "db"],
        **{
            f"group {action}": ["group", action, *names]
            for action, names in (
                ("create", ["New"]),
                ("join", ["Ops"]),
                ("leave", ["Ops"]),
                ("members", ["Ops"]),
                ("request", ["Ops"]),
                ("approve", ["Ops", "bob"]),
                ("add", ["Ops", "bob"]),
                ("remove", ["Ops", "bob"]),
                ("list", []),
                ("tree", []),
            )
        },
    }


def _cache(home: Path) -> Path:
    [path] = (home / "profiles").glob("*/cache.db")
    return path


def _damage(src: Path, dst: Path, damage: str) -> Path:
    """A copy of the profile at ``src`` whose cache has ``damage``; its path."""
    shutil.copytree(src, dst)
    path = _cache(dst)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")  # the whole cache in the one file
    statement = DAMAGES[damage][0]
    if statement is not None:
        conn.execute(statement)
    conn.close()
    if damage == "damaged":  # every page but the first (the header and the schema)
        data = bytearray(path.read_bytes())
        for i in range(4096, len(data), 7):
            data[i] = (data[i] * 31 + 7) % 256
        path.write_bytes(bytes(data))
    return path


async def _in_terminal(home: Path) -> tuple[int, str]:
    """Plain ``rse`` (the app) in a pseudo-terminal: its exit code and all it drew."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**Rse(home).env, "TERM": "xterm-256color"}
    env.pop("RSE_DEBUG", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rse_tui.cli", stdin=slave, stdout=slave, stderr=slave, env=env,
        start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    screen = bytearray()

    def read_all() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the app ended, the terminal closed
                return
            if not data:
                return
            screen.extend(data)

    try:
        await asyncio.wait_for(asyncio.gather(asyncio.to_thread(read_all), proc.wait()), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
        os.close(master)
    assert proc.returncode is not None
    return proc.returncode, screen.decode("utf-8", "replace")


@pytest.mark.parametrize("damage", list(DAMAGES))
async def test_every_command_says_what_is_wrong_with_the_cache(rse, server, tmp_path, damage):
    await rse.join(server, "ana")
    assert (await rse("group", "create", "Ops")).code == 0
    assert (await rse("chat", "Ops", "hello")).code == 0
    rows = _rows(server.url)
    assert _commands() == set(rows) | set(NOT_CACHED), "a command without a row here"
    home = tmp_path / damage
    path = _damage(rse.home, home, damage)
    said = f"rse: the local cache {path} {DAMAGES[damage][1]}\n"
    user = Rse(home)
    user.env.pop("RSE_DEBUG", None)
    slots = asyncio.Semaphore(6)

    async def run(args: list[str]):
        async with slots:
            return await user(*args, "--timeout", "5", stdin=PASSWORD + "\n")

    results = await asyncio.gather(*(run(args) for args in rows.values()))
    wrong = {
        name: (result.code, result.err[-300:])
        for name, result in zip(rows, results, strict=True)
        if result.code != 1 or not result.err.endswith(said) or "Traceback" in result.err
    }
    assert not wrong, f"expected exit 1 and {said!r}, got: {wrong}"
    for name, result in zip(rows, results, strict=True):
        # Alone, but for what login says first of where it keeps the token.
        others = result.err.removesuffix(said).splitlines()
        assert all(line.startswith("rse: no keyring") for line in others), (name, others)
    # The app: the same line, the terminal given back, no traceback.
    code, screen = await _in_terminal(home)
    assert code == 1 and "Traceback" not in screen and "─ locals ─" not in screen, screen[-2000:]
    assert screen.replace("\r\n", "\n").endswith(said), screen[-2000:]


async def test_rse_debug_shows_where(rse, server, tmp_path):
    await rse.join(server, "ana")
    home = tmp_path / "newer"
    _damage(rse.home, home, "newer")
    user = Rse(home)
    user.env["RSE_DEBUG"] = "1"
    result = await user("group", "list")
    assert result.code == 1 and "Traceback" in result.err
    assert "CacheError: the local cache" in result.err and "upgrade rse" in result.err


def test_only_what_says_the_file_cannot_be_used_blames_it(tmp_path):
    """A moment's lock, or a statement of rse's that is wrong (a bug), is not
    the file's fault: not told to move it away (and lose its queued writes)."""
    path = tmp_path / "cache.db"
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    conn.execute("CREATE TABLE t (x)")

    def error(statement: str, on: sqlite3.Connection = conn) -> sqlite3.Error:
        with pytest.raises(sqlite3.Error) as caught:
            on.execute(statement)
        return caught.value

    assert "does not match" in str(unusable(error("SELECT * FROM meta"), path))
    assert "does not match" in str(unusable(error("ALTER TABLE t ADD COLUMN x"), path))
    assert unusable(error("SELEKT 1"), path) is None  # rse's own mistake
    conn.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    assert unusable(error("BEGIN IMMEDIATE", other), path) is None  # busy: try again
    other.close()
    conn.close()
    path.write_bytes(b"not SQLite at all" * 300)
    damaged = sqlite3.connect(path)
    assert "is damaged (file is not a database)" in str(
        unusable(error("SELECT * FROM sqlite_master", damaged), path)
    )
    damaged.close()
