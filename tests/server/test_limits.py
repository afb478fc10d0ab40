"""Bad input of every kind: a typed error, nothing stored, everyone still served."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import sqlite3
import string
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rse_tui.protocol import (
    ChatEvent,
    CreateGroup,
    ErrorCode,
    ErrorFrame,
    JoinGroup,
    ListGroups,
    ProtocolError,
    SendChat,
    Sync,
)
from rse_tui.sync.connection import Connection
from server.app import RseServer

from ..helpers import config, new_user


def _state(db_path) -> tuple:
    """Everything a rejected request must leave unchanged."""
    db = sqlite3.connect(db_path)
    try:
        tables = ("events", "receipts", "groups", "users", "invites", "members", "tokens")
        counts = [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables]
        return (*counts, db.execute("SELECT max(seq) FROM events").fetchone()[0])
    finally:
        db.close()


#: Well-formed writes the rules refuse: their refusal is kept as their answer.
KEPT_REFUSALS = {"unknown group", "join unknown group"}


@pytest.fixture
async def room(server):
    """ana (in group Ops) and bob, both live; yields (ana, bob, group id)."""
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
    await bob.conn.call(JoinGroup, group=g, cid="j")
    await bob.conn.call(Sync, since=0)
    yield ana, bob, g
    await ana.close()
    await bob.close()


async def _still_fine(server: RseServer, ana, bob, g: int, cid: str) -> None:
    """The offender's connection and everyone else keep working."""
    assert (await ana.conn.call(ListGroups)).groups
    ack = await ana.conn.call(SendChat, group=g, text=f"after {cid}", cid=cid)
    got = await bob.pushes.until(lambda f: isinstance(f, ChatEvent) and f.seq == ack.seq)
    assert got.text == f"after {cid}"


