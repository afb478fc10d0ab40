"""The soak's invariants over everything that happened; each names the first
violation it finds.

1. every write a client queued is stored exactly once, or shown to its
   author as refused, with a reason (engine writes by their receipts, lines
   piped into ``rse chat`` by their text);
2. each user's writes are stored in the order that user made them;
3. for each group a user is in, their cache holds exactly the server's
   messages (text, pins), but for the ranges it records as holes; in groups
   they left, what stays is the server's messages of that group;
4. no frame a client received told it anything of a group it could not read
   at that moment, and nothing of one it may not read stays in its cache;
   what ``rse tail`` printed is each group's messages, once, in order;
5. the server's log holds no traceback and no failed request; no client
   process fails inside, and the app never ends by itself.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from server.storage import write_mark

from .actors import TAIL_LINE, Client
from .frames import Membership, leaks

MESSAGES = ("chat", "post", "dm", "edit", "comment")
#: The kind of event each message write stores.
KIND_OF = {"edit": "e", "comment": "m"}


def run_all(db_path: Path, log_path: Path, clients: list[Client], fresh: list[Path]) -> list[str]:
    """Every check over a finished run: the server's database and log, each
    user's client (cache, frames, processes) and new device's cache."""
    problems: list[str] = []
    db = sqlite3.connect(db_path)
    try:
        m = Membership(db)
        for c in clients:
            cache = sqlite3.connect(c.account.profile.cache_path)
            try:
                problems += stored_once_in_order(db, cache, c)
                problems += piped_lines(db, cache, c)
                problems += same_state(db, cache, c)
                problems += nothing_unreadable(db, cache, c, m)
            finally:
                cache.close()
            problems += [
                f"4: {c.name} received {leak}" for leak in leaks(c.recorder.seen, c.user, m)
            ][:1]
            problems += tail_output(db, c)
            problems += process_ends(c)
        for c, device in zip(clients, fresh, strict=False):
            problems += same_as_new_device(db, c, device)
    finally:
        db.close()
    log = log_path.read_text(errors="replace")
    for marker in ("Traceback", "request failed"):
        if marker in log:
            at = log.index(marker)
            problems.append(f"5: server log: {log[at : at + 300]!r}")
    return problems


def stored_once_in_order(db: sqlite3.Connection, cache: sqlite3.Connection, c: Client) -> list[str]:
    """1 and 2 for what the engine queued: by the server's receipt of each write."""
    problems: list[str] = []
    refused = {cid for (cid,) in cache.execute("SELECT cid FROM outbox WHERE error IS NOT NULL")}
    last, before = 0, ""
    for op, text, cid in c.written:
        row = db.execute(
            "SELECT result FROM receipts WHERE user = ? AND cid = ?", (c.user, cid)
        ).fetchone()
        if row is None and op == "vote" and _voted_anonymously(db, c.user, cid, c.targets.get(cid)):
            continue  # an anonymous vote keeps no receipt: the poll's list says it
        if row is None:
            if cid not in refused:
                problems.append(f"1: {c.name}'s {op} {text!r} neither stored nor shown refused")
            continue
        receipt = json.loads(row[0])
        if "e" in receipt:  # refused for good, the refusal kept as its answer
            if cid not in refused:
                problems.append(
                    f"1: {c.name}'s {op} {text!r} refused ({receipt['m']}), not shown refused"
                )
            continue
        seq = receipt["s"]
        if "ts" in receipt:  # it changed something (a no-op names the state it found)
            if seq < last:
                problems.append(
                    f"2: {c.name}'s {op} {text!r} stored as #{seq}, before {before}, made earlier"
                )
            last, before = seq, f"{op} {text!r} #{seq} ({cid})"
        if op not in MESSAGES:
            continue
        user, kind, body, deleted, edited, ref = db.execute(
            "SELECT user, kind, body, deleted, edited, ref FROM events WHERE seq = ?", (seq,)
        ).fetchone()
        if user != c.user or kind not in KIND_OF.get(op, "cp"):
            problems.append(f"1: {c.name}'s {op} {text!r}: its receipt names #{seq}, a {kind}")
        elif body != text and not deleted and not edited:
            problems.append(f"1: {c.name}'s {op} {text!r} is #{seq}, which says {body!r}")
        # Elsewhere, the text may only be the text of the message an edit changed.
        copies = db.execute(
            "SELECT count(*) FROM events WHERE body = ? AND seq NOT IN (?, ?)"
            " AND kind IN ('c', 'p', 'e', 'm')",
            (text, seq, ref if op == "edit" else seq),
        ).fetchone()[0]
        if copies:
            problems.append(f"1: {c.name}'s {op} {text!r} stored {copies + 1} times")
    return problems


