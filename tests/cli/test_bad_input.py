"""Every ``rse`` and ``rse-server`` command with bad input: one line, never a traceback.

One table, run as real subprocesses (several at a time) against a real server
on 127.0.0.1, port 0: bad addresses and ports, missing, foreign and damaged
files, bad numbers, unknown names, empty and non-UTF-8 input, a server that is
down, a plain HTTP server where the rse server should be, and a server that
dies while ``rse chat`` streams standard input into it. A row fails on any
"Traceback", "exception was never retrieved" or "internal error" in the
output, on an exit code other than the one the row names, on an error
without its one-line message, and on a raw ESC reaching the terminal.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rse_tui.protocol import CreateGroup, SendChat
from server.admin import open_db
from server.app import RseServer

from ..helpers import PASSWORD, ServerProcess, config, invite, new_user
from .conftest import Rse

PW = (PASSWORD + "\n").encode()
CRASH_MARKS = ("Traceback", "exception was never retrieved", "internal error")
PARALLEL = 6
ROW_TIMEOUT = 15


@dataclass(frozen=True)
class Row:
    prog: str  # "rse" or "rse-server"
    home: str  # which RSE_HOME (rse only)
    args: Sequence[str | bytes]
    code: int
    stdin: bytes = b""


@dataclass
class Ran:
    row: Row
    code: int
    out: str
    err: str


async def _run(row: Row, home: Path) -> Ran:
    module = "rse_tui.cli" if row.prog == "rse" else "server.cli"
    env = {
        **os.environ,
        "RSE_HOME": str(home),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    env.pop("RSE_DEBUG", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *row.args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,  # no controlling terminal: nothing may prompt on it
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(row.stdin), ROW_TIMEOUT)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        return Ran(row, -999, out.decode(errors="replace"), f"still running after {ROW_TIMEOUT} s")
    finally:
        if proc.returncode is None:  # the test itself was stopped: leave nothing running
            proc.kill()
    assert proc.returncode is not None
    return Ran(row, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


def _problems(ran: Ran) -> list[str]:
    row, text = ran.row, ran.out + ran.err
    found = [f"{mark!r} in the output" for mark in CRASH_MARKS if mark in text]
    if "\x1b" in text:
        found.append("a raw ESC in the output (the terminal would obey it)")
    if ran.code != row.code:
        found.append(f"exit code {ran.code}, expected {row.code}")
    if ran.code not in (0, 2):
        lines = [line for line in ran.err.splitlines() if line.strip()]
        if not lines:
            found.append("an error without a message")
        stray = [line for line in lines if not line.startswith(f"{row.prog}: ")]
        if stray:
            found.append(f"not one-line messages: {stray}")
    if ran.code == 2 and not ran.err.strip():
        found.append("bad usage without a message")
    return found


async def _http_404(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A plain web server where the rse server should be."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()
    writer.close()


async def _not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Something that is not HTTP at all (an SSH banner, say)."""
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
    await writer.drain()
    writer.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _server_dies_mid_stream(tmp_path: Path) -> Ran:
    """``rse chat GROUP`` streams standard input while its server is killed."""
    row = Row("rse", "dying", ["chat", "Ops", "--timeout", "2"], 3)
    sp = await ServerProcess(tmp_path / "dying.db", "--rate-limit", "100000").start()
    home = Rse(tmp_path / "dying-home")
    proc: asyncio.subprocess.Process | None = None
    try:
        code = invite(sp.db_path)
        joined = await home(
            "join", sp.url, code, "--name", "ann", "--password-stdin", stdin=PASSWORD + "\n"
        )
        assert joined.code == 0, joined
        assert (await home("group", "create", "Ops")).code == 0
        proc = await home.start(*row.args)
        assert proc.stdin is not None
        proc.stdin.write(b"".join(b"line %d\n" % i for i in range(3000)))
        await proc.stdin.drain()
        proc.stdin.close()
        async with asyncio.timeout(20):
            while _chat_count(sp.db_path) < 20:  # noqa: ASYNC110 (another process's file)
                await asyncio.sleep(0.01)
        await sp.kill()  # writes are in flight: now it dies
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if sp.proc is not None and sp.proc.returncode is None:
            await sp.kill()
        if proc is not None and proc.returncode is None:
            proc.kill()
    assert proc.returncode is not None
    return Ran(row, proc.returncode, out.decode(), err.decode())


