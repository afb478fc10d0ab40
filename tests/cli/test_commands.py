"""Every ``rse`` command, its output and its exit code, against a real server."""

from __future__ import annotations

import asyncio
import re
import stat

from bench.linkproxy import LinkProxy
from rse_tui.protocol import ChatEvent, CreateGroup, History, JoinGroup, SendChat
from server.app import RseServer

from ..helpers import PASSWORD, config, group_named, invite, new_user

LINE = re.compile(r"^#(\d+) \d{4}-\d\d-\d\d \d\d:\d\d (\S+): (.*)$")


def _one_error_line(result) -> None:
    assert result.err.endswith("\n") and result.err.count("\n") == 1, result.err
    assert result.err.startswith("rse: ")
    assert "Traceback" not in result.err


async def test_join_stores_a_private_profile_and_never_prints_the_token(rse, server):
    result = await rse.join(server, "ana")
    assert "joined" in result.out
    assert "token kept in" in result.err  # the keyring fallback notice, one line
    [profile] = (rse.home / "profiles").iterdir()
    token = (profile / "token").read_text()
    assert token and token not in result.out + result.err
    for path in (rse.home, rse.home / "profiles", profile):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for path in (profile / "token", profile / "cache.db", profile / "settings.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token not in (profile / "settings.json").read_text()


async def test_join_and_login_errors(rse, server):
    bad = await rse(
        "join", server.url, "not-a-code", "--name", "ana", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert bad.code == 1
    _one_error_line(bad)
    await rse.join(server, "ana")
    wrong = await rse("login", server.url, "--name", "ana", "--password-stdin", stdin="nope1234\n")
    assert wrong.code == 1 and "wrong name or password" in wrong.err
    _one_error_line(wrong)
    ok = await rse("login", server.url, "--name", "ana", "--password-stdin", stdin=PASSWORD + "\n")
    assert ok.code == 0 and "logged in" in ok.out
    usage = await rse("join", server.url)
    assert usage.code == 2


async def test_group_commands(rse, server):
    await rse.join(server, "ana")
    made = await rse("group", "create", "Ops Team")
    assert made.code == 0, made.err
    listing = await rse("group", "list")
    assert listing.code == 0
    assert re.search(r"^\* Ops Team\t1 member$", listing.out, re.M), listing.out
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="Platform", cid="g")).group
    joined = await rse("group", "join", "platform")  # names match case-insensitively
    assert joined.code == 0, joined.err
    members = await rse("group", "members", "Platform")
    assert members.out.split() == ["ana", "bob"]
    left = await rse("group", "leave", "Platform")
    assert left.code == 0
    assert (await rse("group", "members", "Platform")).out.split() == ["bob"]
    again = await rse("group", "leave", "Platform")
    assert again.code == 1 and "not a member" in again.err
    _one_error_line(again)
    dup = await rse("group", "create", "ops team")
    assert dup.code == 1
    _one_error_line(dup)
    for args in (
        ("group", "join", "Nope"),
        ("chat", "Nope", "hi"),
        ("tail", "Nope"),
        ("group", "members", "Nope"),
        ("post", "Nope", "x"),
    ):
        missing = await rse(*args)
        assert (missing.code, missing.err) == (1, "rse: no such group: Nope\n"), (args, missing)
    assert g
    await bob.close()


async def test_chat_post_and_tail(rse, server):
    await rse.join(server, "ana")
    await rse("group", "create", "Ops")
    sent = await rse("chat", "Ops", "disk full on db3")
    assert sent.code == 0 and sent.out == "" and sent.err == ""
    piped = await rse("chat", "Ops", stdin="line one\n\nline two\n")
    assert piped.code == 0
    post = await rse("post", "Ops", stdin="# Runbook\n1. breathe\n")
    assert post.code == 0
    tail = await rse("tail", "Ops", "--no-follow")
    assert tail.code == 0
    lines = [LINE.match(line).groups() for line in tail.out.splitlines()]
    assert [(a, t) for _, a, t in lines] == [
        ("ana", "disk full on db3"),
        ("ana", "line one"),
        ("ana", "line two"),
    ]
    seqs = [int(s) for s, _, _ in lines]
    assert seqs == sorted(seqs)
    feed = await rse("tail", "Ops", "--feed", "--no-follow")
    assert feed.out.rstrip().endswith("ana: # Runbook ⏎ 1. breathe")  # no trailing newline


