"""``rse-server`` as an operator runs it: serve, /healthz, SIGTERM, invite, TLS."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import ipaddress
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time

import httpx
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rse_tui.protocol import ErrorCode, ListGroups, ProtocolError, Redeem, Sync, decode_request
from rse_tui.sync.connection import Connection
from server.admin import open_db
from server.app import RseServer

from ..helpers import PASSWORD, ServerProcess, config


def _invite_cli(db, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "invite", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_serve_healthz_invite_while_running_and_sigterm(tmp_path):
    db = tmp_path / "rse.db"
    server = await ServerProcess(db).start()
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{server.port}/healthz")
    assert response.status_code == 200 and response.text == "ok\n"
    # Password hashes and direct messages: readable by their owner only.
    for path in tmp_path.glob("rse.db*"):
        assert path.stat().st_mode & 0o777 == 0o600, path

    done = await asyncio.to_thread(_invite_cli, db)
    assert done.returncode == 0, done.stderr
    code = done.stdout.strip().splitlines()[-1]
    conn = await Connection.open(server.url)
    await conn.call(Redeem, code=code, name="ops", password=PASSWORD)
    await conn.call(Sync, since=0)

    assert server.proc is not None
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(server.wait(), 5) == 0
    assert time.monotonic() - started < 5
    await conn.wait_closed()
    assert conn.ws.close_code == 1001  # going away
    assert "stopped" in "".join(server.output)


async def test_invite_without_a_running_server_and_admin_flag(tmp_path):
    db = tmp_path / "fresh.db"
    open_db(db).close()  # as 'rse-server serve' leaves it
    done = await asyncio.to_thread(_invite_cli, db, "--admin", "--hours", "2")
    assert done.returncode == 0
    assert "admin" in done.stdout
    bad = await asyncio.to_thread(_invite_cli, db, "--hours", "0")
    assert bad.returncode == 2 and "--hours" in bad.stderr


async def test_commands_other_than_serve_refuse_a_missing_or_foreign_database(tmp_path):
    """A mistyped --db is an error, not a new empty database that hides it."""
    typo = tmp_path / "typo.db"
    for args in (
        ("invite", "--db", str(typo)),
        ("admin", "ana", "--db", str(typo)),
        ("badge", "ana", "none", "--db", str(typo)),
    ):
        done = await asyncio.to_thread(_server_cli, *args)
        assert (done.returncode, done.stdout) == (2, ""), (args, done)
        assert done.stderr == (
            f"rse-server: no database at {typo}: check --db"
            f" ('rse-server serve --db {typo}' creates one)\n"
        )
        assert not typo.exists()
    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (text)")
    conn.commit()
    conn.close()
    for args in (("invite",), ("serve", "--port", "0")):
        done = await asyncio.to_thread(_server_cli, *args, "--db", str(foreign))
        assert done.returncode == 2
        assert done.stderr == f"rse-server: {foreign} is a SQLite database, but not an rse one\n"
    conn = sqlite3.connect(foreign)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["notes"]
    conn.close()


async def test_serve_takes_the_port_before_it_creates_the_database(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    db = tmp_path / "rse.db"
    try:
        done = await asyncio.to_thread(_server_cli, "serve", "--port", str(port), "--db", str(db))
    finally:
        taken.close()
    assert done.returncode == 1
    assert done.stderr == (
        f"rse-server: cannot listen on 127.0.0.1:{port}: the port is in use"
        " (--port 0 picks a free one)\n"
    )
    assert not db.exists()


def test_handshake_resume_point_must_be_ascii_digits():
    """'¹'.isdigit() is true but int('¹') fails: such a value is refused, not a crash."""
    from websockets.datastructures import Headers
    from websockets.http11 import Request as HttpRequest

    from server.app import handshake_requests

    for since in ("¹", "٣"):
        request = HttpRequest(f"/?s={since}", Headers({"Authorization": "Bearer x"}))
        _, sync = handshake_requests(request)
        with pytest.raises(ProtocolError) as refused:
            decode_request(sync)
        assert refused.value.code is ErrorCode.BAD_FIELD


def test_two_authorization_headers_are_a_wrong_token_not_a_crash():
    """Reported: two Authorization headers closed the connection with 1011 and
    logged a traceback (anyone could fill the log). Refused like a wrong token."""
    from websockets.datastructures import Headers
    from websockets.http11 import Request as HttpRequest

    from rse_tui.protocol import Hello
    from server.app import handshake_requests

    headers = Headers()
    headers["Authorization"] = "Bearer 1." + "a" * 32
    headers["Authorization"] = "Bearer 2." + "b" * 32
    [hello] = handshake_requests(HttpRequest("/", headers))
    decoded = decode_request(hello)
    assert isinstance(decoded, Hello) and decoded.token == ""


async def test_demo_seed_gives_a_ready_platform(tmp_path):
    db = tmp_path / "demo.db"
    server = await ServerProcess(db, "--demo").start()
    out = "".join(server.output)
    code = next(line for line in server.output if "demo invitation" in line).split()[-1]
    assert "seeded demo content" in out
    conn = await Connection.open(server.url)
    await conn.call(Redeem, code=code, name="newcomer", password=PASSWORD)
    names = {g.name for g in (await conn.call(ListGroups)).groups}
    assert {"General", "Announcements", "Incidents"} <= names
    await conn.close()
    assert server.proc is not None
    server.proc.terminate()
    assert await server.wait() == 0


def _self_signed(cert_file, key_file) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_tls_with_a_given_ca_and_no_silent_fallback(tmp_path, ca):
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    cfg = dataclasses.replace(config(tmp_path / "rse.db"), tls_cert=cert_file, tls_key=key_file)
    async with RseServer(cfg) as srv:
        assert srv.url.startswith("wss://")
        conn = await Connection.open(srv.url, ca_file=ca_file)
        assert conn.welcome is not None
        await conn.close()
        # Without the CA the certificate is refused: no silent "verify off".
        with pytest.raises(ssl.SSLCertVerificationError):
            await Connection.open(srv.url)
        other = trustme.CA()
        other_file = tmp_path / "other.pem"
        other.cert_pem.write_to_path(str(other_file))
        with pytest.raises(ssl.SSLCertVerificationError):
            await Connection.open(srv.url, ca_file=other_file)


async def test_tls_with_a_pinned_self_signed_certificate(tmp_path):
    """A server certificate given as --ca is trusted on its own (pinning)."""
    cert_file, key_file = tmp_path / "self.pem", tmp_path / "self.key"
    _self_signed(cert_file, key_file)
    cfg = dataclasses.replace(config(tmp_path / "rse.db"), tls_cert=cert_file, tls_key=key_file)
    async with RseServer(cfg) as srv:
        conn = await Connection.open(srv.url, ca_file=cert_file)
        assert conn.welcome is not None
        await conn.close()


def _server_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_admin_commands_charter_admin_badge_and_invite_with_groups(server, tmp_path):
    from rse_tui.protocol import (
        AcceptCharter,
        CreateGroup,
        GetCharter,
        GetUsers,
        ListGroups,
        SearchDirectory,
        SendChat,
    )

    from ..helpers import new_user

    db = str(server.config.db_path)
    ana = await new_user(server, "ana")
    g = (await ana.conn.call(CreateGroup, name="Ops", visibility="private", cid="g")).group
    charter = tmp_path / "charter.md"
    charter.write_text("# Usage charter\nBe kind, no secrets in open groups.\n")
    done = await asyncio.to_thread(_server_cli, "charter", "set", str(charter), "--db", db)
    assert done.returncode == 0 and "version 1" in done.stdout, done.stderr
    with pytest.raises(Exception, match="charter"):
        await ana.conn.call(SendChat, group=g, text="hi", cid="m")
    text = await ana.conn.call(GetCharter)
    assert "Be kind" in text.text
    await ana.conn.call(AcceptCharter, version=text.version)
    await ana.conn.call(SendChat, group=g, text="hi", cid="m")

    done = await asyncio.to_thread(_server_cli, "badge", "ana", "ambassador", "--db", db)
    assert done.returncode == 0
    [info] = (await ana.conn.call(GetUsers, users=[ana.user])).users
    assert info.badge == "ambassador"
    found = await ana.conn.call(SearchDirectory, badge="ambassador")
    assert [u.name for u in found.users] == ["ana"] and found.users[0].groups == [g]
    missing = await asyncio.to_thread(_server_cli, "badge", "nobody", "ambassador", "--db", db)
    assert missing.returncode == 1 and "nobody" in missing.stderr

    done = await asyncio.to_thread(_server_cli, "admin", "ana", "--db", db)
    assert done.returncode == 0 and "site admin" in done.stdout

    code = await asyncio.to_thread(_server_cli, "invite", "--group", "Ops", "--db", db)
    assert code.returncode == 0, code.stderr
    conn = await Connection.open(server.url)
    await conn.call(
        Redeem, code=code.stdout.strip().splitlines()[-1], name="bob", password=PASSWORD
    )
    [ops] = [x for x in (await conn.call(ListGroups)).groups if x.group == g]
    assert ops.member
    await conn.close()
    bad = await asyncio.to_thread(_server_cli, "invite", "--group", "Nope", "--db", db)
    assert bad.returncode != 0 and "Nope" in bad.stderr
    await ana.close()


def _quiet_sockets(port: int, n: int) -> list[socket.socket]:
    """Sockets that connect and send nothing (each is an open file in the server)."""
    return [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]


async def test_a_flood_of_sockets_stays_within_the_open_file_limit(tmp_path):
    """At 320 open files (cap 64), 400 sockets that send nothing: no EMFILE, no
    log line per failed accept, and the signed-in session carries on."""
    db = tmp_path / "rse.db"
    server = await ServerProcess(db, open_files=320).start()
    assert "at most 64 connections, 32 not signed in" in server.output[-1]
    code = (await asyncio.to_thread(_invite_cli, db)).stdout.strip().splitlines()[-1]
    conn = await Connection.open(server.url)
    auth = await conn.call(Redeem, code=code, name="ops", password=PASSWORD)
    flood = await asyncio.to_thread(_quiet_sockets, server.port, 400)
    await asyncio.sleep(1.5)  # asyncio retries a failed accept after a second
    assert (await conn.call(ListGroups)).groups == []
    for sock in flood:
        sock.close()
    await asyncio.sleep(0.3)
    again = await Connection.open(server.url, token=auth.token, since=0)
    assert again.sync is not None and (await again.sync).head >= 0
    for c in (conn, again):
        await c.close()
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(server.wait(), 10) == 0
    output = "".join(server.output)
    assert "Too many open files" not in output and "Traceback" not in output, output
