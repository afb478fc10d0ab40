"""The feed's conversation: titled posts, comments under the comment policy,
threads, polls (anonymous ones checked in the database), acknowledgements,
read markers that follow the user, posts featured for everyone, the home
portal. Each refusal names its reason; a secret group's post is as unknown
as a missing one."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import time
from pathlib import Path

import pytest

from rse_tui.protocol import (
    AckEvent,
    Acknowledge,
    AckStatus,
    CommentEvent,
    CreateGroup,
    EditMessage,
    ErrorCode,
    Feature,
    FeatureEvent,
    GetHome,
    GetThread,
    GroupSettings,
    History,
    JoinGroup,
    MarkRead,
    PinMessage,
    Poll,
    PostEvent,
    ReadEvent,
    SendChat,
    SendComment,
    SendPost,
    Sync,
    Vote,
    VoteEvent,
)
from server import storage
from server.app import RseServer

from ..helpers import config, new_user, reconnect, refused
from .test_governance import make_admin


def _rows(db_path, sql: str, *args: object) -> list[tuple]:
    db = sqlite3.connect(db_path)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


async def _group(owner, name: str, *joiners, **settings) -> int:
    g = (
        await owner.conn.call(CreateGroup, name=name, cid=f"g-{abs(hash(name))}", **settings)
    ).group
    for n, who in enumerate(joiners):
        await who.conn.call(JoinGroup, group=g, cid=f"j-{abs(hash(name))}-{n}")
    return g


def _events(pushes, kind) -> list:
    return [e for f in pushes.frames for e in getattr(f, "events", [f]) if isinstance(e, kind)]


async def test_a_titled_post_takes_comments_in_order_and_its_thread_shows_them(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = await _group(ana, "Ops", bob)
    await bob.conn.call(Sync, since=0)
    post = await ana.conn.call(
        SendPost, group=g, text="# Plan\n\n- db first", title="Friday's migration", cid="p"
    )
    live = await bob.pushes.next(PostEvent)
    assert (live.seq, live.title, live.text) == (
        post.seq,
        "Friday's migration",
        "# Plan\n\n- db first",
    )
    first = await bob.conn.call(SendComment, post=post.seq, text="I take the db", cid="c1")
    again = await bob.conn.call(SendComment, post=post.seq, text="I take the db", cid="c1")
    assert again.seq == first.seq
    second = await ana.conn.call(SendComment, post=post.seq, text="thanks", cid="c2")
    told = await bob.pushes.next(CommentEvent)
    assert (told.seq, told.post, told.user) == (second.seq, post.seq, ana.user)  # no echo
    page = await bob.conn.call(GetThread, target=post.seq)
    assert [e.seq for e in page.events] == [post.seq, first.seq, second.seq]
    assert [t.count for t in page.threads if t.target == post.seq] == [2]
    assert {u.name for u in page.users} == {"ana", "bob"}
    # Paging: one comment at a time, after the last seen.
    one = await bob.conn.call(GetThread, target=post.seq, limit=1)
    assert ([e.seq for e in one.events], one.more) == ([post.seq, first.seq], True)
    rest = await bob.conn.call(GetThread, target=post.seq, after=first.seq, limit=1)
    assert ([e.seq for e in rest.events], rest.more) == ([post.seq, second.seq], False)
    # A comment's thread is its post's.
    via_comment = await ana.conn.call(GetThread, target=second.seq)
    assert via_comment.events[0].seq == post.seq
    # The feed's page counts comments.
    feed = await bob.conn.call(History, group=g, kind="p")
    assert [(t.target, t.count) for t in feed.threads] == [(post.seq, 2)]
    # Edit: text and title, shown edited; the title can go.
    await ana.conn.call(EditMessage, target=post.seq, text="# Plan v2", title="Migration", cid="e1")
    feed = await bob.conn.call(History, group=g, kind="p")
    assert (feed.events[0].title, feed.events[0].text) == ("Migration", "# Plan v2")
    assert feed.events[0].edited is not None
    await ana.conn.call(EditMessage, target=post.seq, text="# Plan v3", title="", cid="e2")
    assert (await bob.conn.call(History, group=g, kind="p")).events[0].title is None
    err = await refused(
        bob.conn.call(EditMessage, target=first.seq, text="x", title="t", cid="e3"),
        ErrorCode.BAD_FIELD,
    )
    assert "only a post has a title" in err.message
    await bob.conn.call(EditMessage, target=first.seq, text="I take the db and cache", cid="e4")
    page = await ana.conn.call(GetThread, target=post.seq)
    assert page.events[1].text == "I take the db and cache"
    for c in (ana, bob):
        await c.close()


async def test_who_may_comment(server):
    mod = await new_user(server, "mod")
    ana = await new_user(server, "ana")
    eve = await new_user(server, "eve")
    g = await _group(mod, "News", ana)
    post = (await mod.conn.call(SendPost, group=g, text="launch", cid="p")).seq
    chat = (await mod.conn.call(SendChat, group=g, text="hi", cid="c")).seq
    err = await refused(
        eve.conn.call(SendComment, post=post, text="me too", cid="e1"), ErrorCode.FORBIDDEN
    )
    assert "join the group" in err.message
    # Only a post takes comments (a chat message takes replies).
    err = await refused(ana.conn.call(SendComment, post=chat, text="x", cid="a0"))
    assert (err.code, err.message) == (ErrorCode.NOT_FOUND, "unknown post")
    await mod.conn.call(GroupSettings, group=g, comment_policy="moderators", cid="s1")
    err = await refused(
        ana.conn.call(SendComment, post=post, text="x", cid="a1"), ErrorCode.FORBIDDEN
    )
    assert "only its moderators" in err.message
    await mod.conn.call(SendComment, post=post, text="pinned answer", cid="m1")
    await mod.conn.call(GroupSettings, group=g, comment_policy="nobody", cid="s2")
    err = await refused(
        mod.conn.call(SendComment, post=post, text="x", cid="m2"), ErrorCode.FORBIDDEN
    )
    assert "nobody may comment" in err.message
    assert _rows(server.config.db_path, "SELECT count(*) FROM events WHERE kind = 'm'") == [(1,)]
    # An open group's thread is readable by anyone; a private one's is not.
    assert len((await eve.conn.call(GetThread, target=post)).events) == 2
    await mod.conn.call(GroupSettings, group=g, visibility="private", cid="s3")
    # ... and, named by its number, it is as unknown as a missing one (a
    # refusal told which numbers are a private group's messages).
    err = await refused(eve.conn.call(GetThread, target=post), ErrorCode.NOT_FOUND)
    missing = await refused(eve.conn.call(GetThread, target=10**9), ErrorCode.NOT_FOUND)
    assert err.message == missing.message
    err = await refused(
        eve.conn.call(SendComment, post=post, text="x", cid="e9"), ErrorCode.NOT_FOUND
    )
    assert (
        err.message
        == (
            await refused(
                eve.conn.call(SendComment, post=10**9, text="x", cid="e10"), ErrorCode.NOT_FOUND
            )
        ).message
    )
    for c in (mod, ana, eve):
        await c.close()


async def test_a_secret_groups_post_is_as_unknown_as_a_missing_one_to_every_request(server):
    boss = await new_user(server, "boss")
    eve = await new_user(server, "eve")
    s = await _group(boss, "Vault", visibility="secret")
    poll = Poll(options=["yes", "no"])
    post = (
        await boss.conn.call(SendPost, group=s, text="merger?", ack=True, poll=poll, cid="p")
    ).seq
    for request, fields in (
        (SendComment, {"post": post, "text": "x", "cid": "e1"}),
        (Vote, {"target": post, "choices": [0], "cid": "e2"}),
        (Acknowledge, {"target": post, "cid": "e3"}),
        (Feature, {"target": post, "cid": "e4"}),
        (GetThread, {"target": post}),
        (AckStatus, {"target": post}),
    ):
        hidden = await refused(eve.conn.call(request, **fields))
        fields = {**fields, **{k: v + 10_000 for k, v in fields.items() if k in ("post", "target")}}
        if "cid" in fields:
            fields["cid"] += "m"
        missing = await refused(eve.conn.call(request, **fields))
        assert (hidden.code, hidden.message) == (missing.code, missing.message), request
        assert hidden.code is ErrorCode.NOT_FOUND
    assert _rows(
        server.config.db_path, "SELECT count(*) FROM events WHERE kind IN ('m','v','a','f')"
    ) == [(0,)]
    for c in (boss, eve):
        await c.close()


async def test_a_poll_counts_votes_a_named_vote_may_change_and_results_come_live(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    cat = await new_user(server, "cat")
    g = await _group(ana, "Team", bob, cat)
    await ana.conn.call(Sync, since=0)
    await bob.conn.call(Sync, since=0)
    options = ["Tue", "Wed", "Thu"]
    p = (
        await ana.conn.call(
            SendPost, group=g, text="retro day?", poll=Poll(options=options, multiple=True), cid="p"
        )
    ).seq
    v1 = await bob.conn.call(Vote, target=p, choices=[0, 2], cid="b1")
    await cat.conn.call(Vote, target=p, choices=[2], cid="c1")
    live = [e for e in [await ana.pushes.next(VoteEvent), await ana.pushes.next(VoteEvent)]]
    assert [(e.user, e.choices, e.counts, e.voters) for e in live] == [
        (bob.user, [0, 2], [1, 0, 1], 1),
        (cat.user, [2], [1, 0, 2], 2),
    ]
    # The voter's own connection hears the results too (its client cannot count them).
    mine = await bob.pushes.next(VoteEvent)
    assert (mine.seq, mine.counts) == (v1.seq, [1, 0, 1])
    # Bob changes his mind: still two voters.
    await bob.conn.call(Vote, target=p, choices=[1], cid="b2")
    page = await cat.conn.call(GetThread, target=p)
    root = page.events[0]
    assert (root.poll.counts, root.poll.voters) == ([0, 1, 1], 2)
    assert [(b.user, b.choices) for b in page.ballots] == [(bob.user, [1]), (cat.user, [2])]
    assert page.voted and not (await ana.conn.call(GetThread, target=p)).voted
    # Bad votes, each with its reason; nothing changes.
    for choices, word in (([], "one or more"), ([1, 1], "one or more"), ([3], "0 to 2")):
        err = await refused(
            ana.conn.call(Vote, target=p, choices=choices, cid=f"x{len(choices)}{sum(choices)}")
        )
        assert err.code is ErrorCode.BAD_FIELD and word in err.message
    single = (
        await ana.conn.call(SendPost, group=g, text="go?", poll=Poll(options=["y", "n"]), cid="q")
    ).seq
    err = await refused(ana.conn.call(Vote, target=single, choices=[0, 1], cid="x2"))
    assert "one choice" in err.message
    chat = (await ana.conn.call(SendChat, group=g, text="hi", cid="c")).seq
    err = await refused(ana.conn.call(Vote, target=chat, choices=[0], cid="x3"))
    assert (err.code, err.message) == (ErrorCode.NOT_FOUND, "unknown poll")
    # The log keeps each voter's newest vote (the newest of all has the results).
    assert _rows(
        server.config.db_path,
        "SELECT count(*) FROM events WHERE kind = 'v' AND ref = ? AND deleted = 0",
        p,
    ) == [(2,)]
    assert v1.seq  # a named vote's receipt is its event
    for c in (ana, bob, cat):
        await c.close()


async def test_a_poll_is_refused_with_its_reason(server):
    ana = await new_user(server, "ana")
    g = await _group(ana, "Team")
    for poll, word in (
        (Poll(options=["one"]), "2 to 20"),
        (Poll(options=[str(n) for n in range(21)]), "2 to 20"),
        (Poll(options=["a", "\x1b[31m"]), "printable"),
        (Poll(options=["a", "b"], closes=1), "future"),
    ):
        err = await refused(
            ana.conn.call(
                SendPost, group=g, text="q", poll=poll, cid=f"p{len(poll.options)}{len(word)}"
            )
        )
        assert err.code is ErrorCode.BAD_FIELD and word in err.message
    assert _rows(server.config.db_path, "SELECT count(*) FROM events WHERE kind = 'p'") == [(0,)]
    await ana.close()


def _wal_size(db: Path) -> int:
    wal = Path(f"{db}-wal")
    return wal.stat().st_size if wal.exists() else 0


@pytest.fixture
async def clocked(tmp_path):
    now = [float(int(time.time()))]
    # Anonymous results are published when the test says (tally_every 0).
    cfg = dataclasses.replace(config(tmp_path / "rse.db"), clock=lambda: now[0], tally_every=0)
    srv = RseServer(cfg)
    await srv.start()
    try:
        yield srv, now
    finally:
        await srv.stop()


async def test_an_anonymous_poll_links_no_voter_to_a_choice_anywhere_in_the_database(clocked):
    server, now = clocked
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    cat = await new_user(server, "cat")
    g = await _group(ana, "Team", bob, cat)
    poll = Poll(options=["keep", "drop"], anonymous=True, closes=int(now[0]) + 3600)
    posted = await ana.conn.call(SendPost, group=g, text="the pager rota?", poll=poll, cid="p")
    p = posted.seq
    await bob.conn.call(Sync, since=0)
    now[0] += 17
    bob_vote = await bob.conn.call(Vote, target=p, choices=[1], cid="bob-vote")
    now[0] += 29
    cat_vote = await cat.conn.call(Vote, target=p, choices=[0], cid="cat-vote")
    # The write-ahead log was emptied after each vote: no history of the list.
    assert await asyncio.to_thread(_wal_size, server.config.db_path) == 0
    # Final: a second vote is refused; the resend of the first answers as before.
    err = await refused(
        bob.conn.call(Vote, target=p, choices=[0], cid="bob-2"), ErrorCode.FORBIDDEN
    )
    assert "final" in err.message
    assert (await bob.conn.call(Vote, target=p, choices=[1], cid="bob-vote")).seq == 0
    assert bob_vote.seq == cat_vote.seq == 0  # the answer says nothing
    # Nothing moves at a vote: no event, no result, no receipt; only a sorted
    # list says who voted.
    db = server.config.db_path
    assert _rows(db, "SELECT count(*) FROM events WHERE kind = 'v'") == [(0,)]
    page = await ana.conn.call(GetThread, target=p)
    assert (page.events[0].poll.counts, page.events[0].poll.voters) == ([0, 0], 0)
    assert _rows(db, "SELECT count(*) FROM receipts WHERE cid IN ('bob-vote', 'cat-vote')") == [
        (0,)
    ]
    (voters,) = _rows(db, "SELECT voters FROM anon_voters WHERE poll = ?", p)
    listed = json.loads(voters[0])
    assert [v[0] for v in listed] == sorted([bob.user, cat.user])
    # Of each vote's client write id, a hash only: an id made of a time (as a
    # client may make it) would tell when (found by an attacker).
    assert not {"bob-vote", "cat-vote"} & {v[1] for v in listed}
    marks = {storage.write_mark("bob-vote"), storage.write_mark("cat-vote")}
    assert {v[1] for v in listed} == marks
    # The batch: both votes counted at once, one event, no voter, the poll's time.
    assert (await server.db.write(storage.publish_tallies)).value == 1
    told = await bob.pushes.until(lambda f: isinstance(f, VoteEvent))
    assert (told.counts, told.voters, told.user, told.choices) == ([1, 1], 2, None, None)
    page = await ana.conn.call(GetThread, target=p)
    assert (page.events[0].poll.counts, page.events[0].poll.voters, page.ballots) == ([1, 1], 2, [])
    assert (await bob.conn.call(GetThread, target=p)).voted
    assert not (await ana.conn.call(GetThread, target=p)).voted
    votes = _rows(db, "SELECT user, ts, body, deleted FROM events WHERE kind = 'v'")
    assert votes == [(0, posted.ts, json.dumps({"n": [1, 1], "vt": 2}, separators=(",", ":")), 0)]
    assert _rows(db, "SELECT * FROM ballots") == []
    assert _rows(db, "PRAGMA secure_delete") == [(1,)]
    # Closed: no more votes.
    dan = await new_user(server, "dan")
    await dan.conn.call(JoinGroup, group=g, cid="j")
    now[0] += 3600
    err = await refused(dan.conn.call(Vote, target=p, choices=[0], cid="d1"), ErrorCode.FORBIDDEN)
    assert "closed" in err.message
    for c in (ana, bob, cat, dan):
        await c.close()


async def test_acknowledgements_reach_the_readers_devices_and_their_status_the_author(server):
    mod = await new_user(server, "mod")
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = await _group(mod, "All hands", ana, bob, post_policy="moderators")
    p = (await mod.conn.call(SendPost, group=g, text="new VPN from Monday", ack=True, cid="p")).seq
    plain = (await mod.conn.call(SendPost, group=g, text="lunch", cid="q")).seq
    phone, phone_pushes = await reconnect(server, ana.auth.token)
    await phone.call(Sync, since=0)
    await bob.conn.call(Sync, since=0)
    ok = await ana.conn.call(Acknowledge, target=p, cid="a1")
    told = await phone_pushes.until(lambda f: isinstance(f, AckEvent))
    assert (told.user, told.target) == (ana.user, p)
    # Once per person: another device's ack stores nothing new.
    assert (await phone.call(Acknowledge, target=p, cid="a2")).seq == 0
    status = await mod.conn.call(AckStatus, target=p)
    assert (status.done, status.waiting) == ([ana.user], [bob.user])
    err = await refused(bob.conn.call(AckStatus, target=p), ErrorCode.FORBIDDEN)
    assert "author" in err.message
    err = await refused(bob.conn.call(Acknowledge, target=plain, cid="b1"), ErrorCode.BAD_FIELD)
    assert "does not ask" in err.message
    assert (await ana.conn.call(GetThread, target=p)).acked
    # Nobody else hears of ana's acknowledgement, live or on catch-up.
    assert _events(bob.pushes, AckEvent) == []
    late, late_pushes = await reconnect(server, bob.auth.token)
    await late.call(Sync, since=0)
    assert _events(late_pushes, AckEvent) == []
    assert ok.seq
    for c in (mod, ana, bob):
        await c.close()
    for c in (phone, late):
        await c.close()


async def test_read_markers_follow_the_user_only_forward(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    g = await _group(ana, "Ops", bob)
    said = (await bob.conn.call(SendChat, group=g, text="hi", cid="c")).seq
    phone, pushes = await reconnect(server, ana.auth.token)
    await phone.call(Sync, since=0)
    await bob.conn.call(Sync, since=0)
    ok = await ana.conn.call(MarkRead, group=g, upto=said, cid="r1")
    told = await pushes.until(lambda f: isinstance(f, ReadEvent))
    assert (told.group, told.upto, told.user) == (g, said, ana.user)
    # Backwards stores nothing; past the head is the head; the inbox is group 0.
    assert (await ana.conn.call(MarkRead, group=g, upto=1, cid="r2")).seq == 0
    await ana.conn.call(MarkRead, group=0, upto=10**9, cid="r3")
    later, later_pushes = await reconnect(server, ana.auth.token)
    await later.call(Sync, since=0)
    await later_pushes.until(
        lambda f: any(isinstance(e, ReadEvent) and e.group == 0 for e in getattr(f, "events", [f]))
    )
    marks = {e.group: e.upto for e in _events(later_pushes, ReadEvent)}
    assert marks == {g: said, 0: ok.seq}  # the head when the inbox was read
    assert _events(bob.pushes, ReadEvent) == []
    # A secret group one is not in: as unknown as none.
    s = await _group(bob, "Vault", visibility="secret")
    hidden = await refused(ana.conn.call(MarkRead, group=s, upto=1, cid="r4"))
    missing = await refused(ana.conn.call(MarkRead, group=s + 999, upto=1, cid="r5"))
    assert (hidden.code, hidden.message) == (missing.code, missing.message)
    for c in (ana, bob):
        await c.close()
    for c in (phone, later):
        await c.close()


async def test_site_admins_feature_open_groups_posts_for_everyone_and_home_shows_them(server):
    boss = await new_user(server, "boss")
    ana = await new_user(server, "ana")
    eve = await new_user(server, "eve")
    make_admin(server.config.db_path, "boss")
    news = await _group(boss, "News")
    team = await _group(ana, "Team")
    closed = await _group(boss, "Board", visibility="private")
    p = (await boss.conn.call(SendPost, group=news, text="we shipped", title="Launch", cid="p")).seq
    hidden = (await boss.conn.call(SendPost, group=closed, text="budget", cid="q")).seq
    await eve.conn.call(Sync, since=0)
    err = await refused(ana.conn.call(Feature, target=p, cid="a1"), ErrorCode.FORBIDDEN)
    assert "site admins" in err.message
    err = await refused(boss.conn.call(Feature, target=hidden, cid="b0"), ErrorCode.FORBIDDEN)
    assert "open groups" in err.message
    await boss.conn.call(Feature, target=p, cid="b1")
    told = await eve.pushes.next(FeatureEvent)  # not a member of News: featured is everyone's
    assert (told.target, told.on) == (p, True)
    mine = (await ana.conn.call(SendPost, group=team, text="standup moved", cid="t1")).seq
    pinned = (await ana.conn.call(SendPost, group=team, text="team rules", cid="t2")).seq
    await ana.conn.call(PinMessage, target=pinned, cid="pin")
    await ana.conn.call(SendComment, post=mine, text="ok", cid="c")
    home = await ana.conn.call(GetHome)
    assert home.featured == [p]
    assert [e.seq for e in home.events] == sorted({p, pinned, mine})
    assert [(t.target, t.count) for t in home.threads] == [(mine, 1)]
    assert {u.name for u in home.users} == {"boss", "ana"}
    # Eve is in no group: the featured post only.
    assert [e.seq for e in (await eve.conn.call(GetHome)).events] == [p]
    await boss.conn.call(Feature, target=p, on=False, cid="b2")
    assert (await eve.conn.call(GetHome)).featured == []
    err = await refused(eve.conn.call(GetHome, limit=0), ErrorCode.BAD_FIELD)
    for c in (boss, ana, eve):
        await c.close()


async def test_catch_up_carries_comments_votes_and_features_like_the_rest(server):
    ana = await new_user(server, "ana")
    bob = await new_user(server, "bob")
    make_admin(server.config.db_path, "ana")
    g = await _group(ana, "Ops", bob)
    start = (await bob.conn.call(Sync, since=0)).head
    await bob.close()
    p = (
        await ana.conn.call(SendPost, group=g, text="q", poll=Poll(options=["a", "b"]), cid="p")
    ).seq
    c = (await ana.conn.call(SendComment, post=p, text="first", cid="c")).seq
    v = (await ana.conn.call(Vote, target=p, choices=[1], cid="v")).seq
    f = (await ana.conn.call(Feature, target=p, cid="f")).seq
    conn, pushes = await reconnect(server, bob.auth.token)
    await conn.call(Sync, since=start)
    await pushes.until(
        lambda fr: any(getattr(e, "seq", 0) == f for e in getattr(fr, "events", [fr]))
    )
    seen = [e.seq for fr in pushes.frames for e in getattr(fr, "events", [fr]) if hasattr(e, "seq")]
    assert [s for s in seen if s in (p, c, v, f)] == [p, c, v, f]
    await conn.close()
    await ana.close()


async def test_a_private_groups_post_tells_outsiders_nothing_of_its_content(server):
    """Outside a private group, a vote, an acknowledgement or a comment is
    refused the same way whether the post has a poll or asks for
    acknowledgement or not, and as for a post that does not exist."""
    boss = await new_user(server, "boss")
    eve = await new_user(server, "eve")
    g = await _group(boss, "Board", visibility="private")
    poll = Poll(options=["a", "b"])
    rich = (await boss.conn.call(SendPost, group=g, text="x", poll=poll, ack=True, cid="p")).seq
    plain = (await boss.conn.call(SendPost, group=g, text="y", cid="q")).seq
    for request, fields in (
        (Vote, {"choices": [0]}),
        (Acknowledge, {}),
        (SendComment, {"text": "z"}),
    ):
        key = "post" if request is SendComment else "target"
        one = await refused(
            eve.conn.call(request, **{key: rich, "cid": f"r{key}{len(fields)}", **fields})
        )
        two = await refused(
            eve.conn.call(request, **{key: plain, "cid": f"p{key}{len(fields)}", **fields})
        )
        assert (one.code, one.message) == (two.code, two.message), request
        # As a missing post is (found by an attacker: a refusal told which
        # numbers are a private group's messages).
        missing = await refused(
            eve.conn.call(request, **{key: 10**9, "cid": f"m{key}{len(fields)}", **fields})
        )
        assert (one.code, one.message) == (missing.code, missing.message), request
    for c in (boss, eve):
        await c.close()


async def test_a_thread_or_the_portal_never_carries_more_than_the_reply_budget(tmp_path):
    """500 comments of 4,000 characters would be a 2 MB reply, 500 posts of
    20,000 a 10 MB one: both stop at the text budget (and say there is more)."""
    cfg = config(tmp_path / "rse.db", max_reply_text=10_000)
    async with RseServer(cfg) as srv:
        ana = await new_user(srv, "ana")
        g = await _group(ana, "Big")
        posts = [
            (await ana.conn.call(SendPost, group=g, text="p" * 4_000, cid=f"p{n}")).seq
            for n in range(5)
        ]
        for n in range(5):
            await ana.conn.call(SendComment, post=posts[0], text="c" * 3_000, cid=f"c{n}")
        page = await ana.conn.call(GetThread, target=posts[0], limit=500)
        assert (len(page.events), page.more) == (3, True)  # 4,000 + 2 x 3,000: a third passes it
        home = await ana.conn.call(GetHome, limit=500)
        assert [e.seq for e in home.events] == posts[-2:]  # the newest that fit
        await ana.close()


async def test_a_pages_moment_tells_nothing_of_groups_one_cannot_read(server):
    """``h`` (what a page is true as of) is its groups' newest event, not the
    log's: polling it does not time what happens in a secret group."""
    ana = await new_user(server, "ana")
    boss = await new_user(server, "boss")
    g = await _group(ana, "Open")
    post = (await ana.conn.call(SendPost, group=g, text="hello", cid="p")).seq
    await ana.conn.call(SendComment, post=post, text="first", cid="c")
    vault = await _group(boss, "Vault", visibility="secret")

    async def moments() -> tuple[int, int, int]:
        home = await ana.conn.call(GetHome)
        thread = await ana.conn.call(GetThread, target=post)
        feed = await ana.conn.call(History, group=g, kind="p")
        return home.as_of, thread.as_of, feed.as_of

    before = await moments()
    assert all(before)
    for n in range(5):
        await boss.conn.call(SendChat, group=vault, text=f"psst {n}", cid=f"s{n}")
    assert await moments() == before
    for c in (ana, boss):
        await c.close()


