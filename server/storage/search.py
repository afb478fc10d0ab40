"""Full-text search over chat messages, posts (text and title) and comments.

The index is an FTS5 table, ``search``, whose rowid is the message's
sequence number: a message's words go in when it is stored, change with its
edits, and leave with its deletion (``index_message``, ``unindex``). A
search reads the index and keeps only what the asker may read now: the
groups they are in, and open groups (the same rule as ``policy.readable``,
site admins' reading of private groups aside). A group named in the request
is checked as every other request checks one: a secret or missing group is
"unknown group", a private one the asker is not in is refused.

The words of a query are searched each as it is (quoted for FTS5): no
operator a user types (``AND``, ``NEAR``, ``*``, quotes) reaches FTS5's
query language, and any text is a valid query.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from rse_tui.protocol import ErrorCode, Event, Kind, ProtocolError, UserInfo, Visibility

from .. import policy
from .accounts import users
from .base import EVENT_COLUMNS, event_from_row
from .groups import access

#: The kinds of event the index holds.
INDEXED = (Kind.CHAT, Kind.POST, Kind.COMMENT)
#: At most this many words are searched (a longer query is refused).
MAX_WORDS = 16
_WORD = re.compile(r"\w+")


def index_message(conn: sqlite3.Connection, seq: int, text: str, title: str | None) -> None:
    """Put (or put again, after an edit) message ``seq``'s words in the index."""
    conn.execute("DELETE FROM search WHERE rowid = ?", (seq,))
    conn.execute(
        "INSERT INTO search (rowid, text, title) VALUES (?, ?, ?)", (seq, text, title or "")
    )


def unindex(conn: sqlite3.Connection, seqs: list[int]) -> None:
    """Take deleted messages' words out of the index."""
    for seq in seqs:
        conn.execute("DELETE FROM search WHERE rowid = ?", (seq,))


def match_expression(query: str) -> str:
    """The FTS5 expression for ``query``: each of its words, quoted (all of
    them must match, in any order)."""
    words = _WORD.findall(query)
    if not words:
        raise ProtocolError(ErrorCode.BAD_FIELD, "search for a word or more")
    if len(words) > MAX_WORDS:
        raise ProtocolError(ErrorCode.BAD_FIELD, f"search for at most {MAX_WORDS} words")
    return " ".join(f'"{w}"' for w in words)


def search(
    conn: sqlite3.Connection,
    user: int,
    query: str,
    limit: int,
    *,
    group: int | None = None,
    author: int | None = None,
    after: int | None = None,
    before: int | None = None,
) -> tuple[list[Event], list[UserInfo], bool]:
    """The messages matching ``query`` that ``user`` may read now, best first,
    at most ``limit`` (and whether more matched)."""
    expression = match_expression(query)
    if group is not None:
        policy.require_readable(access(conn, user, group))
    where = [
        "search MATCH :q",
        "e.deleted = 0",
        "(e.grp IN (SELECT grp FROM members WHERE user = :u)"
        f" OR e.grp IN (SELECT id FROM groups WHERE visibility = '{Visibility.OPEN}'"
        " AND dm_key IS NULL))",
    ]
    values: dict[str, Any] = {"q": expression, "u": user, "n": limit + 1}
    for column, name, value, test in (
        ("e.grp", "g", group, "="),
        ("e.user", "a", author, "="),
        ("e.ts", "af", after, ">="),
        ("e.ts", "bf", before, "<"),
    ):
        if value is not None:
            where.append(f"{column} {test} :{name}")
            values[name] = value
    kinds = ", ".join(f"'{k}'" for k in INDEXED)
    rows = conn.execute(
        f"SELECT {', '.join('e.' + c.strip() for c in EVENT_COLUMNS.split(','))}"
        " FROM search JOIN events e ON e.seq = search.rowid"
        f" WHERE {' AND '.join(where)} AND e.kind IN ({kinds})"
        # The title weighs more than the text.
        " ORDER BY bm25(search, 1.0, 3.0), e.seq DESC LIMIT :n",
        values,
    ).fetchall()
    events = [event_from_row(r) for r in rows[:limit]]
    authors = users(conn, {getattr(e, "user", 0) for e in events})
    return events, authors, len(rows) > limit


def backfill(conn: sqlite3.Connection) -> None:
    """Index every live message stored before the index existed."""
    kinds = json.dumps(list(INDEXED))
    conn.execute(
        "INSERT INTO search (rowid, text, title) SELECT seq, body,"
        " coalesce(json_extract(meta, '$.ti'), '') FROM events"
        " WHERE kind IN (SELECT value FROM json_each(?)) AND deleted = 0 AND body IS NOT NULL",
        (kinds,),
    )
