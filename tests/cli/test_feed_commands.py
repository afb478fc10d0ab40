"""The feed on the command line, against a real server with a second user
on the raw protocol: titled posts, comments, replies, edits, polls and
votes, acknowledgements and their status, the inbox, featuring; what
`rse show` prints; bad input refused before anything is sent."""

from __future__ import annotations

import json
import re
import socket

from rse_tui.protocol import (
    Acknowledge,
    ChatEvent,
    CommentEvent,
    CreateGroup,
    EditEvent,
    GroupSettings,
    JoinGroup,
    PostEvent,
    React,
    SendChat,
    SendComment,
    SendPost,
    Sync,
    Vote,
    VoteEvent,
)

from ..helpers import group_named, new_user
from ..server.test_governance import make_admin


async def _setup(rse, server):
    await rse.join(server, "ana")
    assert (await rse("group", "create", "Ops")).code == 0
    bob = await new_user(server, "bob")
    ops = await group_named(bob.conn, "Ops")
    await bob.conn.call(JoinGroup, group=ops, cid="j")
    await bob.conn.call(Sync, since=0)
    return bob, ops


async def test_a_titled_post_its_comments_and_show(rse, server):
    bob, _ = await _setup(rse, server)
    posted = await rse(
        "post", "Ops", "--title", "Friday's migration", stdin="# Plan\n\n- db first\n"
    )
    assert posted.code == 0, posted.err
    post = await bob.pushes.next(PostEvent)
    assert (post.title, post.text) == ("Friday's migration", "# Plan\n\n- db first")
    await bob.conn.call(SendComment, post=post.seq, text="I take the \x1b[31mdb", cid="c1")
    await bob.conn.call(React, target=post.seq, emoji="+1", cid="r1")
    said = await rse("comment", f"#{post.seq}", "thanks bob")
    assert said.code == 0, said.err
    assert (await bob.pushes.next(CommentEvent)).text == "thanks bob"
    shown = await rse("show", f"#{post.seq}")
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert re.match(rf"#{post.seq} \S+ \S+ ana in Ops \(post\)", lines[0]), lines[0]
    assert lines[1:5] == ["Friday's migration", "# Plan", "", "- db first"]
    assert ":+1: 1 (bob)" in lines
    assert "2 comments:" in lines
    assert "\x1b" not in shown.out and "I take the ␛[31mdb" in shown.out
    assert shown.out.index("I take the") < shown.out.index("thanks bob")
    # The feed's tail: the title first, the comment count last.
    tail = await rse("tail", "Ops", "--feed", "--no-follow")
    assert f"#{post.seq} " in tail.out and "Friday's migration — # Plan" in tail.out
    assert "[2 comments]" in tail.out
    # Edit the post: text and title.
    edited = await rse("edit", f"#{post.seq}", "# Plan v2", "--title", "Migration")
    assert edited.code == 0, edited.err
    change = await bob.pushes.next(EditEvent)
    assert (change.text, change.title) == ("# Plan v2", "Migration")
    assert "edited" in (await rse("show", str(post.seq))).out.splitlines()[0]
    await bob.close()


async def test_reply_to_a_chat_message(rse, server):
    bob, ops = await _setup(rse, server)
    asked = (await bob.conn.call(SendChat, group=ops, text="who has db3?", cid="c")).seq
    replied = await rse("reply", f"#{asked}", "me")
    assert replied.code == 0, replied.err
    answer = await bob.pushes.next(ChatEvent)
    assert (answer.reply, answer.text) == (asked, "me")
    shown = await rse("show", f"#{asked}")
    assert "1 reply:" in shown.out and shown.out.rstrip().endswith("me")
    # A post takes comments, not replies.
    post = (await bob.conn.call(SendPost, group=ops, text="notes", cid="p")).seq
    wrong = await rse("reply", f"#{post}", "x")
    assert wrong.code == 1 and "rse comment" in wrong.err
    missing = await rse("show", f"#{post + 1000}")
    assert missing.code == 1 and f"unknown message #{post + 1000}" in missing.err
    await bob.close()