BAD_FRAMES = {
    "not json": ("{nope", ErrorCode.BAD_FRAME, None),
    "json array": ("[1, 2]", ErrorCode.BAD_FRAME, None),
    "json string": ('"chat"', ErrorCode.BAD_FRAME, None),
    "deep nesting": ("[" * 20_000 + "]" * 20_000, ErrorCode.BAD_FRAME, None),
    "binary garbage": (b"\xff\xfe\x00junk", ErrorCode.BAD_FRAME, None),
    "no type": ('{"i": 7, "g": 1}', ErrorCode.UNKNOWN_TYPE, 7),
    "unknown type": ('{"t": "drop_tables", "i": 8}', ErrorCode.UNKNOWN_TYPE, 8),
    "type not a string": ('{"t": 5, "i": 9}', ErrorCode.UNKNOWN_TYPE, 9),
    "group as string": ('{"t":"chat","i":10,"g":"1","x":"hi","c":"a"}', ErrorCode.BAD_FIELD, 10),
    "group as bool": ('{"t":"chat","i":11,"g":true,"x":"hi","c":"a"}', ErrorCode.BAD_FIELD, 11),
    "group negative": ('{"t":"chat","i":12,"g":-1,"x":"hi","c":"a"}', ErrorCode.BAD_FIELD, 12),
    "group huge": ('{"t":"chat","i":13,"g":1e300,"x":"hi","c":"a"}', ErrorCode.BAD_FIELD, 13),
    "text as list": ('{"t":"chat","i":14,"g":1,"x":["hi"],"c":"a"}', ErrorCode.BAD_FIELD, 14),
    "missing text": ('{"t":"chat","i":15,"g":1,"c":"a"}', ErrorCode.BAD_FIELD, 15),
    "missing client id": ('{"t":"chat","i":16,"g":1,"x":"hi"}', ErrorCode.BAD_FIELD, 16),
    "client id with spaces": (
        '{"t":"chat","i":17,"g":1,"x":"hi","c":"a b"}',
        ErrorCode.BAD_FIELD,
        17,
    ),
    "client id too long": (
        json.dumps({"t": "chat", "i": 18, "g": 1, "x": "hi", "c": "a" * 65}),
        ErrorCode.BAD_FIELD,
        18,
    ),
    "empty text": ('{"t":"chat","i":19,"g":GROUP,"x":"   ","c":"e"}', ErrorCode.BAD_FIELD, 19),
    "NUL in text": (
        '{"t":"chat","i":20,"g":GROUP,"x":"a\\u0000b","c":"n"}',
        ErrorCode.BAD_FIELD,
        20,
    ),
    "unknown group": ('{"t":"chat","i":21,"g":987654,"x":"hi","c":"u"}', ErrorCode.NOT_FOUND, 21),
    "unknown group history": ('{"t":"hist","i":22,"g":987654,"k":"c"}', ErrorCode.NOT_FOUND, 22),
    "unknown group members": ('{"t":"members","i":23,"g":987654}', ErrorCode.NOT_FOUND, 23),
    "join unknown group": ('{"t":"join","i":24,"g":987654,"c":"jj"}', ErrorCode.NOT_FOUND, 24),
    "bad history kind": ('{"t":"hist","i":25,"g":GROUP,"k":"zz"}', ErrorCode.BAD_FIELD, 25),
    "history page too big": (
        '{"t":"hist","i":26,"g":GROUP,"k":"c","n":100000}',
        ErrorCode.BAD_FIELD,
        26,
    ),
    "request id negative": ('{"t":"groups","i":-3}', ErrorCode.BAD_FIELD, None),
    "empty group name": ('{"t":"gcreate","i":27,"n":" ","c":"gg"}', ErrorCode.BAD_FIELD, 27),
    "control char in group name": (
        '{"t":"gcreate","i":28,"n":"a\\u001b[2Jb","c":"gh"}',
        ErrorCode.BAD_FIELD,
        28,
    ),
    "group name too long": (
        json.dumps({"t": "gcreate", "i": 29, "n": "g" * 81, "c": "gi"}),
        ErrorCode.TOO_LONG,
        29,
    ),
    "too many user ids": (
        json.dumps({"t": "users", "i": 30, "l": list(range(501))}),
        ErrorCode.BAD_FIELD,
        30,
    ),
    "revoke unknown token": ('{"t":"revoke","i":31,"id":424242}', ErrorCode.NOT_FOUND, 31),
    "hello twice": ('{"t":"hello","i":32,"v":1}', ErrorCode.FORBIDDEN, 32),
}


@pytest.mark.parametrize("label", list(BAD_FRAMES))
async def test_bad_frame_gets_typed_error_and_changes_nothing(server, room, label):
    ana, bob, g = room
    frame, code, rid = BAD_FRAMES[label]
    if isinstance(frame, str):
        frame = frame.replace("GROUP", str(g))
    before = _state(server.config.db_path)
    await ana.conn.send_raw(frame)
    err = await ana.pushes.next(ErrorFrame)
    assert (err.code, err.request_id) == (code.value, rid), err
    assert err.message
    after = _state(server.config.db_path)
    if label in KEPT_REFUSALS:
        # A well-formed write refused for good keeps its refusal as its answer
        # (sent again, it is refused again: never stored after later writes).
        assert after == (before[0], before[1] + 1, *before[2:])
        await ana.conn.send_raw(frame)
        again = await ana.pushes.next(ErrorFrame)
        assert (again.code, again.message) == (err.code, err.message)
        assert _state(server.config.db_path) == after
    else:
        assert after == before
    await _still_fine(server, ana, bob, g, label.replace(" ", "-"))


async def test_text_too_long_is_refused_and_not_stored(server, room):
    ana, _, g = room
    limit = server.config.limits.max_chat_chars
    before = _state(server.config.db_path)
    with pytest.raises(ProtocolError) as err:
        await ana.conn.call(SendChat, group=g, text="x" * (limit + 1), cid="long")
    assert err.value.code is ErrorCode.TOO_LONG
    assert _state(server.config.db_path) == before
    # Exactly at the limit is fine.
    await ana.conn.call(SendChat, group=g, text="x" * limit, cid="long")