async def test_tail_follows_and_neutralises_escapes(rse, server):
    await rse.join(server, "ana")
    await rse("group", "create", "Ops")
    bob = await new_user(server, "bob")
    ops = await group_named(bob.conn, "Ops")
    await bob.conn.call(JoinGroup, group=ops, cid="j")
    proc = await rse.start("tail", "Ops")
    assert proc.stdout is not None
    # Whether tail catches up on it or is pushed it live, it prints it once.
    evil = "\x1b[2J\x1b]0;pwned\x07[bold]hi[/] \x9b31m"
    ack = await bob.conn.call(SendChat, group=ops, text=evil, cid="e")
    line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
    proc.terminate()
    await proc.wait()
    seq, author, text = LINE.match(line.rstrip("\n")).groups()
    assert (int(seq), author) == (ack.seq, "bob")
    assert "\x1b" not in line and "\x9b" not in line and "\x07" not in line
    assert text == "␛[2J␛]0;pwned␇[bold]hi[/] \ufffd31m"
    await bob.close()


async def test_offline_write_is_queued_then_delivered_once(rse, tmp_path):
    cfg = config(tmp_path / "s.db")
    srv = RseServer(cfg)
    await srv.start()
    link = await LinkProxy(srv.port).start()  # outlives the server's restart
    await rse.join(srv, "ana", url=link.url)
    await rse("group", "create", "Ops")
    await srv.stop()

    queued = await rse("chat", "Ops", "written during the outage", "--timeout", "1")
    assert queued.code == 3
    _one_error_line(queued)
    assert "queued" in queued.err
    pending = await rse("sync", "--timeout", "1")
    assert pending.code == 3

    srv = RseServer(cfg)
    await srv.start()
    link.target_port = srv.port
    try:
        listing = await rse("group", "list")  # any command delivers the outbox
        assert listing.code == 0
        again = await rse("sync")
        assert again.code == 0
        tail = await rse("tail", "Ops", "--no-follow")
        texts = [LINE.match(x).group(3) for x in tail.out.splitlines()]
        assert texts == ["written during the outage"]
        bob = await new_user(srv, "bob")
        ops = await group_named(bob.conn, "Ops")
        await bob.conn.call(JoinGroup, group=ops, cid="j")
        page = await bob.conn.call(History, group=ops, kind="c", limit=10)
        assert [e.text for e in page.events] == ["written during the outage"]
        assert isinstance(page.events[0], ChatEvent)
        await bob.close()
    finally:
        await srv.stop()
        await link.stop()


async def test_refused_write_is_reported_and_not_retried_forever(rse, server):
    await rse.join(server, "ana")
    bob = await new_user(server, "bob")
    await bob.conn.call(CreateGroup, name="Closed", cid="g")
    refused = await rse("chat", "Closed", "let me in")
    assert refused.code == 1 and "join the group" in refused.err
    _one_error_line(refused)
    assert (await rse("sync")).code == 0
    await bob.close()


async def test_logout(rse, server):
    await rse.join(server, "ana")
    out = await rse("logout")
    assert out.code == 0 and "logged out" in out.out
    after = await rse("group", "list")
    assert after.code == 1 and "no token" in after.err
    _one_error_line(after)


async def test_commands_without_a_profile(rse):
    result = await rse("group", "list")
    assert result.code == 1 and "rse join" in result.err
    _one_error_line(result)


async def test_join_reads_the_code_from_standard_input(rse, server):
    """Out of ps and shell history: the code is the first line, the password the next."""
    code = invite(server.config.db_path)
    joined = await rse(
        "join",
        server.url,
        "--code-stdin",
        "--name",
        "ana",
        "--password-stdin",
        stdin=f"{code}\n{PASSWORD}\n",
    )
    assert joined.code == 0 and "joined" in joined.out, joined
    both = await rse("join", server.url, "abc", "--code-stdin", "--name", "bob", stdin="x\n")
    neither = await rse("join", server.url, "--name", "bob", "--password-stdin", stdin="x\n")
    assert both.code == neither.code == 2 and "invitation code" in both.err


async def test_react_puts_and_takes_back_a_reaction(rse, server):
    from rse_tui.protocol import ReactEvent, Sync

    await rse.join(server, "ana")
    await rse("group", "create", "Ops")
    bob = await new_user(server, "bob")
    ops = await group_named(bob.conn, "Ops")
    await bob.conn.call(JoinGroup, group=ops, cid="j")
    await bob.conn.call(Sync, since=0)
    said = (await bob.conn.call(SendChat, group=ops, text="deployed", cid="c")).seq
    put = await rse("react", f"#{said}", "tada")
    assert put.code == 0, put.err
    got = await bob.pushes.next(ReactEvent)
    assert (got.target, got.emoji, got.on) == (said, "tada", True)
    back = await rse("react", str(said), "tada", "--remove")
    assert back.code == 0, back.err
    assert (await bob.pushes.next(ReactEvent)).on is False
    # Bad input: a clear error, nothing sent.
    wrong = await rse("react", str(said), "poop")
    assert wrong.code == 2 and "invalid choice" in wrong.err, wrong.err
    assert (await rse("react", "abc", "tada")).code == 2
    missing = await rse("react", str(said + 1000), "tada")
    assert missing.code == 1 and "was refused" in missing.err
    await bob.close()