async def test_a_groups_head_moves_only_with_what_its_reader_may_see(server):
    """Found by an attacker: the ``h`` of groups, home and thread counted
    others' read markers, acknowledgements and join requests, so anyone
    watching it learned when someone read, acknowledged or asked to join."""
    from rse_tui.protocol import ListGroups, RequestJoin

    boss = await new_user(server, "boss")
    bob = await new_user(server, "bob")
    carol = await new_user(server, "carol")
    g = await _group(boss, "Ops", bob)
    private = await _group(boss, "Board", visibility="private")
    from rse_tui.protocol import AddMember

    await boss.conn.call(AddMember, group=private, user=bob.user, cid="a")
    post = (await boss.conn.call(SendPost, group=g, text="read me", ack=True, cid="p")).seq

    async def heads() -> tuple[int, ...]:
        [watched] = (await carol.conn.call(ListGroups, only=[g])).groups
        thread = (await carol.conn.call(GetThread, target=post)).as_of
        [mine] = (await bob.conn.call(ListGroups, only=[private])).groups
        home = (await bob.conn.call(GetHome)).as_of
        return watched.head, thread, mine.head, home

    before = await heads()
    await bob.conn.call(MarkRead, group=g, upto=post, cid="r")
    await bob.conn.call(Acknowledge, target=post, cid="k")
    await carol.conn.call(RequestJoin, group=private, cid="q")
    assert await heads() == before
    # What they may see still moves it.
    said = (await boss.conn.call(SendChat, group=g, text="news", cid="c")).seq
    assert (await carol.conn.call(ListGroups, only=[g])).groups[0].head == said
    for c in (boss, bob, carol):
        await c.close()