def _chat_count(db: Path) -> int:
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM events WHERE kind = 'c'").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def _copy_home(src: Path, dst: Path, **settings: object) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.db-shm"))
    [profile] = (dst / "profiles").iterdir()
    path = profile / "settings.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, **settings}))
    return dst


async def test_no_command_crashes_on_bad_input(tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    notdb = files / "notes.txt"
    notdb.write_text("not a database\n")
    nonutf8 = files / "latin1.md"
    nonutf8.write_bytes(b"# Charte d'utilisation \xe9t\xe9\n")
    empty = files / "empty.md"
    empty.write_text("  \n")
    charter = files / "charter.md"
    charter.write_text("# Charter\nBe kind.\n")
    unreadable = files / "unreadable.md"
    unreadable.write_text("# secret\n")
    unreadable.chmod(0)
    foreign = files / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (text)")
    conn.commit()
    conn.close()
    missing = files / "missing" / "nothing.pem"
    admin_db = files / "admin.db"
    open_db(admin_db).close()
    adb = ["--db", str(admin_db)]

    # The people and groups: ana (member of Ops, moderator of Ops and Quiet); bob
    # runs Closed (private) and Lobby (open), which ana is not in.
    server = RseServer(config(tmp_path / "rse.db", max_connections_per_user=100))
    await server.start()
    ana = Rse(tmp_path / "ana")
    await ana.join(server, "ana")
    assert (await ana("group", "create", "Ops")).code == 0
    assert (await ana("group", "create", "Quiet", "--chat-policy", "nobody")).code == 0
    bob = await new_user(server, "bob")
    await bob.conn.call(CreateGroup, name="Closed", visibility="private", cid="c")
    lobby = (await bob.conn.call(CreateGroup, name="Lobby", cid="l")).group
    await bob.conn.call(SendChat, group=lobby, text="welcome", cid="w")

    # A profile whose server is down.
    gone = RseServer(config(tmp_path / "gone.db"))
    await gone.start()
    down = Rse(tmp_path / "down")
    await down.join(gone, "dan")
    assert (await down("group", "create", "Ops")).code == 0
    await gone.stop()

    homes = {
        "ana": ana.home,
        "fresh": tmp_path / "fresh",
        "down": down.home,
        "none": tmp_path / "none",
        "is-a-file": notdb,
        "ca-gone": _copy_home(ana.home, tmp_path / "ca-gone", ca_file=str(missing)),
        "settings-damaged": _copy_home(ana.home, tmp_path / "settings-damaged"),
        "cache-damaged": _copy_home(ana.home, tmp_path / "cache-damaged"),
        "logout-down": _copy_home(down.home, tmp_path / "logout-down"),
        "dying": tmp_path / "dying-home",
    }
    [profile] = (homes["settings-damaged"] / "profiles").iterdir()
    (profile / "settings.json").write_text("{not json")
    [profile] = (homes["cache-damaged"] / "profiles").iterdir()
    for leftover in profile.glob("cache.db*"):
        leftover.unlink()
    (profile / "cache.db").write_text("this is not SQLite, it is a damaged cache file\n" * 100)

    web = await asyncio.start_server(_http_404, "127.0.0.1", 0)
    banner = await asyncio.start_server(_not_http, "127.0.0.1", 0)
    web_url = f"ws://127.0.0.1:{web.sockets[0].getsockname()[1]}/"
    banner_url = f"ws://127.0.0.1:{banner.sockets[0].getsockname()[1]}/"
    port = server.port
    dead_url = f"ws://127.0.0.1:{_free_port()}/"
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    taken_port = str(taken.getsockname()[1])
    code = invite(server.config.db_path)

    def join(url: str, *extra: str) -> list[str]:
        return ["join", url, code, "--name", "newcomer", "--password-stdin", *extra]

    def login(url: str, *extra: str) -> list[str]:
        return ["login", url, "--name", "ana", "--password-stdin", *extra]

    def rse(home: str, *args: str | bytes, code: int, stdin: bytes = b"") -> Row:
        return Row("rse", home, args, code, stdin)

    def srv(*args: str | bytes, code: int) -> Row:
        return Row("rse-server", "none", args, code)

    url = server.url
    t1 = ("--timeout", "1")
    new_db = ("--port", "0", "--db", str(files / "a.db"))
    rows = [
        # -- addresses and ports
        rse("fresh", *join(f"http://127.0.0.1:{port}/"), code=2, stdin=PW),
        rse("fresh", *join("notaurl"), code=2, stdin=PW),
        rse("fresh", *join("ws://127.0.0.1:99999/"), code=2, stdin=PW),
        rse("fresh", *join("ws://127.0.0.1:0/"), code=2, stdin=PW),
        rse("fresh", *join("ws://[::1/"), code=2, stdin=PW),
        rse("fresh", *join("ws://a..b/"), code=2, stdin=PW),
        rse("fresh", *join(f"ws://user:pw@127.0.0.1:{port}/"), code=2, stdin=PW),
        rse("fresh", *join(b"ws://caf\xe9/"), code=2, stdin=PW),
        rse("fresh", *login("ws://no-such-host.invalid/"), code=3, stdin=PW),
        # -- not an rse server there: down, plain HTTP, not HTTP, TLS to a plain server
        rse("fresh", *login(dead_url), code=3, stdin=PW),
        rse("fresh", *join(web_url), code=3, stdin=PW),
        rse("fresh", *login(web_url), code=3, stdin=PW),
        rse("fresh", *login(banner_url), code=3, stdin=PW),
        rse("fresh", *login(f"{url}healthz"), code=3, stdin=PW),
        rse("fresh", *login(url.replace("ws://", "wss://")), code=3, stdin=PW),
        # -- CA files: missing, a directory, not PEM
        rse("fresh", *login(url, "--ca", str(missing)), code=2, stdin=PW),
        rse("fresh", *login(url, "--ca", str(files)), code=2, stdin=PW),
        rse("fresh", *login(url, "--ca", str(notdb)), code=2, stdin=PW),
        # -- passwords: none, empty, not UTF-8, wrong; no terminal to ask on
        rse("fresh", *join(url), code=2),
        rse("fresh", *join(url), code=2, stdin=b"\n"),
        rse("fresh", *join(url), code=2, stdin=b"\xff\xfe\n"),
        rse("fresh", "join", url, code, "--name", "newcomer", code=2),
        rse("fresh", "login", url, "--name", "ana", code=2),
        rse("fresh", *join(url, "--timeout", "-1"), code=2, stdin=PW),
        rse(
            "fresh", "join", url, "not-a-code", "--name", "x", "--password-stdin", code=1, stdin=PW
        ),
        rse("fresh", "login", url, "--name", "nobody", "--password-stdin", code=1, stdin=PW),
        # -- no profile, or a profile that cannot be used
        rse("none", code=1),
        rse("none", "group", "list", code=1),
        rse("none", "tail", "Ops", code=1),
        rse("is-a-file", "group", "list", code=1),
        rse("ca-gone", "group", "list", code=1),
        rse("settings-damaged", "chat", "Ops", "hi", code=1),
        rse("cache-damaged", "tail", "Ops", "--no-follow", code=1),
        # -- bad numbers
        rse("ana", "tail", "Ops", "-n", "-5", code=2),
        rse("ana", "tail", "Ops", "-n", "¹", code=2),
        rse("ana", "tail", "Ops", "-n", "٣", code=2),
        rse("ana", "tail", "Ops", "-n", "9" * 30, code=2),
        rse("ana", "tail", "\x1b[2J" + "x" * 3000, "--no-follow", code=1),
        rse("ana", "group", "list", "--timeout", "nan", code=2),
        rse("ana", "sync", "--timeout", "inf", code=2),
        rse("ana", "tail", "Ops", "--no-follow", "-n", "0", code=0),
        # -- unknown and unreachable names
        rse("ana", "tail", "Nope", "--no-follow", code=1),
        rse("ana", "tail", "#¹", "--no-follow", code=1),
        rse("ana", "tail", "Closed", "--no-follow", code=1),
        rse("ana", "tail", "Lobby", code=1),  # shown, but not followed: not a member
        rse("ana", "chat", "Nope", "hi", code=1),
        rse("ana", "chat", "Closed", "hi", code=1),
        rse("ana", "chat", "Quiet", "hi", code=1),
        rse("ana", "dm", "nobody", "hi", code=1),
        rse("ana", "dm", "ana", "hi", code=1),
        rse("ana", "group", "join", "Closed", code=1),
        rse("ana", "group", "leave", "Lobby", code=1),
        rse("ana", "group", "members", "Closed", code=1),
        rse("ana", "group", "create", "", code=1),
        rse("ana", "group", "create", "Ops", code=1),
        rse("ana", "group", "create", "X", "--parent", "Nope", code=1),
        rse("ana", "group", "create", "X", "--visibility", "public", code=2),
        rse("ana", "group", "add", "Ops", "nobody", code=1),
        rse("ana", "group", "add", "Closed", "bob", code=1),
        rse("ana", "group", "approve", "Ops", "bob", code=1),
        rse("ana", "group", "remove", "Ops", "nobody", code=1),
        rse("ana", "no-such-command", code=2),
        rse("ana", "group", code=2),
        # -- standard input: empty, blank, not UTF-8; text arguments that are not text
        rse("ana", "chat", "Ops", code=0),
        rse("ana", "chat", "Ops", code=0, stdin=b"\n \n"),
        rse("ana", "chat", "Ops", code=2, stdin=b"fine\n\xff\xfe broken\n"),
        rse("ana", "post", "Ops", code=2),
        rse("ana", "post", "Ops", code=2, stdin=b"\xe9t\xe9\n"),
        rse("ana", "dm", "bob", code=2, stdin=b"\xff\n"),
        rse("ana", "chat", "Ops", b"caf\xe9", code=2),
        rse("ana", "group", "create", b"\xff", code=2),
        rse("ana", "directory", "zzz-nobody", code=0),
        # -- the app and the demo need a terminal: not a pipe
        rse("ana", code=2),
        rse("ana", "demo", code=2),
        # -- the server is down
        rse("down", "chat", "Ops", "queued", *t1, code=3),
        rse("down", "post", "Ops", *t1, code=3, stdin=b"queued\n"),
        rse("down", "tail", "Ops", "--no-follow", *t1, code=3),
        rse("down", "tail", "Nope", "--no-follow", *t1, code=3),
        rse("down", "group", "list", *t1, code=3),
        rse("down", "group", "members", "Ops", *t1, code=3),
        rse("down", "group", "join", "Elsewhere", *t1, code=3),
        rse("down", "dm", "bob", "hi", *t1, code=3),
        rse("down", "directory", *t1, code=3),
        rse("down", "charter", *t1, code=3),
        rse("down", "sync", *t1, code=3),
        rse("logout-down", "logout", *t1, code=3),
        # -- rse-server: numbers, hosts, ports, TLS files
        srv("serve", "--port", "99999", "--db", str(files / "a.db"), code=2),
        srv("serve", "--port", "0", "--db", str(files / "no-such-dir" / "x.db"), code=2),
        srv("serve", "--port", "¹", "--db", str(files / "a.db"), code=2),
        srv("serve", "--port", taken_port, "--db", str(files / "a.db"), code=1),
        srv("serve", "--port", "0", "--host", "256.1.1.1", "--db", str(files / "a.db"), code=2),
        srv("serve", "--port", "0", "--rate-limit", "nan", "--db", str(files / "a.db"), code=2),
        srv("serve", *new_db, "--max-connections-per-user", "0", code=2),
        srv("serve", *new_db, "--ping-interval", "-1", code=2),
        srv("serve", *new_db, "--tls-cert", str(missing), "--tls-key", str(missing), code=2),
        srv("serve", *new_db, "--tls-cert", str(notdb), "--tls-key", str(notdb), code=2),
        srv("serve", *new_db, "--tls-cert", str(files), "--tls-key", str(notdb), code=2),
        srv("serve", *new_db, "--tls-cert", str(notdb), code=2),
        # -- rse-server: databases that are missing, directories, not SQLite, not rse
        srv("serve", "--port", "0", "--db", str(files), code=2),
        srv("serve", "--port", "0", "--db", str(notdb), code=2),
        srv("serve", "--port", "0", "--db", str(foreign), code=2),
        srv("invite", "--db", str(files / "typo.db"), code=2),
        srv("invite", "--db", str(files), code=2),
        srv("invite", "--db", str(notdb), code=2),
        srv("invite", "--db", str(foreign), code=2),
        srv("admin", "ana", "--db", str(files / "typo.db"), code=2),
        srv("badge", "ana", "none", "--db", str(notdb), code=2),
        srv("charter", "set", str(charter), "--db", str(missing), code=2),
        # -- rse-server: other bad arguments
        srv("invite", *adb, "--hours", "-5", code=2),
        srv("invite", *adb, "--hours", "nan", code=2),
        srv("invite", *adb, "--group", "Nope", code=1),
        srv("charter", "set", str(missing), *adb, code=2),
        srv("charter", "set", str(files), *adb, code=2),
        srv("charter", "set", str(nonutf8), *adb, code=2),
        srv("charter", "set", str(empty), *adb, code=2),
        srv("charter", "set", str(unreadable), *adb, code=0 if os.geteuid() == 0 else 2),
        srv("admin", "nobody", *adb, code=1),
        srv("admin", b"\xff", *adb, code=2),
        srv("badge", "nobody", "ambassador", *adb, code=1),
        srv("badge", "ana", "gold", *adb, code=2),
        srv("no-such-command", code=2),
    ]
    assert not (files / "typo.db").exists()

    slots = asyncio.Semaphore(PARALLEL)

    async def one(number: int, row: Row) -> Ran:
        home = homes[row.home]
        if row.home in ("ana", "down"):
            # A profile of its own: any command delivers the queued writes of
            # the profile, so rows that share one could report each other's.
            home = await asyncio.to_thread(_copy_home, home, tmp_path / "rows" / str(number))
        async with slots:
            return await _run(row, home)

    try:
        results = await asyncio.gather(
            _server_dies_mid_stream(tmp_path), *(one(n, row) for n, row in enumerate(rows))
        )
    finally:
        taken.close()
        web.close()
        banner.close()
        await bob.close()
        await server.stop()
    report = [
        f"{ran.row.prog} {' '.join(map(str, ran.row.args))} [{ran.row.home}]: "
        f"{'; '.join(found)}\n  stdout: {ran.out[-300:]!r}\n  stderr: {ran.err[-600:]!r}"
        for ran in results
        if (found := _problems(ran))
    ]
    assert not report, "\n".join(report)
    assert not (files / "typo.db").exists() and not (files / "a.db").exists()