async def test_poll_vote_and_results(rse, server):
    bob, _ops = await _setup(rse, server)
    made = await rse(
        "poll",
        "Ops",
        "Retro day?",
        "--option",
        "Tue",
        "--option",
        "Wed",
        "--option",
        "Thu",
        "--multiple",
    )
    assert made.code == 0, made.err
    poll = await bob.pushes.next(PostEvent)
    assert poll.poll.options == ["Tue", "Wed", "Thu"] and poll.poll.multiple
    await bob.conn.call(Vote, target=poll.seq, choices=[2], cid="v")
    voted = await rse("vote", f"#{poll.seq}", "1", "3")
    assert voted.code == 0, voted.err
    told = await bob.pushes.until(lambda f: isinstance(f, VoteEvent) and f.user != bob.user)
    assert (told.choices, told.counts) == ([0, 2], [1, 0, 2])
    shown = (await rse("show", str(poll.seq))).out
    assert "poll (several choices, 2 voters):" in shown
    assert re.search(r"1\. Tue\s+1 #+\s+\(your vote\)", shown), shown
    assert re.search(r"3\. Thu\s+2 #+\s+\(your vote\)", shown), shown
    assert "bob voted 3" in shown and "ana voted 1, 3" in shown
    # Bad input, refused before anything is sent.
    for args, word in (
        (("vote", str(poll.seq), "0"), "option number"),
        (("poll", "Ops", "q", "--option", "a"), "at least two"),
        (("poll", "Ops", "q", "--option", "a", "--option", "b", "--closes", "2001-01-01"), "past"),
        (("poll", "Ops", "q", "--option", "a", "--option", "b", "--closes", "soon"), "ISO time"),
    ):
        result = await rse(*args)
        assert result.code == 2 and word in result.err, (args, result.err)
    # A fourth option does not exist: said in the numbers rse show prints.
    wrong = await rse("vote", str(poll.seq), "4")
    assert wrong.code == 2 and wrong.err == f"rse: the poll #{poll.seq} has options 1 to 3\n"
    await bob.close()


async def test_a_poll_of_twenty_options_is_numbered_in_one_column(rse, server):
    bob, _ops = await _setup(rse, server)
    options = [f"option {n}" for n in range(1, 21)]
    made = await rse("poll", "Ops", "Which?", *(a for o in options for a in ("--option", o)))
    assert made.code == 0, made.err
    poll = await bob.pushes.next(PostEvent)
    assert poll.poll.options == options
    voted = await rse("vote", f"#{poll.seq}", "12")
    assert voted.code == 0, voted.err
    told = await bob.pushes.until(lambda f: isinstance(f, VoteEvent))
    assert told.choices == [11]  # the twelfth, as shown
    shown = await rse("show", str(poll.seq))
    lines = shown.out.splitlines()
    start = lines.index("poll (1 voter):") + 1
    rows = lines[start : start + 20]
    # Every number right-aligned before its dot, every option in the same column.
    assert [row[:6] for row in rows] == [f"  {n:>2}. " for n in range(1, 21)]
    assert rows[0] == "   1. option 1      0"
    assert rows[11] == "  12. option 12     1 ####################  (your vote)"
    assert rows[19] == "  20. option 20     0"
    assert "  ana voted 12" in lines
    # Past the last option: refused before anything is sent, in the same numbers.
    for number, said in (("21", "1 to 20, as rse show prints"), ("0", "1 to 20")):
        wrong = await rse("vote", str(poll.seq), number)
        assert wrong.code == 2 and said in wrong.err, wrong.err
    await bob.close()


async def test_anonymous_poll_shows_counts_and_that_i_voted(rse, server):
    bob, _ops = await _setup(rse, server)
    await rse("poll", "Ops", "Keep the rota?", "--option", "keep", "--option", "drop",
              "--anonymous", "--closes", "2099-01-01T00:00")  # fmt: skip
    poll = await bob.pushes.next(PostEvent)
    assert poll.poll.anonymous and poll.poll.closes
    await bob.conn.call(Vote, target=poll.seq, choices=[1], cid="v")
    assert (await rse("vote", str(poll.seq), "1")).code == 0
    again = await rse("vote", str(poll.seq), "2")
    assert again.code == 1 and "final" in again.err
    shown = (await rse("show", str(poll.seq))).out
    assert "poll (anonymous, closes 2099-01-01 00:00, 2 voters):" in shown
    assert "voted 1" not in shown and "bob voted" not in shown
    await bob.close()