async def test_a_deleted_post_takes_its_votes_reactions_pins_and_features_with_it(server):
    """Found by an attacker: a deleted poll's catch-up still said who voted
    what, and its reactions, pin and feature stayed (its comments did go)."""
    from rse_tui.protocol import DeleteMessage, React

    boss = await new_user(server, "boss")
    bob = await new_user(server, "bob")
    make_admin(server.config.db_path, "boss")
    g = await _group(boss, "Ops", bob)
    poll = Poll(options=["yes", "no"])
    post = (await boss.conn.call(SendPost, group=g, text="q?", poll=poll, ack=True, cid="p")).seq
    secret = Poll(options=["a", "b"], anonymous=True)
    hidden = (await boss.conn.call(SendPost, group=g, text="anon?", poll=secret, cid="h")).seq
    comment = (await bob.conn.call(SendComment, post=post, text="yes!", cid="m")).seq
    await bob.conn.call(Vote, target=post, choices=[0], cid="v")
    await bob.conn.call(Vote, target=hidden, choices=[1], cid="w")
    await bob.conn.call(React, target=post, emoji="heart", cid="k")
    await boss.conn.call(React, target=comment, emoji="+1", cid="k2")
    await bob.conn.call(Acknowledge, target=post, cid="a")
    await boss.conn.call(PinMessage, target=post, cid="n")
    await boss.conn.call(Feature, target=post, cid="f")
    for target in (post, hidden):
        await boss.conn.call(DeleteMessage, target=target, cid=f"d{target}")
    db = server.config.db_path
    gone = (post, hidden, comment)
    marks = ",".join("?" * len(gone))
    left = _rows(db, f"SELECT kind, seq FROM events WHERE ref IN ({marks}) AND deleted = 0", *gone)
    assert left == []
    # Nor who voted, acknowledged or reacted, or when (those emptied places
    # are nobody's); a comment's place keeps its author, as a deleted
    # message's does, and every write its receipt (a resend is answered as
    # the first time).
    assert _rows(db, f"SELECT count(*) FROM events WHERE ref IN ({marks})", *gone) == [
        (c,)
        for (c,) in _rows(
            db, f"SELECT count(*) FROM events WHERE ref IN ({marks}) AND kind IN ('m', 'e')", *gone
        )
    ]
    assert _rows(db, "SELECT count(*) FROM events WHERE kind IN ('v', 'a', 'k', 'n', 'f')"
                     " AND (user != 0 OR ts != 0)") == [(0,)]  # fmt: skip
    assert _rows(db, "SELECT count(*) FROM receipts WHERE user = ? AND cid = 'v'", bob.user) == [
        (1,)
    ]
    tables = (
        ("reactions", "target"),
        ("pins", "seq"),
        ("ballots", "poll"),
        ("anon_voters", "poll"),
        ("acks", "post"),
        ("featured", "seq"),
    )
    for table, column in tables:
        assert _rows(db, f"SELECT * FROM {table} WHERE {column} IN ({marks})", *gone) == []
    # A newcomer's catch-up, and everyone's, says nothing of them but that they went.
    dan = await new_user(server, "dan")
    await dan.conn.call(JoinGroup, group=g, cid="j")
    from rse_tui.protocol import Batch

    await dan.conn.call(Sync, since=0)
    frames = dan.pushes.frames
    events = [e for f in frames for e in (f.events if isinstance(f, Batch) else [f])]
    about = [
        e for e in events if getattr(e, "target", None) in gone or getattr(e, "post", None) in gone
    ]
    assert {type(e).__name__ for e in about} == {"DeleteEvent"}, about
    for c in (boss, bob, dan):
        await c.close()


