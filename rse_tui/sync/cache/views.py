"""Reading the cache for the views: groups, messages, what waits, drafts,
and what other processes of the profile changed in the shared file."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from rse_tui.protocol import (
    ChatEvent,
    EditMessage,
    JoinGroup,
    LeaveGroup,
    React,
    Reaction,
    SendChat,
    SendDirect,
    SendPost,
    decode_request,
)

from ..models import Changes, GroupRow, MessageRow, PollState
from .base import CacheBase


@dataclass(frozen=True, slots=True)
class Mark:
    """What this process last saw of the file's changes by other processes."""

    version: int  # PRAGMA data_version: moves when another connection commits
    top: int  # the newest message stored
    cursor: int  # the sync cursor: events past it were applied since
    outbox: frozenset[tuple[str, int | None, str | None]]  # (cid, group, error)


# A reply carries the line it answers: "author: text" of the message, when cached.
_ROWS = (
    "SELECT m.seq, m.grp, m.kind, m.user, coalesce(u.name, 'user' || m.user), m.ts,"
    " m.text, m.pinned, u.badge, m.edited, m.reply,"
    " (SELECT coalesce(ru.name, 'user' || r.user) || ': ' || r.text FROM messages r"
    "  LEFT JOIN users ru ON ru.id = r.user WHERE r.seq = m.reply),"
    " m.title, m.ack, m.poll, p.counts, p.voters, t.count, my.acked, my.voted"
    " FROM messages m LEFT JOIN users u ON u.id = m.user"
    " LEFT JOIN polls p ON p.target = m.seq LEFT JOIN threads t ON t.target = m.seq"
    " LEFT JOIN mine my ON my.target = m.seq"
)


# The columns groups() selects, in GroupRow's order; these are 0/1 in SQLite.
_FLAGS = ("member", "moderator", "requested")
_FLAG_AT = tuple(i for i, f in enumerate(fields(GroupRow)) if f.name in _FLAGS)


def _group_row(row: tuple[Any, ...]) -> GroupRow:
    values = list(row)
    for i in _FLAG_AT:
        values[i] = bool(values[i])
    return GroupRow(*values)


_REACTION_ORDER = {word: n for n, word in enumerate(Reaction.words())}


def _reaction_order(reaction: tuple[str, int, bool]) -> int:
    """Reactions in the vocabulary's order (a word from a newer server last)."""
    return _REACTION_ORDER.get(reaction[0], len(_REACTION_ORDER))


def _poll(definition: str | None, counts: str | None, voters: int | None,
          voted: str | None) -> PollState | None:  # fmt: skip
    if definition is None:
        return None
    d = json.loads(definition)
    options = tuple(d.get("o", ()))
    return PollState(
        options=options,
        multiple=bool(d.get("mu")),
        anonymous=bool(d.get("an")),
        closes=d.get("cl"),
        counts=tuple(json.loads(counts)) if counts else (0,) * len(options),
        voters=voters or 0,
        mine=None if voted is None else tuple(json.loads(voted)),
    )


def _message_row(row: tuple[Any, ...]) -> MessageRow:
    seq, grp, kind, user, author, ts, text, pinned, badge, edited, reply, quote = row[:12]
    title, ack, poll, counts, voters, comments, acked, voted = row[12:]
    return MessageRow(
        seq,
        grp,
        kind,
        user,
        author,
        ts,
        text,
        pinned=bool(pinned),
        badge=badge,
        edited=edited,
        reply=reply,
        quote=quote,
        title=title,
        ack=bool(ack),
        acked=bool(acked),
        poll=_poll(poll, counts, voters, voted),
        comments=comments or 0,
    )