async def test_acknowledgements_and_their_status(rse, server):
    bob, ops = await _setup(rse, server)
    cat = await new_user(server, "cat")
    await cat.conn.call(JoinGroup, group=ops, cid="j")
    made = await rse("post", "Ops", "VPN changes Monday", "--ack")
    assert made.code == 0, made.err
    post = await bob.pushes.next(PostEvent)
    assert made.out == f"#{post.seq}\n"  # what it got, for the next command
    assert post.ack
    await bob.conn.call(Acknowledge, target=post.seq, cid="a")
    status = await rse("ack", f"#{post.seq}", "--status")
    assert status.code == 0, status.err
    assert status.out.splitlines() == ["acknowledged (1): bob", "not yet (1): cat"]
    # Bob's view: he sees that he did; and he cannot ask who else did.
    bob_post = (await bob.conn.call(SendPost, group=ops, text="read me", ack=True, cid="p")).seq
    inbox = await rse("inbox", "--unread")
    assert f"#{bob_post}" in inbox.out and "ack" in inbox.out
    assert (await rse("ack", f"#{bob_post}")).code == 0
    assert f"#{bob_post}" not in (await rse("inbox", "--unread", "--keep")).out
    await bob.close()
    await cat.close()


async def test_inbox_mentions_replies_reactions_then_read(rse, server):
    bob, ops = await _setup(rse, server)
    mine = await rse("chat", "Ops", "deploying db3")
    assert mine.code == 0
    tail = await rse("tail", "Ops", "--no-follow")
    my_seq = int(tail.out.split()[0][1:])
    await bob.conn.call(SendChat, group=ops, text="@ANA look", cid="m")
    await bob.conn.call(SendChat, group=ops, text="careful", reply=my_seq, cid="r")
    await bob.conn.call(React, target=my_seq, emoji="eyes", cid="k")
    await bob.conn.call(SendChat, group=ops, text="@ops all hands", cid="g")
    inbox = await rse("inbox")
    assert inbox.code == 0, inbox.err
    lines = inbox.out.splitlines()
    assert [line.split()[2] for line in lines] == ["mention", "reaction", "reply", "mention"]
    assert all(line.startswith("*") for line in lines)
    assert ":eyes:" in lines[1] and "bob: @ANA look" in lines[3]
    # Read now: nothing unread, here or on another device of ana's.
    assert (await rse("inbox", "--unread")).err.strip() == "rse: nothing unread in your inbox"
    await bob.close()


async def test_feature_is_for_site_admins(rse, server):
    bob, ops = await _setup(rse, server)
    post = (await bob.conn.call(SendPost, group=ops, text="we shipped", cid="p")).seq
    refused = await rse("feature", f"#{post}")
    assert refused.code == 1 and "site admins" in refused.err
    make_admin(server.config.db_path, "ana")
    assert (await rse("feature", f"#{post}")).code == 0
    assert (await rse("feature", f"#{post}", "--remove")).code == 0
    await bob.close()


def _point_at(rse, url: str) -> str:
    """Point the profile at ``url`` (a port nobody listens on: offline); the old url."""
    [settings] = (rse.home / "profiles").glob("*/settings.json")
    data = json.loads(settings.read_text())
    settings.write_text(json.dumps({**data, "url": url}))
    return str(data["url"])


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{sock.getsockname()[1]}/"


async def test_show_marks_a_comment_written_offline_then_refused(rse, server):
    await rse.join(server, "ana")
    bob = await new_user(server, "bob")
    ops = (await bob.conn.call(CreateGroup, name="Ops", cid="g")).group
    assert (await rse("group", "join", "Ops")).code == 0
    post = (await bob.conn.call(SendPost, group=ops, text="rollout plan", cid="p")).seq
    assert (await rse("show", f"#{post}")).code == 0  # cached, to be read offline
    # Offline: the comment waits in the outbox, and rse show says so.
    url = _point_at(rse, _dead_url())
    queued = await rse("comment", f"#{post}", "I take the \x1b[2Jdb", "--timeout", "1")
    assert queued.code == 3, queued.err
    waiting = await rse("show", f"#{post}", "--timeout", "1")
    assert re.search(r"^  #- \S+ \S+ \(waiting\) ana:$", waiting.out, re.M), waiting.out
    # Meanwhile only moderators may comment: back online, the server refuses it.
    await bob.conn.call(GroupSettings, group=ops, comment_policy="moderators", cid="s")
    _point_at(rse, url)
    synced = await rse("sync")
    assert "was refused" in synced.err and "kept there, marked refused" in synced.err
    shown = await rse("show", f"#{post}")
    assert shown.code == 0, shown.err
    why = "in this group, only its moderators may comment or react"
    lines = shown.out.splitlines()
    marked = [n for n, line in enumerate(lines) if "(refused" in line]
    assert len(marked) == 1, shown.out
    mark = marked[0]
    assert re.fullmatch(rf"  #- \S+ \S+ \(refused, not sent: {why}\) ana:", lines[mark])
    assert lines[mark + 1] == "    I take the \u241b[2Jdb"  # its text, under the mark
    assert "\x1b" not in shown.out and "(waiting)" not in shown.out
    await bob.close()
