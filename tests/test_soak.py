"""A seeded soak (bench/soak/) on every run, about a minute, with a fresh seed
printed so that a failure can be replayed: python -m bench.soak --seed N."""

from __future__ import annotations

import os
import sqlite3

import pytest

from bench.soak.actors import Life
from bench.soak.tap import Seen
from rse_tui.protocol import ChatEvent, Directory, DirectoryEntry, GroupInfo, GroupList, Page


@pytest.mark.timeout(420)  # the soak, then quiescence (a 9.6 kbit/s client catches up)
async def test_a_soak_keeps_every_guarantee(tmp_path, capsys):
    from bench.soak.run import Soak

    seed = int(os.environ.get("RSE_SOAK_SEED") or int.from_bytes(os.urandom(4), "big"))
    with capsys.disabled():
        print(f"\nsoak seed {seed} (replay: python -m bench.soak --seed {seed})")
    run = Soak(seed, float(os.environ.get("RSE_SOAK_SECONDS", "60")), 4, tmp_path)
    try:
        problems = await run.run()
    finally:
        await run.close()
    assert problems == [], f"seed {seed}: {problems[:5]}"
    written = [t for c in run.clients for _, t, _ in c.written if t]
    assert len(written) > 100 and sum(run.faults.values()) > 10
    kinds = {type(s.frame).__name__ for c in run.clients for s in c.recorder.seen}
    assert {"Batch", "GroupList", "Page", "MemberList", "Directory"} <= kinds, kinds
    lives = [life for c in run.clients for p in c.processes for life in p.lives]
    assert {life.args[0] for life in lives if life.args} and any(life.lines_in for life in lives)

    # The checks have teeth. A message a cache lost without a hole to say so:
    client = next(c for c in run.clients if c.written)
    db = sqlite3.connect(run.server.db)
    groups = [g for (g,) in db.execute("SELECT grp FROM members WHERE user = ?", (client.user,))]
    secret = db.execute(
        "SELECT id, name FROM groups WHERE visibility = 'secret' AND id NOT IN"
        " (SELECT grp FROM members WHERE user = ?) AND id NOT IN"
        " (SELECT grp FROM events WHERE kind = 'j' AND user = ?)",
        (client.user, client.user),
    ).fetchone()
    db.close()
    cache = sqlite3.connect(client.account.profile.cache_path, isolation_level=None)
    marks = ",".join("?" * len(groups))
    seq = cache.execute(f"SELECT max(seq) FROM messages WHERE grp IN ({marks})", groups)
    seq = seq.fetchone()[0]
    cache.execute("DELETE FROM messages WHERE seq = ?", (seq,))
    cache.close()
    found = run.check()
    assert any(p.startswith(f"3: {client.name}'s cache lacks #{seq}") for p in found), found

    # ... a reaction, and a poll's results, that a cache holds and a new device
    # of the same user does not (on another user's cache: one finding each).
    for other in (c for c in run.clients if c is not client):
        db = sqlite3.connect(run.server.db)
        theirs = [g for (g,) in db.execute("SELECT grp FROM members WHERE user = ?", (other.user,))]
        db.close()
        cache = sqlite3.connect(other.account.profile.cache_path, isolation_level=None)
        marks = ",".join("?" * len(theirs))
        row = cache.execute(
            f"SELECT seq, grp FROM messages WHERE grp IN ({marks}) AND kind IN ('c', 'p')"
            " ORDER BY seq LIMIT 1",
            theirs,
        ).fetchone()
        if row is None:
            cache.close()
            continue
        cache.execute(
            "INSERT OR REPLACE INTO reactions (target, user, emoji, grp, present, version)"
            " VALUES (?, 999999, 'rocket', ?, 1, 1)",
            row,
        )
        cache.close()
        found = run.check()
        assert any(
            p.startswith(f"3: {other.name}'s cache differs from a new device's")
            and "rocket@999999" in p
            for p in found
        ), found
        cache = sqlite3.connect(other.account.profile.cache_path, isolation_level=None)
        cache.execute("DELETE FROM reactions WHERE user = 999999")
        poll = cache.execute(
            f"SELECT p.target FROM polls p JOIN messages m ON m.seq = p.target"
            f" WHERE m.grp IN ({marks}) LIMIT 1",
            theirs,
        ).fetchone()
        if poll is not None:
            cache.execute("UPDATE polls SET voters = voters + 7 WHERE target = ?", poll)
        cache.close()
        if poll is not None:
            found = run.check()
            assert any(
                p.startswith(f"3: {other.name}'s cache differs from a new device's") for p in found
            ), found
            cache = sqlite3.connect(other.account.profile.cache_path, isolation_level=None)
            cache.execute("UPDATE polls SET voters = voters - 7 WHERE target = ?", poll)
            cache.close()
        break

    # ... frames that told a user of a secret group they were never in (or, in a
    # run that made none they were out of, of a group that does not exist),
    g, name = secret if secret is not None else (2**31 + 5, "nowhere")
    client.recorder.seen += [
        Seen(
            Page(request_id=1, events=[ChatEvent(seq=9, group=g, user=1, ts=1, text="x")]),
            None,
            1,
            10**9,
        ),
        Seen(GroupList(request_id=2, groups=[GroupInfo(group=g, name=name)]), None, 1, 10**9),
        Seen(
            Directory(request_id=3, users=[DirectoryEntry(user=1, name="u0", groups=[g])]),
            None,
            1,
            10**9,
        ),
    ]
    found = run.check()
    said = [p for p in found if p.startswith(f"4: {client.name} received")]
    assert said and f"group {g}" in said[0], found

    # ... a write stored twice, one lost, and a piped line lost after a gap.
    engine_texts = [t for c in run.clients for op, t, _ in c.written if op in ("chat", "post")]
    db = sqlite3.connect(run.server.db)
    chats = {b for (b,) in db.execute("SELECT body FROM events WHERE kind = 'c' AND deleted = 0")}
    db.close()
    # Chat lines stored as written (not refused, edited or deleted since).
    stored = [t for t in engine_texts if t in chats]
    dup, once, lost = stored[0], stored[1], stored[-1]
    db = sqlite3.connect(run.server.db, isolation_level=None)
    db.execute(
        "INSERT INTO events (kind, grp, user, ts, body) SELECT kind, grp, user, ts, body"
        " FROM events WHERE body = ?",
        (dup,),
    )
    lost_cid = next(cid for c in run.clients for _, t, cid in c.written if t == lost)
    db.execute("DELETE FROM receipts WHERE cid = ?", (lost_cid,))
    db.close()
    piper = next(p for c in run.clients for p in c.processes if p.kind == "chat")
    piper.lives.append(Life(("g",), lines_in=["never-sent", once], killed=True))
    found = run.check()
    assert any(dup in p and "stored 2 times" in p for p in found), found
    assert any(lost in p and "neither stored" in p for p in found), found
    assert any("'never-sent' before it is not" in p for p in found), found