class Views(CacheBase):
    """What the UI and the command line read."""

    # -- groups and people ---------------------------------------------------------------

    def groups(self) -> list[GroupRow]:
        """The groups to show: those whose name (for a direct chat, the other
        person's) the cache knows."""
        me, _ = self._me_and_pattern()
        rows = self.conn.execute(
            "SELECT g.id, CASE WHEN g.dm IS NOT NULL"
            "  THEN (SELECT name FROM users WHERE id = g.dm) ELSE g.name END AS shown,"
            " g.member, g.members,"
            " (SELECT count(*) FROM messages m WHERE m.grp = g.id AND m.seq > g.read_seq"
            "  AND m.user IS NOT ?),"
            # Every mention has an "@": the pattern (a call into Python) runs
            # only on the lines that have one.
            # In a direct chat, every unread line calls me.
            " CASE WHEN g.dm IS NOT NULL THEN (SELECT count(*) FROM messages m"
            "  WHERE m.grp = g.id AND m.seq > g.read_seq AND m.user IS NOT ?)"
            " ELSE (SELECT count(*) FROM messages m WHERE m.grp = g.id AND m.seq > g.read_seq"
            # Spelled as the partial index messages_at is, so that it serves.
            "  AND instr(m.text, '@') > 0 AND m.user IS NOT ? AND mentions_me(m.text)) END,"
            " g.parent, g.visibility, g.moderator, g.post_policy, g.chat_policy,"
            " g.comment_policy, g.description, g.dm, g.requested, g.pending,"
            # The last join or leave still in the outbox: it counts already for
            # what is written after it (which goes out after it, in order).
            " (SELECT o.op FROM outbox o WHERE o.grp = g.id AND o.op IN (?, ?)"
            "  AND o.error IS NULL ORDER BY o.n DESC LIMIT 1)"
            " FROM groups g WHERE g.known = 1 AND shown IS NOT NULL"
            " ORDER BY g.name COLLATE NOCASE",
            (me, me, me, JoinGroup.TYPE, LeaveGroup.TYPE),
        ).fetchall()
        return [_group_row(r) for r in rows]

    def group_by_name(self, name: str) -> GroupRow | None:
        """A group by name (case-insensitive) or by ``#ID``; None if unknown.

        Raises LookupError when several groups the user sees share the name.
        """
        wanted = name.strip()
        rows = [r for r in self.groups() if r.dm is None]
        if wanted.startswith("#") and wanted[1:].isascii() and wanted[1:].isdigit():
            return next((r for r in rows if r.group == int(wanted[1:])), None)
        found = [r for r in rows if r.name.casefold() == wanted.casefold()]
        if len(found) > 1:
            ids = ", ".join(f"#{r.group}" for r in found)
            raise LookupError(f"several groups are named {wanted!r}: use {ids}")
        return found[0] if found else None

    def direct_with(self, user: int) -> GroupRow | None:
        return next((r for r in self.groups() if r.dm == user), None)

    def user_by_name(self, name: str) -> int | None:
        row = self.conn.execute(
            "SELECT id FROM users WHERE name = ? COLLATE NOCASE", (name.strip(),)
        ).fetchone()
        return None if row is None else int(row[0])

    def unknown_groups(self, limit: int = 500) -> list[int]:
        """Groups events named before the cache knew their name (or, for a direct
        chat, the other person), and groups just joined: to ask the server about."""
        rows = self.conn.execute(
            "SELECT id FROM groups WHERE known = 0 OR stale = 1 LIMIT ?", (limit,)
        )
        return [r[0] for r in rows]

    def unknown_users(self, limit: int = 500) -> list[int]:
        rows = self.conn.execute(
            "SELECT DISTINCT m.user FROM messages m LEFT JOIN users u ON u.id = m.user"
            " WHERE u.name IS NULL"
            " UNION SELECT g.dm FROM groups g LEFT JOIN users u ON u.id = g.dm"
            " WHERE g.dm IS NOT NULL AND u.name IS NULL LIMIT ?",
            (limit,),
        )
        return [r[0] for r in rows]

    # -- messages --------------------------------------------------------------------------

    def messages(
        self, group: int, kind: str, *, before: int | None = None, limit: int = 200
    ) -> list[MessageRow]:
        """Up to ``limit`` messages before ``before``, oldest first; pending ones last."""
        rows = self.conn.execute(
            f"{_ROWS} WHERE m.grp = ? AND m.kind = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?",
            (group, kind, before if before is not None else 2**62, limit),
        ).fetchall()
        out = self._with_reactions([_message_row(r) for r in reversed(rows)])
        if before is None:
            out.extend(self.pending_rows(group, kind))
        return out

    def direct_messages(self, seqs: Iterable[int]) -> list[MessageRow]:
        """Of these messages, those others wrote in my direct chats (they alert)."""
        me, _ = self._me_and_pattern()
        wanted = list(seqs)[-500:]
        marks = ",".join("?" * len(wanted))
        rows = self.conn.execute(
            f"{_ROWS} JOIN groups g ON g.id = m.grp WHERE m.seq IN ({marks})"
            " AND g.dm IS NOT NULL AND m.user IS NOT ? ORDER BY m.seq",
            (*wanted, me),
        ).fetchall()
        return [_message_row(r) for r in rows]

    def messages_after(self, group: int, kind: str, after: int) -> list[MessageRow]:
        """Stored messages newer than ``after``, oldest first."""
        rows = self.conn.execute(
            f"{_ROWS} WHERE m.grp = ? AND m.kind = ? AND m.seq > ? ORDER BY m.seq",
            (group, kind, after),
        ).fetchall()
        return self._with_reactions([_message_row(r) for r in rows])

    def _waiting(self) -> tuple[list[React], dict[int, tuple[EditMessage, float]]]:
        """My reactions (in order) and edits (the last of each message) still
        in the outbox: one read for both."""
        reactions: list[React] = []
        edits: dict[int, tuple[EditMessage, float]] = {}
        for frame, created in self.conn.execute(
            "SELECT frame, created FROM outbox WHERE op IN (?, ?) AND error IS NULL ORDER BY n",
            (React.TYPE, EditMessage.TYPE),
        ).fetchall():
            request = decode_request(frame)
            if isinstance(request, React):
                reactions.append(request)
            elif isinstance(request, EditMessage):
                edits[request.target] = (request, created)
        return reactions, edits

    @staticmethod
    def _overlay_waiting_reactions(
        waiting: list[React], targets: set[int], found: dict[int, list[tuple[str, int, bool]]]
    ) -> None:
        """My reactions still in the outbox count already (found by a new user:
        one made offline was not shown until sent, inviting a second)."""
        for request in waiting:
            if request.target not in targets:
                continue
            have = {e: (n, mine) for e, n, mine in found.get(request.target, [])}
            count, mine = have.get(request.emoji, (0, False))
            if request.on and not mine:
                have[request.emoji] = (count + 1, True)
            elif not request.on and mine:
                have[request.emoji] = (count - 1, False)
            found[request.target] = [(e, n, m) for e, (n, m) in have.items() if n > 0]
            if not found[request.target]:
                del found[request.target]

    @staticmethod
    def _with_waiting_edits(
        rows: list[MessageRow], edits: dict[int, tuple[EditMessage, float]]
    ) -> list[MessageRow]:
        """``rows`` with my edits still in the outbox already made (found by a
        new user: an edit made offline showed the old text until sent)."""
        out = []
        for row in rows:
            found = edits.get(row.seq) if row.seq is not None else None
            if found is not None:
                edit, created = found
                title = row.title if edit.title is None else (edit.title or None)
                row = replace(row, text=edit.text, title=title, edited=created)
            out.append(row)
        return out

    def _with_reactions(self, rows: list[MessageRow]) -> list[MessageRow]:
        """``rows`` with the reactions the cache holds for them (and my edits
        and reactions still waiting to be sent)."""
        if not rows:
            return rows
        waiting, edits = self._waiting()
        rows = self._with_waiting_edits(rows, edits) if edits else rows
        seqs = [r.seq for r in rows if r.seq is not None]
        if not seqs:
            return rows
        me, _ = self._me_and_pattern()
        found: dict[int, list[tuple[str, int, bool]]] = {}
        for start in range(0, len(seqs), 500):
            chunk = seqs[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for target, emoji, count, mine in self.conn.execute(
                "SELECT target, emoji, count(*), max(user IS ?) FROM reactions"
                f" WHERE target IN ({marks}) AND present = 1 GROUP BY target, emoji",
                (me, *chunk),
            ):
                found.setdefault(target, []).append((emoji, count, bool(mine)))
        self._overlay_waiting_reactions(waiting, set(seqs), found)
        if not found:
            return rows
        return [
            replace(r, reactions=tuple(sorted(found[r.seq], key=_reaction_order)))
            if r.seq in found
            else r
            for r in rows
        ]

    def tail(self, group: int, kind: str, after: int) -> tuple[list[MessageRow], list[MessageRow]]:
        """Messages newer than ``after`` and the outbox's rows, read together."""
        with self._tx():
            return self.messages_after(group, kind, after), self.pending_rows(group, kind)

    def pending_rows(self, group: int, kind: str) -> list[MessageRow]:
        """The messages of ``group`` still in the outbox (with their error, if refused)."""
        me, name = self.identity()
        op = SendChat.TYPE if kind == ChatEvent.TYPE else SendPost.TYPE
        rows = self.conn.execute(
            "SELECT cid, created, text, error FROM outbox WHERE grp = ? AND op = ? ORDER BY n",
            (group, op),
        ).fetchall()
        return [
            MessageRow(None, group, kind, me or 0, name or "me", created, text, cid, error)
            for cid, created, text, error in rows
        ]

    def pending_rows_direct(self, user: int) -> list[MessageRow]:
        """First messages to someone, waiting while the direct chat does not exist yet."""
        me, name = self.identity()
        rows = self.conn.execute(
            "SELECT cid, created, text, error, frame FROM outbox WHERE op = ? ORDER BY n",
            (SendDirect.TYPE,),
        ).fetchall()
        out = []
        for cid, created, text, error, frame in rows:
            request = decode_request(frame)
            if isinstance(request, SendDirect) and request.user == user:
                out.append(
                    MessageRow(
                        None, 0, ChatEvent.TYPE, me or 0, name or "me", created, text, cid, error
                    )
                )
        return out

    def mark_read(self, group: int, upto: int | None = None) -> int:
        """Mark the group read (up to message ``upto``: what a view has shown,
        not what reached the cache since); returns where the reading stood
        before (a seq)."""
        before = self.conn.execute("SELECT read_seq FROM groups WHERE id = ?", (group,)).fetchone()
        if upto is None:
            self.conn.execute(
                "UPDATE groups SET read_seq = max(read_seq, (SELECT coalesce(max(seq), 0)"
                " FROM messages WHERE grp = ?)) WHERE id = ?",
                (group, group),
            )
        else:
            self.conn.execute(
                "UPDATE groups SET read_seq = max(read_seq, ?) WHERE id = ?", (upto, group)
            )
        self.conn.execute(
            "DELETE FROM seen WHERE grp = ? AND seq <= (SELECT read_seq FROM groups WHERE id = ?)",
            (group, group),
        )
        return int(before[0]) if before else 0

    def see_post(self, seq: int) -> bool:
        """Post ``seq`` was opened here: Home shows it read (its group's mark,
        which counts the chat too, stays where it is). True when it was unread."""
        found = self.conn.execute(
            "SELECT m.grp FROM messages m JOIN groups g ON g.id = m.grp"
            " WHERE m.seq = ? AND m.seq > g.read_seq",
            (seq,),
        ).fetchone()
        if found is None:
            return False
        added = self.conn.execute(
            "INSERT OR IGNORE INTO seen (seq, grp) VALUES (?, ?)", (seq, found[0])
        )
        return added.rowcount > 0

    # -- drafts ------------------------------------------------------------------------

    def draft(self, group: int) -> str:
        """What was begun in ``group`` and not sent. Group numbers are
        positive: a negative one, -N, is a comment begun under post N."""
        row = self.conn.execute("SELECT text FROM drafts WHERE grp = ?", (group,)).fetchone()
        return row[0] if row else ""

    def save_draft(self, group: int, text: str) -> None:
        if text.strip():
            self.conn.execute(
                "INSERT OR REPLACE INTO drafts (grp, text) VALUES (?, ?)", (group, text)
            )
        else:
            self.conn.execute("DELETE FROM drafts WHERE grp = ?", (group,))

    # -- other processes of the profile ------------------------------------------

    def mark(self) -> Mark:
        """Where to start following what other processes change (see changed_elsewhere)."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        top = self.conn.execute("SELECT coalesce(max(seq), 0) FROM messages").fetchone()[0]
        return Mark(version, top, self.cursor(), self._outbox_state())

    def _outbox_state(self) -> frozenset[tuple[str, int | None, str | None]]:
        return frozenset(self.conn.execute("SELECT cid, grp, error FROM outbox").fetchall())

    def changed_elsewhere(self, mark: Mark) -> tuple[Mark, Changes]:
        """What other processes of the profile changed in this file since ``mark``.

        Each process hears of the events its own connection brings; what only
        the file knows is found here: another process's writes being queued,
        answered or refused (the outbox), messages it stored that this process
        was not sent (it resumed from a cursor another one moved), and the
        edits, deletions and pins it applied to messages already here.
        Cheap when nothing changed: one pragma.
        """
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version == mark.version:
            return mark, Changes()
        changes = Changes()
        with self._tx():
            outbox = self._outbox_state()
            rows = self.conn.execute(
                "SELECT grp, seq FROM messages WHERE seq > ? ORDER BY seq", (mark.top,)
            ).fetchall()
            cursor = self.cursor()
            amended = (
                self.conn.execute(
                    "SELECT seq, grp, deleted FROM amends WHERE grp IS NOT NULL"
                    " AND max(edit_seq, pin_seq, del_seq) > ?",
                    (mark.cursor,),
                ).fetchall()
                if cursor > mark.cursor
                else []
            )
        for _, group, _ in outbox ^ mark.outbox:
            changes.outbox = True
            if group is not None:
                changes.messages.setdefault(group, [])
        for group, seq in rows:
            changes.messages.setdefault(group, []).append(seq)
        if rows:
            changes.groups = True  # unread counts
        for seq, group, deleted in amended:
            changes.messages.setdefault(group, []).append(seq)
            (changes.deleted if deleted else changes.edited).append(seq)
        top = rows[-1][1] if rows else mark.top
        return Mark(version, top, max(cursor, mark.cursor), outbox), changes