def _voted_anonymously(db: sqlite3.Connection, user: int, cid: str, target: int | None) -> bool:
    """The poll's list has the vote (of its write id, a hash only), or the
    poll was deleted since, and its list with it."""
    if (
        target is not None
        and db.execute("SELECT 1 FROM events WHERE seq = ? AND deleted = 1", (target,)).fetchone()
    ):
        return True
    mark = write_mark(cid)
    return any(
        [user, mark] in json.loads(voters)
        for (voters,) in db.execute("SELECT voters FROM anon_voters")
    )


def piped_lines(db: sqlite3.Connection, cache: sqlite3.Connection, c: Client) -> list[str]:
    """1 and 2 for lines piped into ``rse chat``: each stored once, in the order
    written; a run that ended by itself stored every line or said on its
    standard error that it was refused; a run killed with SIGKILL stored
    what it had queued: never a line after a gap."""
    problems: list[str] = []
    refused = {t for (t,) in cache.execute("SELECT text FROM outbox WHERE error IS NOT NULL")}
    last = 0
    for p in c.processes:
        if p.kind != "chat":
            continue
        for life in p.lives:
            gap = None
            for line in life.lines_in:
                rows = db.execute(
                    "SELECT seq FROM events WHERE body = ? AND kind = 'c'", (line,)
                ).fetchall()
                if len(rows) > 1:
                    problems.append(f"1: piped line {line!r} stored {len(rows)} times")
                elif rows:
                    if gap is not None:
                        problems.append(f"1: piped {line!r} stored, {gap!r} before it is not")
                    if rows[0][0] < last:
                        problems.append(f"2: piped {line!r} stored before a line piped earlier")
                    last = rows[0][0]
                elif line not in refused and not any(
                    line in said and "was refused" in said for said in life.lines_err
                ):
                    if not life.killed:
                        problems.append(f"1: piped {line!r} neither stored nor refused")
                    gap = gap or line
    return problems


def same_state(db: sqlite3.Connection, cache: sqlite3.Connection, c: Client) -> list[str]:
    """3: the cache against the server, group by group."""
    members = {g for (g,) in db.execute("SELECT grp FROM members WHERE user = ?", (c.user,))}
    pins = {s for (s,) in db.execute("SELECT seq FROM pins")}
    cached = sorted({g for (g,) in cache.execute("SELECT DISTINCT grp FROM messages")} | members)
    for g in cached:
        server = {
            seq: (kind, body, seq in pins)
            for seq, kind, body in db.execute(
                "SELECT seq, kind, body FROM events WHERE grp = ? AND kind IN ('c', 'p', 'm')"
                " AND deleted = 0",
                (g,),
            )
        }
        mine = {
            seq: (kind, text, bool(pinned))
            for seq, kind, text, pinned in cache.execute(
                "SELECT seq, kind, text, pinned FROM messages WHERE grp = ?", (g,)
            )
        }
        if g not in members:
            # A group left: what stays was the server's, there (a later edit,
            # delete or pin is not told to those outside).
            for seq, (kind, _, _) in sorted(mine.items()):
                there = db.execute("SELECT grp, kind FROM events WHERE seq = ?", (seq,)).fetchone()
                if there != (g, kind):
                    return [f"3: {c.name} keeps #{seq} in group {g} left; the server: {there}"]
            continue
        holes = cache.execute("SELECT kind, lo, hi FROM holes WHERE grp = ?", (g,)).fetchall()
        for seq, row in sorted(mine.items()):
            if server.get(seq) != row:
                return [
                    f"3: {c.name}'s cache has #{seq} {row} in group {g}; "
                    f"the server: {server.get(seq)}"
                ]
        for seq, (kind, body, _) in sorted(server.items()):
            if kind == "m":  # comments come with their post's thread: those held are checked
                continue
            if seq not in mine and not any(k == kind and lo <= seq <= hi for k, lo, hi in holes):
                return [
                    f"3: {c.name}'s cache lacks #{seq} {body!r} of group {g}, and no hole says so"
                ]
    return []


