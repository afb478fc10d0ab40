"""What a new user meets in the first minutes of ``rse``: messages in their words,
tail that shows what it is asked for, rules and help that agree with the server."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from rse_tui import cli
from rse_tui.cli import build_parser as rse_parser
from rse_tui.protocol import AddMember, CreateGroup, SendChat
from rse_tui.sync.connection import ConnectionLost
from rse_tui.sync.engine import Offline
from server.admin import mint_invite, open_db
from server.app import RseServer
from server.cli import build_parser as server_parser

from ..helpers import PASSWORD, config, new_user
from .conftest import Rse

LINE = re.compile(r"^#(\d+) \d{4}-\d\d-\d\d \d\d:\d\d (\S+): (.*)$")


async def test_a_refused_write_says_what_where_and_why_in_words(rse, server):
    await rse.join(server, "ana")
    bob = await new_user(server, "bob")
    await bob.conn.call(CreateGroup, name="Closed", visibility="private", cid="g")
    refused = await rse("chat", "Closed", "let me in")
    assert refused.code == 1
    assert refused.err == (
        "rse: your message to Closed (let me in) was refused: join the group before writing to it\n"
    )
    assert (await rse("group", "create", "Ops")).code == 0
    again = await rse("group", "create", "ops")
    assert again.code == 1
    assert again.err == (
        "rse: creating the group 'ops' was refused: a group named 'ops' exists\n"
    ), again.err
    adding = await rse("group", "add", "Closed", "bob")
    assert adding.err == (
        "rse: adding bob to Closed was refused:"
        " only the group's moderators may add people to a private group\n"
    )
    for result in (refused, again, adding):
        assert "gcreate" not in result.err and "group 1" not in result.err
        assert not re.search(r"group \d", result.err)
    await bob.close()


async def test_a_closed_chat_says_nobody_may_chat(rse, server):
    await rse.join(server, "ana")
    assert (await rse("group", "create", "Notices", "--chat-policy", "nobody")).code == 0
    closed = await rse("chat", "Notices", "anyone?")
    assert closed.code == 1
    assert closed.err == (
        "rse: your message to Notices (anyone?) was refused:"
        " in this group, nobody may chat: it is closed\n"
    )
    assert "moderators" not in closed.err


async def test_ca_file_missing_and_wss_to_a_plain_server_say_what_happened(rse, server, tmp_path):
    missing = tmp_path / "nowhere" / "ca.pem"
    login = ("login", server.url, "--name", "ana", "--password-stdin")
    no_ca = await rse(*login, "--ca", str(missing), stdin=PASSWORD + "\n")
    assert (no_ca.code, no_ca.err) == (2, f"rse: the CA file {missing} does not exist\n")
    wss = server.url.replace("ws://", "wss://")
    plain = await rse("login", wss, "--name", "ana", "--password-stdin", stdin=PASSWORD + "\n")
    assert plain.code == 3
    assert plain.err.startswith(f"rse: the TLS handshake with {wss} failed (")
    assert plain.err.endswith("is it a plain server? its address would start with ws://\n")
    assert "None" not in plain.err
    web = server.url.replace("ws://", "http://")
    for given, said in (
        (web, f"{web} is a web address; the server's is {server.url}"),
        (
            server.url[len("ws://") : -1],
            f"{server.url[len('ws://') : -1]!r} is not a server address:"
            f" write it {server.url} (wss:// if the server uses TLS)",
        ),
    ):
        bad = await rse("login", given, "--name", "ana", "--password-stdin")
        assert (bad.code, bad.err) == (2, f"rse: {said}\n")


async def test_tail_refuses_a_negative_or_non_ascii_count(rse, server):
    await rse.join(server, "ana")
    assert (await rse("group", "create", "Ops")).code == 0
    for count in ("-5", "¹", "٣", "99999999999999999999999"):
        bad = await rse("tail", "Ops", "--no-follow", "-n", count)
        assert bad.code == 2, (count, bad)
        assert f"-n/--lines: {count!r} is not a whole number from 0 to 1000000" in bad.err


async def test_tail_shows_an_open_group_one_has_not_joined(rse, server):
    await rse.join(server, "ana")
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="Lobby", cid="g")).group
    for n in range(3):
        await bob.conn.call(SendChat, group=g, text=f"hello {n}", cid=f"m{n}")
    shown = await rse("tail", "Lobby", "--no-follow", "-n", "2")
    assert (shown.code, shown.err) == (0, "")
    assert [LINE.match(x).group(2, 3) for x in shown.out.splitlines()] == [
        ("bob", "hello 1"),
        ("bob", "hello 2"),
    ]
    follow = await rse("tail", "Lobby")
    assert follow.code == 1
    assert len(follow.out.splitlines()) == 3
    assert follow.err == (
        "rse: you are not a member of Lobby: join it to follow it live (rse group join Lobby)\n"
    )
    await bob.conn.call(CreateGroup, name="Board", visibility="private", cid="p")
    private = await rse("tail", "Board", "--no-follow")
    assert (private.code, private.out) == (1, "")
    assert private.err == (
        "rse: Board is private: only its members read it (ask to join: rse group request Board)\n"
    )
    await bob.close()


async def test_tail_says_when_it_has_nothing_to_show(rse, tmp_path):
    srv = RseServer(config(tmp_path / "s.db"))
    await srv.start()
    await rse.join(srv, "ana")
    assert (await rse("group", "create", "Empty")).code == 0
    assert (await rse("group", "create", "Busy")).code == 0
    assert (await rse("chat", "Busy", "one")).code == 0
    assert (await rse("group", "create", "Quiet Room")).code == 0
    quiet = await rse("tail", "quiet room", "--no-follow")  # online, nothing yet: say so
    assert (quiet.code, quiet.out) == (0, "")
    assert quiet.err == (
        "rse: no chat messages in Quiet Room yet (its feed: rse tail 'quiet room' --feed)\n"
    )
    await srv.stop()
    empty = await rse("tail", "Empty", "--no-follow", "--timeout", "1")
    assert empty.code == 3 and empty.out == ""
    assert empty.err.endswith("; no cached messages of Empty\n"), empty.err
    busy = await rse("tail", "Busy", "--no-follow", "--timeout", "1")
    assert busy.code == 3 and busy.out.endswith("ana: one\n")
    assert busy.err.endswith("; showing cached messages\n"), busy.err


async def test_tail_n_on_a_fresh_profile_fetches_older_pages(rse, server):
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="Busy", cid="g")).group
    sent = [
        (await bob.conn.call(SendChat, group=g, text=f"m{n}", cid=f"c{n}")).seq for n in range(250)
    ]
    conn = open_db(server.config.db_path)
    try:
        code = mint_invite(conn, admin=False, hours=1, groups=[g])
    finally:
        conn.close()
    joined = await rse(
        "join", server.url, code, "--name", "ana", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert joined.code == 0, joined
    tail = await rse("tail", "Busy", "--no-follow", "-n", "200")
    assert tail.code == 0, tail.err
    seqs = [int(LINE.match(x).group(1)) for x in tail.out.splitlines()]
    assert seqs == sent[-200:]
    await bob.close()


async def test_group_add_rule_server_help_and_readme_agree(rse, server, tmp_path):
    """Moderators and site admins add people to any group they manage; in an open
    group any member may add people too; only moderators name moderators."""
    await rse.join(server, "ana")
    bob = await new_user(server, "bob")
    await new_user(server, "carl")
    await bob.conn.call(CreateGroup, name="Lobby", cid="l")
    board = (await bob.conn.call(CreateGroup, name="Board", visibility="private", cid="b")).group
    assert (await rse("group", "join", "Lobby")).code == 0
    await bob.conn.call(AddMember, group=board, user=_user_id(rse), cid="a")
    added = await rse("group", "add", "Lobby", "carl")
    assert (added.code, added.err) == (0, "")
    assert (await rse("group", "members", "Lobby")).out.split() == ["ana", "bob", "carl"]
    as_mod = await rse("group", "add", "Lobby", "carl", "--moderator")
    assert as_mod.code == 1
    assert as_mod.err.endswith("only the group's moderators may name moderators\n")
    private = await rse("group", "add", "Board", "carl")
    assert private.code == 1
    assert private.err.endswith("only the group's moderators may add people to a private group\n")
    outsider = Rse(tmp_path / "dora")
    await outsider.join(server, "dora")
    stranger = await outsider("group", "add", "Lobby", "dora")
    assert stranger.code == 1
    assert stranger.err.endswith("join the group before adding people to it\n")
    helptext = (await rse("group", "add", "--help")).out
    assert "any member, to an open group" in " ".join(helptext.split())
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    assert "in an open group any member may add people too" in readme
    await bob.close()


def _user_id(rse: Rse) -> int:
    """The id the server gave the profile's user (kept in its settings)."""
    [settings] = (rse.home / "profiles").glob("*/settings.json")
    return int(json.loads(settings.read_text())["user"])