async def test_oversized_frame_error_keeps_the_connection(server, room):
    ana, bob, g = room
    size = server.config.limits.max_frame
    before = _state(server.config.db_path)
    frame = json.dumps({"t": "post", "i": 77, "g": g, "x": "y" * size, "c": "big"})
    await ana.conn.send_raw(frame)
    err = await ana.pushes.next(ErrorFrame)
    assert (err.code, err.request_id) == (ErrorCode.TOO_BIG.value, 77)
    assert _state(server.config.db_path) == before
    await _still_fine(server, ana, bob, g, "after-big")


async def test_frame_past_hard_limit_closes_only_that_connection(server, room):
    ana, bob, g = room
    before = _state(server.config.db_path)
    raw = await connect(server.url, max_size=None)
    await raw.send("z" * (server.config.limits.hard_max_frame + 10))
    await raw.wait_closed()
    assert raw.close_code == 1009  # message too big
    assert _state(server.config.db_path) == before
    await _still_fine(server, ana, bob, g, "after-huge")


async def test_invalid_utf8_text_frame_closes_only_that_connection(server, room):
    ana, bob, g = room
    raw = await connect(server.url)
    await raw.send(b'{"t":"hello","i":1,"v":1,"x":"\xc3\x28"}', text=True)
    await raw.wait_closed()
    assert raw.close_code == 1007  # invalid frame payload data
    await _still_fine(server, ana, bob, g, "after-utf8")


async def test_requests_before_auth_are_refused(server):
    conn = await Connection.open(server.url)
    before = _state(server.config.db_path)
    for kind, fields in [
        (ListGroups, {}),
        (SendChat, {"group": 1, "text": "hi", "cid": "x"}),
        (CreateGroup, {"name": "Sneaky", "cid": "y"}),
        (Sync, {"since": 0}),
    ]:
        with pytest.raises(ProtocolError) as err:
            await conn.call(kind, **fields)
        assert err.value.code is ErrorCode.AUTH_REQUIRED
    assert _state(server.config.db_path) == before
    await conn.close()


async def test_rate_limit_gives_retry_after_and_stores_nothing_extra(tmp_path):
    # A wait past rate_max_delay is refused (shorter ones are waited out).
    cfg = config(tmp_path / "rse.db", rate_burst=5, rate_per_second=0.5, rate_max_delay=0.5)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
        accepted, refused = [], []
        for n in range(10):
            try:
                accepted.append(await ana.conn.call(SendChat, group=g, text=f"{n}", cid=f"r{n}"))
            except ProtocolError as exc:
                assert exc.code is ErrorCode.RATE_LIMITED
                assert exc.retry_after and exc.retry_after > 0
                refused.append(n)
        assert len(accepted) == 4 and len(refused) == 6  # 5 in the burst, one spent on gcreate
        db = sqlite3.connect(cfg.db_path)
        assert db.execute("SELECT count(*) FROM events WHERE kind = 'c'").fetchone()[0] == 4
        db.close()
        # Another user is not slowed down by ana's flood.
        bob = await new_user(srv, "bob")
        assert (await bob.conn.call(ListGroups)).groups
        await ana.close()
        await bob.close()


async def test_login_attempts_are_rate_limited(tmp_path):
    cfg = config(tmp_path / "rse.db", anon_burst=3, anon_per_second=0.01, rate_max_delay=0.2)
    async with RseServer(cfg) as srv:
        from rse_tui.protocol import Login

        conn = await Connection.open(srv.url)
        codes = []
        for _ in range(12):
            try:
                await conn.call(Login, name="ana", password="guess-guess")
            except ProtocolError as exc:
                codes.append(exc.code)
        assert ErrorCode.AUTH_FAILED in codes and ErrorCode.RATE_LIMITED in codes
        await conn.close()