def same_as_new_device(db: sqlite3.Connection, c: Client, fresh: Path) -> list[str]:
    """3, against a brand-new device of the same user: for each group the user
    is in, both hold the same messages (every history fetched on both), with
    the same reactions."""
    members = [g for (g,) in db.execute("SELECT grp FROM members WHERE user = ?", (c.user,))]
    # Comments come with their post's thread, when read: not compared. A
    # poll's results are.
    rows = (
        "SELECT seq, kind, text, pinned, edited, (SELECT group_concat(who, ' ') FROM"
        " (SELECT emoji || '@' || user AS who FROM reactions r WHERE r.target = m.seq"
        " AND r.present = 1 ORDER BY emoji, user)),"
        " (SELECT counts || '/' || voters FROM polls p WHERE p.target = m.seq)"
        " FROM messages m WHERE grp = ? AND kind IN ('c', 'p') ORDER BY seq"
    )
    old = sqlite3.connect(c.account.profile.cache_path)
    new = sqlite3.connect(fresh)
    try:
        for g in members:
            mine, theirs = old.execute(rows, (g,)).fetchall(), new.execute(rows, (g,)).fetchall()
            if mine != theirs:
                extra = sorted(set(mine) - set(theirs))[:2]
                lacks = sorted(set(theirs) - set(mine))[:2]
                return [
                    f"3: {c.name}'s cache differs from a new device's in group {g}:"
                    f" it has {extra}, lacks {lacks}"
                ]
    finally:
        old.close()
        new.close()
    return []


def nothing_unreadable(
    db: sqlite3.Connection, cache: sqlite3.Connection, c: Client, m: Membership
) -> list[str]:
    """4 on what stays: no message of a private or secret group the user is not
    in, no secret group they are not in listed."""
    members = {g for (g,) in db.execute("SELECT grp FROM members WHERE user = ?", (c.user,))}
    for seq, g, text in cache.execute("SELECT seq, grp, text FROM messages"):
        if g not in members and m.visibility.get(g) != "open":
            return [
                f"4: {c.name} keeps #{seq} {text!r} of {m.visibility.get(g)} group {g},"
                " which they are not in"
            ]
    for (g,) in cache.execute("SELECT id FROM groups WHERE known = 1"):
        if g not in members and m.visibility.get(g) == "secret":
            return [f"4: {c.name} lists secret group {g}, which they are not in"]
    return []


def process_ends(c: Client) -> list[str]:
    """5, for the client processes: none fails inside (an internal error, a
    traceback); the app never ends by itself; a command that ends says why."""
    for p in c.processes:
        for life in p.lives:
            said = "\n".join(life.lines_err)
            if "internal error" in said or "Traceback" in said:
                return [f"5: {p.kind} {' '.join(life.args)}: {said[-300:]!r}"]
            if life.killed or life.code in (None, -15):
                continue
            if p.kind == "app":
                seen = re.sub(
                    r"\x1b\[[0-9;?<>=]*[a-zA-Z]|\x1b[()][0-9A-Za-z]", "", "".join(life.lines_out)
                )
                return [
                    f"5: the app of {c.name} ended by itself (exit {life.code}): {seen[-1500:]!r}"
                ]
            if life.code not in (0, 1) or (life.code == 1 and not said):
                return [f"5: rse {p.kind} of {c.name} ended with {life.code}: {said[-300:]!r}"]
    return []


def tail_output(db: sqlite3.Connection, c: Client) -> list[str]:
    """What each ``rse tail`` printed: messages of its group, each once, in order,
    with a text the message had (it may have been edited or deleted since)."""
    for p in c.processes:
        if p.kind != "tail":
            continue
        for life in p.lives:
            group = db.execute("SELECT id FROM groups WHERE name = ?", (life.args[0],)).fetchone()
            last = 0
            for line in life.lines_out:
                match = TAIL_LINE.match(line)
                if match is None:
                    return [f"4: rse tail {life.args[0]} printed {line!r}"]
                seq, text = int(match[1]), match[3]
                if seq <= last:
                    return [f"4: rse tail {life.args[0]} printed #{seq} after #{last}"]
                last = seq
                row = db.execute(
                    "SELECT grp, body, deleted, edited FROM events WHERE seq = ?", (seq,)
                ).fetchone()
                if row is None or group is None or row[0] != group[0]:
                    return [f"4: rse tail {life.args[0]} printed #{seq}, not of its group"]
                if row[1] != text and not row[2] and not row[3]:
                    return [f"4: rse tail printed #{seq} as {text!r}; it says {row[1]!r}"]
    return []