def _all_actions(
    parser: argparse.ArgumentParser, path: str = ""
) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.extend(_all_actions(child, f"{path} {name}"))
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            found.append((path, action))
    return found


def test_every_option_and_argument_has_help():
    for prog, parser in (("rse", rse_parser()), ("rse-server", server_parser())):
        missing = [
            f"{prog}{path} {action.dest}"
            for path, action in _all_actions(parser)
            if not action.help or action.help == argparse.SUPPRESS
        ]
        assert not missing, missing


def test_rse_help_says_plain_rse_opens_the_app():
    parser = rse_parser()
    text = " ".join(parser.format_help().split())
    assert "Plain 'rse', with no command, opens the app on the saved profile" in text
    assert "3 server unreachable" in text


@pytest.mark.parametrize(
    ("raised", "code", "said"),
    [
        (Offline("not connected"), 3, "the connection to the server dropped; try again"),
        (ConnectionLost("closed"), 3, "the connection to the server closed before it answered"),
        (ValueError("a bug"), 1, "internal error: ValueError: a bug (RSE_DEBUG=1 shows where)"),
    ],
)
def test_a_failure_midway_is_one_line_and_an_exit_code(monkeypatch, capsys, raised, code, said):
    async def failing(args: argparse.Namespace) -> int:
        raise raised

    monkeypatch.delenv("RSE_DEBUG", raising=False)
    monkeypatch.setitem(cli.ASYNC_COMMANDS, "sync", failing)
    assert cli.main(["sync"]) == code
    assert capsys.readouterr().err == f"rse: {said}\n"
    monkeypatch.setenv("RSE_DEBUG", "1")
    if code == 1:
        with pytest.raises(ValueError, match="a bug"):
            cli.main(["sync"])
