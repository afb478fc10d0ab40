"""A short seeded soak (tests/soak.py) on every run, with a fresh seed printed
so that a failure can be replayed: python -m tests.soak --seed N."""

from __future__ import annotations

import os
import sqlite3

from .soak import Soak


async def test_a_short_soak_keeps_every_guarantee(tmp_path, capsys):
    seed = int(os.environ.get("RSE_SOAK_SEED") or int.from_bytes(os.urandom(4), "big"))
    with capsys.disabled():
        print(f"\nsoak seed {seed} (replay: python -m tests.soak --seed {seed})")
    run = Soak(seed, float(os.environ.get("RSE_SOAK_SECONDS", "20")), 4, tmp_path)
    try:
        problems = await run.run()
    finally:
        await run.close()
    assert problems == [], f"seed {seed}: {problems[:5]}"
    written = [t for c in run.clients for _, t in c.written]
    assert len(written) > 50 and sum(run.faults.values()) > 5

    # The checks have teeth: a message a cache lost without a hole to say so,
    client = next(c for c in run.clients if c.written)
    db = sqlite3.connect(run.server.db)
    groups = [g for (g,) in db.execute("SELECT grp FROM members WHERE user = ?", (client.user,))]
    db.close()
    cache = sqlite3.connect(client.account.profile.cache_path, isolation_level=None)
    marks = ",".join("?" * len(groups))
    seq = cache.execute(f"SELECT max(seq) FROM messages WHERE grp IN ({marks})", groups).fetchone()[
        0
    ]
    cache.execute("DELETE FROM messages WHERE seq = ?", (seq,))
    cache.close()
    found = run.check()
    assert any(p.startswith(f"3: {client.name}'s cache lacks #{seq}") for p in found), found

    # ... and a write stored twice, and one lost, are named.
    dup, lost = written[0], written[-1]
    db = sqlite3.connect(run.server.db, isolation_level=None)
    db.execute(
        "INSERT INTO events (kind, grp, user, ts, body) SELECT kind, grp, user, ts, body"
        " FROM events WHERE body = ?",
        (dup,),
    )
    db.execute("DELETE FROM events WHERE body = ?", (lost,))
    db.close()
    found = run.check()
    assert any(dup in p and "stored 2 times" in p for p in found), found
    assert any(lost in p and "neither stored" in p for p in found), found
