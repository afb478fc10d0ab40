"""RSE_ASCII=1 (and NO_COLOR): every symbol the commands draw is ASCII.

Real commands against a real server, on content full of what people write
(accents, emoji, dashes, line breaks, escape codes, long lines): the output,
less the people's own words, is pure ASCII; their words are left as they
wrote them; the stand-ins for their control characters are ASCII too.
"""

from __future__ import annotations

import re

from rse_tui.glyphs import ASCII, UNICODE, Glyphs, plain
from rse_tui.protocol import (
    Acknowledge,
    JoinGroup,
    Poll,
    React,
    SendChat,
    SendComment,
    SendPost,
    SetProfile,
)

from ..helpers import group_named, new_user

#: What the people wrote that is not ASCII (as they wrote it: left alone).
THEIRS = (
    "Étape — «ok» 🎉",
    "Plan ✓ 日本語",
    "naïve",
    "SRE — on call ☕",
    "☕ café…",
    "Tue ✓",
)


def _not_theirs(text: str) -> str:
    for said in THEIRS:
        text = text.replace(said, "")
    return text


def _assert_ascii(out: str) -> None:
    bad = [line for line in out.splitlines() if not _not_theirs(line).isascii()]
    assert not bad, bad


async def _content(rse, server):
    """ana (the rse command) and bob (the raw protocol) in Ops, and what they wrote."""
    await rse.join(server, "ana")
    assert (await rse("group", "create", "Ops")).code == 0
    bob = await new_user(server, "bob")
    ops = await group_named(bob.conn, "Ops")
    await bob.conn.call(JoinGroup, group=ops, cid="j")
    await bob.conn.call(SetProfile, title="SRE — on call ☕")
    post = (
        await bob.conn.call(
            SendPost,
            group=ops,
            title="Plan ✓ 日本語",
            text="Étape — «ok» 🎉\nline two \x1b[31mred\x7f",
            cid="p",
        )
    ).seq
    await bob.conn.call(SendComment, post=post, text="naïve\tquestion", cid="c")
    await bob.conn.call(React, target=post, emoji="tada", cid="r1")
    poll = await bob.conn.call(
        SendPost, group=ops, text="When?", poll=Poll(options=["Tue ✓", "Wed"]), cid="q"
    )
    assert (await rse("chat", "Ops", "deploying db3")).code == 0
    mine = int((await rse("tail", "Ops", "--no-follow")).out.split()[0][1:])
    await bob.conn.call(SendChat, group=ops, text="@ana ☕ café… look " + "x" * 200, cid="m")
    await bob.conn.call(SendChat, group=ops, text="careful\nreally", reply=mine, cid="re")
    await bob.conn.call(React, target=mine, emoji="eyes", cid="r2")
    made = await rse("post", "Ops", "read me", "--ack")
    announcement = int(made.out.strip()[1:])
    await bob.conn.call(Acknowledge, target=announcement, cid="a")
    return bob, post, poll.seq, mine, announcement


async def test_every_command_draws_ascii_under_rse_ascii(rse, server):
    bob, post, poll, mine, announcement = await _content(rse, server)
    assert (await rse("vote", str(poll), "1")).code == 0
    rse.env["RSE_ASCII"] = "1"
    outputs = {}
    for args in (
        ("show", str(post)),
        ("show", str(poll)),
        ("show", str(mine)),
        ("tail", "Ops", "--no-follow"),
        ("tail", "Ops", "--feed", "--no-follow"),
        ("inbox", "--keep"),
        ("group", "list"),
        ("group", "tree"),
        ("group", "members", "Ops"),
        ("directory",),
        ("ack", str(announcement), "--status"),
    ):
        result = await rse(*args)
        assert result.code == 0, (args, result.err)
        _assert_ascii(result.out + result.err)
        outputs[" ".join(args)] = result.out
    shown = outputs[f"show {post}"]
    # Their words as they wrote them; the stand-ins for their controls in ASCII.
    assert "Plan ✓ 日本語" in shown and "Étape — «ok» 🎉" in shown
    assert "line two ^[[31mred^?" in shown.splitlines()
    assert "    naïve\tquestion" in shown.splitlines()  # a tab kept where lines are kept
    assert ":tada: 1 (bob)" in shown
    assert re.search(r"1\. Tue ✓\s+1 #+\s+\(your vote\)", outputs[f"show {poll}"])
    # One line each: a line break as " / ", the title before " -- ".
    assert "careful / really" in outputs["tail Ops --no-follow"]
    feed = outputs["tail Ops --feed --no-follow"]
    assert "bob: Plan ✓ 日本語 -- Étape — «ok» 🎉 / line two ^[[31mred^? [1 comment]" in feed
    # Shortened with "...", the directory's title after " -- ".
    [mention] = [line for line in outputs["inbox --keep"].splitlines() if "mention" in line]
    assert mention.endswith("x...") and "☕ café…" in mention
    assert "bob -- SRE — on call ☕" in outputs["directory"]
    # An error echoing what was typed: ASCII too.
    wrong = await rse("tail", "\x1b[2J" + "y" * 100, "--no-follow")
    assert wrong.code == 1 and wrong.err == f"rse: no such group: ^[[2J{'y' * 55}...\n"
    await bob.close()


async def test_no_color_draws_ascii_too_and_plain_draws_unicode(rse, server):
    bob, post, _poll, _mine, _ack = await _content(rse, server)
    plain_run = await rse("tail", "Ops", "--feed", "--no-follow")
    assert "Plan ✓ 日本語 \u2014 Étape" in plain_run.out and "\u23ce line two \u241b[31m" in (
        plain_run.out
    )
    rse.env["NO_COLOR"] = ""  # set, to anything (no-color.org)
    no_color = await rse("tail", "Ops", "--feed", "--no-follow")
    assert "Plan ✓ 日本語 -- Étape — «ok» 🎉 / line two ^[[31m" in no_color.out
    _assert_ascii(no_color.out + no_color.err)
    shown = await rse("show", str(post))
    _assert_ascii(shown.out + shown.err)
    await bob.close()


def test_one_rule_for_every_symbol():
    assert plain({"RSE_ASCII": "1"}) and plain({"NO_COLOR": ""}) and not plain({})
    assert not plain({"RSE_ASCII": "0"})
    assert Glyphs.from_env({"RSE_ASCII": "1"}) == ASCII
    assert (ASCII.dash, ASCII.more, UNICODE.dash, UNICODE.more) == ("--", "...", "—", "…")
    hostile = "a\x1b[2J\x07\x9b\u202eb\r\nc"
    assert ASCII.line(hostile) == "a^[[2J^G??b / c"
    assert ASCII.text(hostile) == "a^[[2J^G??b^M\nc"
    assert UNICODE.line(hostile) == "a␛[2J␇\ufffd\ufffdb ⏎ c"
    assert ASCII.cut("é" * 10, 4) == "éééé..." and ASCII.cut("é" * 5, 4) == "é" * 5
