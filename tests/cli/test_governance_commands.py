"""The governance commands of ``rse`` and ``rse-server``, end to end."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from .conftest import Rse


def _server_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_tree_private_requests_and_moderation(rse, server, tmp_path):
    bob = Rse(tmp_path / "bob-home")
    await rse.join(server, "ana")
    await bob.join(server, "bob")
    assert (await rse("group", "create", "Engineering")).code == 0
    made = await rse(
        "group",
        "create",
        "SRE",
        "--parent",
        "Engineering",
        "--visibility",
        "private",
        "--post-policy",
        "moderators",
    )
    assert made.code == 0, made.err
    tree = await bob("group", "tree")
    assert tree.code == 0
    assert tree.out.splitlines() == [
        "Engineering  (open)",
        "  SRE  (private, announcements)",
    ]
    refused = await bob("group", "join", "SRE")
    assert refused.code == 1 and "ask to join" in refused.err
    asked = await bob("group", "request", "SRE")
    assert asked.code == 0, asked.err
    assert "1 requests" in (await rse("group", "tree")).out
    assert (await rse("group", "approve", "SRE", "bob")).code == 0
    members = await rse("group", "members", "SRE")
    assert members.out.split() == ["ana", "bob"]
    posted = await bob("post", "SRE", "can I announce?")
    assert posted.code == 1 and "moderators" in posted.err
    assert (await bob("chat", "SRE", "hello team")).code == 0
    assert (await rse("group", "add", "SRE", "bob", "--moderator")).code == 0
    assert (await bob("post", "SRE", "now I can")).code == 0
    assert (await rse("group", "remove", "SRE", "bob")).code == 0
    after = await bob("tail", "SRE", "--no-follow")
    assert after.code == 1 and "content is for its members" in after.err
    nobody = await rse("group", "add", "SRE", "zed")
    assert (nobody.code, nobody.err) == (1, "rse: no such user: zed\n")


async def test_secret_groups_are_unknown_to_others(rse, server, tmp_path):
    bob = Rse(tmp_path / "bob-home")
    await rse.join(server, "ana")
    await bob.join(server, "bob")
    assert (await rse("group", "create", "Board", "--visibility", "secret")).code == 0
    for args in (
        ("group", "join", "Board"),
        ("group", "request", "Board"),
        ("chat", "Board", "hi"),
        ("group", "members", "Board"),
    ):
        result = await bob(*args)
        assert (result.code, result.err) == (1, "rse: no such group: Board\n"), args
    assert "Board" not in (await bob("group", "tree")).out
    assert "Board" in (await rse("group", "tree")).out


async def test_direct_messages_and_directory(rse, server, tmp_path):
    bob = Rse(tmp_path / "bob-home")
    await rse.join(server, "ana")
    await bob.join(server, "bob")
    await rse("group", "create", "Platform")
    sent = await rse("dm", "bob", "lunch at noon?")
    assert sent.code == 0, sent.err
    assert (await bob("sync")).code == 0
    db = str(server.config.db_path)
    await asyncio.to_thread(_server_cli, "badge", "ana", "ambassador", "--db", db)
    everyone = await bob("directory")
    assert everyone.code == 0
    assert everyone.out.splitlines() == ["ana [ambassador]  (Platform)", "bob"]
    ambassadors = await bob("directory", "--ambassadors")
    assert ambassadors.out.splitlines() == ["ana [ambassador]  (Platform)"]
    assert (await bob("directory", "zz-nobody")).out == ""
    # The direct chat is not a group anyone else can list.
    assert "direct" not in (await rse("group", "list")).out
    missing = await rse("dm", "zed", "hi")
    assert (missing.code, missing.err) == (1, "rse: no such user: zed\n")


async def test_charter_blocks_writes_until_accepted(rse, server, tmp_path):
    await rse.join(server, "ana")
    await rse("group", "create", "Ops")
    charter = tmp_path / "charter.md"
    charter.write_text("# Charter\n\nNo secrets in open groups.\n")
    db = str(server.config.db_path)
    published = await asyncio.to_thread(_server_cli, "charter", "set", str(charter), "--db", db)
    assert published.returncode == 0
    blocked = await rse("chat", "Ops", "written before accepting")
    assert blocked.code == 1 and "rse charter --accept" in blocked.err
    shown = await rse("charter")
    assert shown.code == 1 and "No secrets in open groups." in shown.out
    assert "not accepted" in shown.out
    accepted = await rse("charter", "--accept")
    assert accepted.code == 0, accepted.err
    tail = await rse("tail", "Ops", "--no-follow")
    assert tail.out.rstrip().endswith("ana: written before accepting")  # queued, then sent
    assert (await rse("charter")).code == 0