async def test_max_connections_per_user(tmp_path):
    cfg = config(tmp_path / "rse.db", max_connections_per_user=3)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        more = [await Connection.open(srv.url, token=ana.auth.token) for _ in range(2)]
        with pytest.raises(ProtocolError) as err:
            await Connection.open(srv.url, token=ana.auth.token)
        assert err.value.code is ErrorCode.TOO_MANY_CONNECTIONS
        await more[0].close()
        again = await Connection.open(srv.url, token=ana.auth.token)
        for c in [*more[1:], again]:
            await c.close()
        await ana.close()


def _noise(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


async def test_a_client_that_stops_reading_is_cut_off(tmp_path):
    cfg = config(tmp_path / "rse.db", send_queue=32, send_timeout=1.0)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        bob = await new_user(srv, "bob")
        slow = await new_user(srv, "slow")
        g = (await ana.conn.call(CreateGroup, name="Firehose", cid="g")).group
        for c in (bob, slow):
            await c.conn.call(JoinGroup, group=g, cid="j")
        # The slow client's socket has a tiny receive buffer and nobody reads it.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", srv.port))
        stuck = await Connection.open(
            srv.url, token=slow.auth.token, sock=sock, max_queue=1, on_push=None
        )
        await stuck.call(Sync, since=0)
        stuck.ws.transport.pause_reading()
        [peer] = [
            p
            for p in srv.hub.peers(slow.user)
            if p.socket.remote_address[1] == sock.getsockname()[1]
        ]
        await bob.conn.call(Sync, since=0)
        rng = random.Random(7)
        started = time.monotonic()
        sent = 0
        while not peer.ended:
            await ana.conn.call(SendChat, group=g, text=_noise(rng, 3000), cid=f"f{sent}")
            sent += 1
            assert time.monotonic() - started < 30, "slow reader was never cut off"
        cut_after = time.monotonic() - started
        assert peer.evicted
        assert cut_after < 10
        assert srv.hub.connections(slow.user) == 1  # only slow's first, reading session
        # Everyone else got every message.
        last = await ana.conn.call(SendChat, group=g, text="after the cut", cid="end")
        await bob.pushes.until(lambda f: isinstance(f, ChatEvent) and f.seq == last.seq)
        chat = [f for f in bob.pushes.frames if isinstance(f, ChatEvent)]
        assert len(chat) == sent + 1
        for c in (ana, bob, slow):
            await c.close()
        sock.close()


async def test_a_flood_before_sign_in_is_slowed_down_not_answered_at_full_speed(tmp_path):
    cfg = config(tmp_path / "rse.db", anon_burst=5, anon_per_second=50, rate_max_delay=10)
    async with RseServer(cfg) as srv, connect(srv.url) as ws:
        started = time.monotonic()
        for n in range(30):
            await ws.send("not json" if n % 2 else json.dumps({"t": "charter", "i": n}))
        answers = [json.loads(await ws.recv()) for _ in range(30)]
        took = time.monotonic() - started
    # 25 over the burst at 50 a second: half a second at least, and each gets
    # its own answer (a bad frame, or authentication needed), none "rate_limited".
    assert took >= 0.45, took
    assert {a["e"] for a in answers} <= {"bad_frame", "auth_required"}


async def test_each_connection_gets_its_own_fresh_allowance(tmp_path):
    """Python reuses the id() of a closed connection's object: a new one must not
    inherit its bucket."""
    cfg = config(tmp_path / "rse.db", anon_burst=2, anon_per_second=0.01, rate_max_delay=0.5)
    async with RseServer(cfg) as srv:
        for n in range(20):
            async with connect(srv.url) as ws:
                for _ in range(2):
                    await ws.send(json.dumps({"t": "charter", "i": n}))
                    answer = json.loads(await ws.recv())
                    assert answer["e"] == "auth_required", (n, answer)


async def test_a_connection_that_does_not_sign_in_is_closed(tmp_path):
    cfg = config(tmp_path / "rse.db", sign_in_within=0.3)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")  # signed in at once: stays
        async with connect(srv.url) as idle:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(idle.recv(), 5)
            assert idle.close_code == 1008
        assert (await ana.conn.call(ListGroups)).groups == []
        await ana.close()


async def test_one_address_holds_a_bounded_number_of_connections(tmp_path):
    cfg = config(tmp_path / "rse.db", max_connections_per_address=3)
    async with RseServer(cfg) as srv:
        held = [await connect(srv.url) for _ in range(3)]
        with pytest.raises(InvalidStatus) as refused:
            await connect(srv.url)
        assert refused.value.response.status_code == 429
        await held.pop().close()
        await asyncio.sleep(0.1)
        again = await connect(srv.url)  # a place is free again
        for ws in (*held, again):
            await ws.close()


async def _refusal(url: str, **options) -> tuple[int, bytes]:
    with pytest.raises(InvalidStatus) as refused:
        await connect(url, **options)
    return refused.value.response.status_code, refused.value.response.body


async def test_past_the_total_cap_a_handshake_is_answered_503(tmp_path):
    cfg = config(tmp_path / "rse.db", max_connections=3, anonymous_share=1.0)
    async with RseServer(cfg) as srv:
        held = [await connect(srv.url) for _ in range(3)]
        status, body = await _refusal(srv.url)
        assert (status, body) == (503, b"too many connections; retry later\n")
        # A token does not get past the total.
        token = {"Authorization": "Bearer 1." + "x" * 32}
        assert (await _refusal(srv.url, additional_headers=token))[0] == 503
        await held.pop().close()
        await asyncio.sleep(0.1)
        held.append(await connect(srv.url))  # a place is free again
        for ws in held:
            await ws.close()
        for _ in range(100):  # every place is given back
            if not srv.gate.open:
                break
            await asyncio.sleep(0.02)
        assert srv.gate.open == 0


async def test_signed_in_users_keep_their_places_when_anonymous_sockets_fill_theirs(tmp_path):
    # 8 places, at most 4 for connections not signed in.
    cfg = config(tmp_path / "rse.db", max_connections=8, anonymous_share=0.5)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        bob = await new_user(srv, "bob")
        g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
        await bob.conn.call(JoinGroup, group=g, cid="j")
        await bob.conn.call(Sync, since=0)
        flood = []
        while True:  # idle sockets that never sign in, as many as let in
            try:
                flood.append(await connect(srv.url))
            except InvalidStatus as exc:
                assert exc.response.status_code == 503
                assert b"sign in" in exc.response.body
                break
            assert len(flood) <= 8
        assert len(flood) == 4
        # Those signed in carry on...
        ack = await ana.conn.call(SendChat, group=g, text="still here", cid="m")
        await bob.pushes.until(lambda f: isinstance(f, ChatEvent) and f.seq == ack.seq)
        # ...and a reconnect with a token gets in (hello and sync in the handshake).
        again = await Connection.open(srv.url, token=bob.auth.token, since=0)
        assert again.sync is not None and (await again.sync).head >= ack.seq
        # A token that fails does not keep the place it was let in on.
        bogus = {"Authorization": "Bearer 1." + "x" * 32}
        async with connect(srv.url, additional_headers=bogus) as ws:
            assert json.loads(await ws.recv())["e"] == "auth_failed"
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1008
        # The total still holds: 3 signed in, 4 anonymous; one more place.
        last = await Connection.open(srv.url, token=ana.auth.token)
        assert (await _refusal(srv.url, additional_headers=bogus))[0] == 503
        for ws in flood:
            await ws.close()
        for conn in (again, last):
            await conn.close()
        await ana.close()
        await bob.close()


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


async def test_sockets_past_the_ceiling_are_closed_at_once_unanswered(tmp_path):
    """Sockets that send nothing count too: past the cap and the 64 kept to be
    answered 503, or past twice an address's share, one is closed at once."""
    from server.gate import ANSWERED_PAST_CAP

    cfg = config(tmp_path / "rse.db", max_connections=2, max_connections_per_address=10_000)
    async with RseServer(cfg) as srv:
        quiet = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(2)]
        quiet += [
            socket.create_connection(("127.0.0.1", srv.port)) for _ in range(ANSWERED_PAST_CAP)
        ]
        await asyncio.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", srv.port))
        await asyncio.sleep(0.2)
        assert await asyncio.to_thread(_closed_by_server, extra, 2)
        assert not await asyncio.to_thread(_closed_by_server, quiet[-1], 0.01)
        assert srv.gate.open == 2 + ANSWERED_PAST_CAP
        for sock in [*quiet, extra]:
            sock.close()
    cfg = config(tmp_path / "rse2.db", max_connections_per_address=3)
    async with RseServer(cfg) as srv:
        quiet = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(6)]
        extra = socket.create_connection(("127.0.0.1", srv.port))
        assert await asyncio.to_thread(_closed_by_server, extra, 2)
        assert not await asyncio.to_thread(_closed_by_server, quiet[-1], 0.01)
        for sock in [*quiet, extra]:
            sock.close()