async def test_options_that_read_the_same_are_the_same_option(server):
    """Found by an attacker: "Yes", "Ye\\u00ads" and "Yes\\u200b" were three
    options that all read "Yes", and a title of zero-width spaces passed as
    not empty."""
    boss = await new_user(server, "boss")
    g = await _group(boss, "Ops")
    same = (
        ["Yes", "Yes\u200b", "No"],
        ["Yes", "Ye\u00ads", "No"],
        ["\uff39\uff45\uff53", "Yes", "No"],  # full-width letters
        # Found in a second round: a grapheme joiner, variation selectors, an
        # invisible vowel, two spaces, a doubled accent, a stretching stroke.
        ["yes", "ye\u034fs"],
        ["yes", "yes\ufe0f"],
        ["yes", "yes\U000e0100"],
        ["yes", "yes\u17b4"],
        ["a b", "a  b"],
        ["caf\u00e9", "cafe\u0301\u0301"],
        ["\u0633\u0644\u0627\u0645", "\u0633\u0640\u0644\u0627\u0645"],
    )
    for n, options in enumerate(same):
        err = await refused(
            boss.conn.call(SendPost, group=g, text="?", poll=Poll(options=options), cid=f"p{n}"),
            ErrorCode.BAD_FIELD,
        )
        assert "all different" in err.message
    # Different words stay different options (the first round's folding
    # made these one): Masse and Maße, x2 and x², a family emoji and three.
    for n, pair in enumerate(
        (["Masse", "Ma\u00dfe"], ["x2", "x\u00b2"], ["\u03c3", "\u03c2"],
         ["\U0001f468\u200d\U0001f469", "\U0001f468\U0001f469"])
    ):  # fmt: skip
        await boss.conn.call(SendPost, group=g, text="?", poll=Poll(options=pair), cid=f"d{n}")
    blanks = ("\u200b\u200d", "\u2800", "\u3164", "\ufeff", "\u034f", "\ufe0f", "\u0301")
    for n, blank in enumerate(blanks):
        poll = Poll(options=["a", blank])
        await refused(
            boss.conn.call(SendPost, group=g, text="x", poll=poll, cid=f"o{n}"),
            ErrorCode.BAD_FIELD,
        )
        await refused(
            boss.conn.call(SendChat, group=g, text=blank, cid=f"c{n}"), ErrorCode.BAD_FIELD
        )
    await boss.close()


