"""A client that stops reading holds little on the server, in the process or
the kernel, and is cut off by bytes queued; one that reads slowly is served."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import logging
import os
import random
import socket
import string
import struct
import termios
import time
from pathlib import Path

from rse_tui.protocol import Batch, ChatEvent, CreateGroup, JoinGroup, SendChat, Sync
from rse_tui.sync.connection import Connection
from server.app import RseServer
from server.peer import Peer

from ..helpers import Pushes, config, new_user

LINE = 4000  # characters of a flood line: the longest chat line


def _noise(rng: random.Random, size: int = LINE) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=size))


def _deaf_client(port: int, token: str) -> socket.socket:
    """A raw socket that signs in and asks for the catch-up in the opening
    handshake (``hello`` and ``sync`` from the token, docs/protocol.md), then
    never reads a byte: not even the handshake's answer."""
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /?s=0 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    return sock


async def _peer_of(server: RseServer, user: int, local_port: int) -> Peer:
    """The server's live session for the client socket bound to ``local_port``."""
    for _ in range(200):
        for peer in server.hub.peers(user):
            if peer.socket.remote_address[1] == local_port and peer.live:
                return peer
        await asyncio.sleep(0.02)
    raise AssertionError("the client never signed in")


def _sndbuf(peer: Peer) -> int:
    sock = peer.socket.transport.get_extra_info("socket")
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))


def _kernel_queue(peer: Peer) -> int:
    """Bytes the server's kernel holds for this peer, sent or not, unacknowledged."""
    fd = peer.socket.transport.get_extra_info("socket").fileno()
    return int(struct.unpack("i", fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0" * 4))[0])


def _server_side(server_port: int, client_port: int) -> tuple[str, int] | None:
    """State and send queue of the server's socket for a client, from /proc/net/tcp."""
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            return fields[3], int(fields[4].split(":")[0], 16)
    return None


async def _group(server: RseServer, *names: str):
    """A flooder (the group's creator) and members of the group, each signed in."""
    flooder = await new_user(server, "flooder")
    g = (await flooder.conn.call(CreateGroup, name="Firehose", cid="g")).group
    members = []
    for name in names:
        member = await new_user(server, name)
        await member.conn.call(JoinGroup, group=g, cid="j")
        members.append(member)
    return flooder, g, members


async def test_a_client_that_never_reads_is_cut_off_by_bytes_queued(tmp_path, caplog):
    limit = 256 * 1024
    # The time bound is far off: what cuts this client off is the byte bound.
    cfg = config(tmp_path / "rse.db", send_queue_bytes=limit, send_timeout=30.0)
    async with RseServer(cfg) as srv:
        flooder, g, (deaf, reader) = await _group(srv, "deaf", "reader")
        await deaf.close()
        await reader.conn.call(Sync, since=0)
        sock = _deaf_client(srv.port, deaf.auth.token)
        peer = await _peer_of(srv, deaf.user, sock.getsockname()[1])
        autotuned = sndbuf = _sndbuf(peer)
        in_kernel = 0
        rng = random.Random(14)
        sent = 0
        started = time.monotonic()
        with caplog.at_level(logging.INFO, logger="server.peer"):
            while not peer.ended:
                in_kernel = max(in_kernel, _kernel_queue(peer))
                sndbuf = min(sndbuf, _sndbuf(peer))
                await flooder.conn.call(SendChat, group=g, text=_noise(rng), cid=f"f{sent}")
                sent += 1
                assert time.monotonic() - started < 20, "the deaf client was never cut off"
        cut_after = time.monotonic() - started
        assert peer.evicted
        assert f"over {limit} bytes of events waiting" in caplog.text
        assert cut_after < 5, cut_after  # far from the 30 s send timeout
        # Once it fell behind, its kernel send buffer was shrunk (Linux doubles
        # the value); the kernel never held much for it (the autotuned buffer
        # takes 4 MiB on loopback).
        assert sndbuf <= 2 * cfg.limits.slow_sndbuf < autotuned
        assert in_kernel < 2 * cfg.limits.kernel_unsent + 256 * 1024, in_kernel
        # Cut off, it is reset: the kernel frees its copy at once (a plain close
        # leaves the socket sending, or probing a closed window, for minutes).
        client_port = sock.getsockname()[1]
        for _ in range(50):
            if _server_side(srv.port, client_port) is None:
                break
            await asyncio.sleep(0.02)
        assert _server_side(srv.port, client_port) is None
        # Everyone else is served: the reader got every line.
        last = await flooder.conn.call(SendChat, group=g, text="after the cut", cid="end")
        await reader.pushes.until(lambda f: isinstance(f, ChatEvent) and f.seq == last.seq)
        assert sum(isinstance(f, ChatEvent) for f in reader.pushes.frames) == sent + 1
        sock.close()
        for c in (flooder, reader):
            await c.close()


async def test_a_reading_client_that_falls_behind_for_a_while_is_not_cut_off(tmp_path):
    limit = 256 * 1024
    cfg = config(tmp_path / "rse.db", send_queue_bytes=limit)
    async with RseServer(cfg) as srv:
        flooder, g, (slow,) = await _group(srv, "slow")
        await slow.close()
        pushes = Pushes()
        conn = await Connection.open(srv.url, token=slow.auth.token, since=0, on_push=pushes)
        assert conn.sync is not None
        await conn.sync
        [peer] = srv.hub.peers(slow.user)
        rng = random.Random(15)
        # A burst while the client reads nothing (a stalled terminal, a lost
        # radio link): more than the bound in all, most of it in the kernel,
        # then it reads again, and again falls behind.
        for burst in range(3):
            conn.ws.transport.pause_reading()
            for n in range(100):
                await flooder.conn.call(SendChat, group=g, text=_noise(rng), cid=f"b{burst}-{n}")
            await asyncio.sleep(0.2)
            conn.ws.transport.resume_reading()
            await asyncio.sleep(0.2)
        last = await flooder.conn.call(SendChat, group=g, text="the end", cid="end")
        await pushes.until(lambda f: isinstance(f, ChatEvent) and f.seq == last.seq)
        assert not peer.ended
        assert _sndbuf(peer) <= 2 * cfg.limits.slow_sndbuf  # it did fall behind
        assert sum(isinstance(f, ChatEvent) for f in pushes.frames) == 301
        await conn.close()
        await flooder.close()


async def test_a_catch_up_larger_than_the_byte_bound_is_served(tmp_path):
    """A reply is what the client asked for: a catch-up over the byte bound
    (many queued Batch frames) is sent in full, or it would never catch up."""
    cfg = config(tmp_path / "rse.db", send_queue_bytes=64 * 1024, batch_size=10)
    async with RseServer(cfg) as srv:
        flooder, g, (away,) = await _group(srv, "away")
        cursor = (await away.conn.call(Sync, since=0)).head
        await away.close()
        rng = random.Random(16)
        for n in range(100):  # 400 KB, in 10 frames
            await flooder.conn.call(SendChat, group=g, text=_noise(rng), cid=f"m{n}")
        pushes = Pushes()
        conn = await Connection.open(srv.url, token=away.auth.token, since=cursor, on_push=pushes)
        assert conn.sync is not None
        await conn.sync
        [peer] = srv.hub.peers(away.user)
        replayed = [e for f in pushes.frames if isinstance(f, Batch) for e in f.events]
        assert sum(isinstance(e, ChatEvent) for e in replayed) == 100
        assert not peer.ended
        await conn.close()
        await flooder.close()