def test_caps_fit_the_open_file_limit():
    from server.config import Limits
    from server.gate import Caps

    limits = Limits()
    assert Caps.of(limits, None) == Caps(20_000, 10_000, 256)
    assert Caps.of(limits, 1_048_576) == Caps(20_000, 10_000, 256)
    assert Caps.of(limits, 1024) == Caps(768, 384, 256)
    assert Caps.of(limits, 100).total == 1  # never none at all


def test_running_out_of_files_is_logged_once_a_minute_not_once_a_second(caplog):
    import errno
    import os

    from server.gate import AcceptFailures

    now = [0.0]
    passed_on = []
    handler = AcceptFailures(lambda loop, context: passed_on.append(context), clock=lambda: now[0])
    emfile = OSError(errno.EMFILE, os.strerror(errno.EMFILE))
    context = {"message": AcceptFailures.MESSAGE, "exception": emfile}
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level("WARNING", logger="server.gate"):
            for _ in range(600):  # what asyncio reports in a second
                handler(loop, context)
                now[0] += 0.1
            now[0] = 61
            handler(loop, context)
            handler(loop, {"message": "something else"})
    finally:
        loop.close()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "cannot accept connections: Too many open files; retrying every second",
        "cannot accept connections: Too many open files (600 times since the last report);"
        " retrying every second",
    ]
    assert passed_on == [{"message": "something else"}]


async def test_a_client_refused_at_a_limit_is_told_the_server_is_busy(tmp_path):
    from rse_tui.sync.connection import describe_failure

    cfg = config(tmp_path / "rse.db", max_connections=1)
    async with RseServer(cfg) as srv, connect(srv.url):
        with pytest.raises(InvalidStatus) as refused:
            await Connection.open(srv.url)
        assert describe_failure(refused.value, srv.url) == (
            f"{srv.url} is busy (too many connections; retry later)"
        )


async def test_a_refusal_for_the_rate_waits_the_bound_first(tmp_path):
    """Past the rate, a refusal is not free: it waits ``rate_max_delay`` (the
    connection read no further meanwhile), so a loop of them cannot make the
    server answer thousands a second."""
    cfg = config(tmp_path / "rse.db", rate_burst=2, rate_per_second=0.01, rate_max_delay=0.05)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        loop = asyncio.get_running_loop()
        start = loop.time()
        codes = []
        for _ in range(12):
            try:
                await ana.conn.call(ListGroups)
            except ProtocolError as exc:
                codes.append(exc.code)
        assert codes.count(ErrorCode.RATE_LIMITED) >= 10
        assert loop.time() - start >= 10 * 0.05
        await ana.close()