async def test_schema_9_clears_what_posts_deleted_before_left_behind(tmp_path):
    """Posts deleted by an older server left their votes, reactions, pins,
    features and acknowledgements; the migration takes them away, and gives
    reactions and pins the message they are about (``ref``)."""
    from rse_tui.protocol import React
    from server.schema import migrate

    db_path = tmp_path / "rse.db"
    async with RseServer(config(db_path)) as srv:
        boss = await new_user(srv, "boss")
        make_admin(db_path, "boss")
        g = await _group(boss, "Ops")
        poll = Poll(options=["a", "b"])
        gone = (await boss.conn.call(SendPost, group=g, text="x", poll=poll, cid="p")).seq
        kept = (await boss.conn.call(SendPost, group=g, text="y", cid="q")).seq
        for target in (gone, kept):
            await boss.conn.call(React, target=target, emoji="heart", cid=f"k{target}")
            await boss.conn.call(PinMessage, target=target, cid=f"n{target}")
        await boss.conn.call(Vote, target=gone, choices=[1], cid="v")
        await boss.conn.call(Feature, target=gone, cid="f")
        await boss.close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    # As an older server left it: the post's text gone, the rest not; no ref.
    conn.execute("UPDATE events SET body = NULL, deleted = 1 WHERE seq = ?", (gone,))
    conn.execute("UPDATE events SET ref = NULL WHERE kind IN ('k', 'n')")
    conn.execute("PRAGMA user_version = 8")
    migrate(conn)
    about = conn.execute(
        "SELECT kind FROM events WHERE ref = ? AND deleted = 0 ORDER BY kind", (gone,)
    ).fetchall()
    assert about == []
    assert conn.execute(
        "SELECT kind FROM events WHERE ref = ? AND deleted = 0 ORDER BY kind", (kept,)
    ).fetchall() == [("k",), ("n",)]
    for table, column in (("reactions", "target"), ("pins", "seq"), ("ballots", "poll"),
                          ("featured", "seq")):  # fmt: skip
        rows = conn.execute(f"SELECT {column} FROM {table}").fetchall()
        assert (gone,) not in rows, table
    assert (kept,) in conn.execute("SELECT target FROM reactions").fetchall()
    conn.close()
