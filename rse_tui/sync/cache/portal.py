"""Reading the feed's places from the cache: a thread, the home portal, the
inbox; and storing what the server answers for them."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from rse_tui.protocol import (
    Event,
    HomePage,
    Kind,
    Reaction,
    SendChat,
    SendComment,
    ThreadPage,
    decode_request,
)

from ..models import Changes, Home, InboxItem, InboxKind, MessageRow, Thread
from .reduce import Reducer
from .views import _ROWS, Views, _message_row

#: How far ahead a closing poll concerns me (seconds).
POLL_SOON = 24 * 3600
INBOX_LIMIT = 200


class Portal(Reducer, Views):
    """Threads, the home portal and the inbox."""

    # -- threads -------------------------------------------------------------------

    def put_thread(self, page: ThreadPage) -> Changes:
        """Store a thread the server sent: its messages, their reactions and
        counts, and whether I voted in its poll and acknowledged it."""
        with self._tx():
            self.put_users(page.users)
            run = self._reduction(given_back=False, mentions=False)
            for event in page.events:
                self._reduce(event, run)
            if page.events:
                group = getattr(page.events[0], "group", 0)
                self._page_extras(group, page.events, page.reactions, page.threads, page.as_of)
                root = page.events[0].seq
                mine = [b.choices for b in page.ballots if b.user == run.me]
                if mine:
                    self._mine(root, voted=mine[0])
                elif page.voted:  # an anonymous vote: that I voted, not what
                    known = self.conn.execute(
                        "SELECT 1 FROM mine WHERE target = ? AND voted IS NOT NULL", (root,)
                    ).fetchone()
                    if not known:
                        self._mine(root, voted=[])
                if page.acked:
                    self._mine(root, acked=True)
        return run.changes

    def thread(self, target: int) -> Thread | None:
        """A message with its comments or replies as cached (a comment: its
        post's), its own waiting ones last; None when the message is not here."""
        row = self.conn.execute(f"{_ROWS} WHERE m.seq = ?", (target,)).fetchone()
        if row is None:
            return None
        root = _message_row(row)
        if root.kind == Kind.COMMENT and root.reply is not None:
            return self.thread(root.reply)
        kind = Kind.COMMENT if root.kind == Kind.POST else Kind.CHAT
        rows = self.conn.execute(
            f"{_ROWS} WHERE m.reply = ? AND m.kind = ? ORDER BY m.seq", (target, kind)
        ).fetchall()
        replies = self._with_reactions([root, *(_message_row(r) for r in rows)])
        return Thread(replies[0], replies[1:] + self._pending_replies(root))

    def _pending_replies(self, root: MessageRow) -> list[MessageRow]:
        me, name = self.identity()
        op = SendComment.TYPE if root.kind == Kind.POST else SendChat.TYPE
        out = []
        for cid, created, text, error, frame in self.conn.execute(
            "SELECT cid, created, text, error, frame FROM outbox WHERE op = ? ORDER BY n", (op,)
        ).fetchall():
            request = decode_request(frame)
            answers = getattr(request, "post", None) or getattr(request, "reply", None)
            if answers == root.seq:
                kind = Kind.COMMENT if root.kind == Kind.POST else Kind.CHAT
                out.append(
                    MessageRow(None, root.group, kind, me or 0, name or "me", created, text, cid,
                               error, reply=root.seq)
                )  # fmt: skip
        return out

    def reactors(self, target: int) -> list[tuple[str, list[str]]]:
        """Who put each reaction on message ``target``, in the words' order."""
        found: dict[str, list[str]] = {}
        for emoji, name in self.conn.execute(
            "SELECT r.emoji, coalesce(u.name, 'user' || r.user) FROM reactions r"
            " LEFT JOIN users u ON u.id = r.user WHERE r.target = ? AND r.present = 1"
            " ORDER BY r.version",
            (target,),
        ):
            found.setdefault(emoji, []).append(name)
        order = {w: n for n, w in enumerate(Reaction.words())}
        return sorted(found.items(), key=lambda item: order.get(item[0], len(order)))

    # -- the home portal ---------------------------------------------------------------

    def put_home(self, page: HomePage) -> Changes:
        with self._tx():
            self.put_users(page.users)
            run = self._reduction(given_back=False, mentions=False)
            by_group: dict[int, list[Event]] = {}
            for event in page.events:
                self._reduce(event, run)
                by_group.setdefault(getattr(event, "group", 0), []).append(event)
            for group, events in by_group.items():
                mine = [r for r in page.reactions if r.target in {e.seq for e in events}]
                self._page_extras(group, events, mine, page.threads, page.as_of)
            self.put_featured(page.events, page.featured, page.as_of)
            run.changes.home = True
        return run.changes

    def _rows_of(self, wanted: list[int]) -> list[tuple[Any, ...]]:
        """The posts among ``wanted`` (sequence numbers), newest first."""
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        return self.conn.execute(
            f"{_ROWS} WHERE m.kind = ? AND m.seq IN ({marks}) ORDER BY m.seq DESC",
            (Kind.POST, *wanted),
        ).fetchall()

    def home(self, limit: int = 30) -> Home:
        """Featured posts (for everyone, and pinned in my groups), then the
        newest ``limit`` posts of my groups, as cached."""
        featured = self._rows_of(
            [
                seq
                for (seq,) in self.conn.execute(
                    "SELECT target FROM featured WHERE present = 1 UNION SELECT m.seq"
                    " FROM messages m WHERE m.pinned = 1"
                    " AND m.grp IN (SELECT id FROM groups WHERE member = 1)"
                )
            ]
        )
        # The newest of each group through the index, then the newest of those
        # (one sort of every post of every group cost the first paint 8 ms).
        newest_seqs: list[int] = []
        for (group,) in self.conn.execute("SELECT id FROM groups WHERE member = 1").fetchall():
            newest_seqs += [
                seq
                for (seq,) in self.conn.execute(
                    "SELECT seq FROM messages WHERE grp = ? AND kind = ? ORDER BY seq DESC LIMIT ?",
                    (group, Kind.POST, limit),
                )
            ]
        posts = self._rows_of(sorted(newest_seqs, reverse=True)[:limit])
        top = self._with_reactions([_message_row(r) for r in featured])
        newest = self._with_reactions([_message_row(r) for r in posts])
        shown = {r.group for r in [*top, *newest]}
        # Names only: the group list's unread counts are not needed here.
        marks = ",".join("?" * len(shown))
        names = {
            gid: name
            for gid, name in self.conn.execute(
                "SELECT g.id, CASE WHEN g.dm IS NOT NULL THEN (SELECT name FROM users"
                f" WHERE id = g.dm) ELSE g.name END FROM groups g WHERE g.id IN ({marks})"
                " AND g.known = 1",
                sorted(shown),
            )
            if name is not None
        }
        me, _ = self._me_and_pattern()
        # Unread: only the posts shown, each against its group's read mark
        # (every unread post of a busy cache cost the first paint 20 ms).
        marks_of = dict(
            self.conn.execute(
                f"SELECT id, read_seq FROM groups WHERE id IN ({marks})", sorted(shown)
            ).fetchall()
        )
        seen = {
            seq
            for (seq,) in self.conn.execute(
                f"SELECT seq FROM seen WHERE grp IN ({marks})", sorted(shown)
            ).fetchall()
        }
        unread = frozenset(
            r.seq
            for r in [*top, *newest]
            if r.seq is not None
            and r.user != me
            and r.seq > (marks_of.get(r.group) or 0)
            and r.seq not in seen
        )
        return Home(top, newest, names, unread)

    # -- the inbox ---------------------------------------------------------------------

    def inbox(self, *, unread_only: bool = False, now: float | None = None) -> list[InboxItem]:
        """What concerns me, newest first: mentions, replies to mine and comments
        on my posts, reactions to mine, announcements to acknowledge, polls
        closing within a day that I have not voted in."""
        me, _ = self._me_and_pattern()
        if me is None:
            return []
        now = time.time() if now is None else now
        read = int(self.get("inbox_read", "0") or 0)
        items: list[InboxItem] = []
        name = "coalesce(u.name, 'user' || {0}.user)"
        for seq, grp, who, text, ts in self.conn.execute(
            f"SELECT m.seq, m.grp, {name.format('m')}, m.text, m.ts FROM messages m"
            " LEFT JOIN users u ON u.id = m.user"
            # Only the lines with an "@" (the partial index messages_at) reach
            # the pattern: every mention has one.
            " WHERE instr(m.text, '@') > 0 AND m.user != ? AND mentions_me(m.text)"
            " ORDER BY m.seq DESC LIMIT ?",
            (me, INBOX_LIMIT),
        ):
            items.append(InboxItem(seq, InboxKind.MENTION, grp, seq, who, text, ts=ts))
        mentioned = {i.seq for i in items}
        for seq, grp, who, text, kind, ts in self.conn.execute(
            f"SELECT m.seq, m.grp, {name.format('m')}, m.text, m.kind, m.ts FROM messages m"
            " JOIN messages p ON p.seq = m.reply AND p.user = ?"
            " LEFT JOIN users u ON u.id = m.user"
            " WHERE m.user != ? AND m.kind IN (?, ?) ORDER BY m.seq DESC LIMIT ?",
            (me, me, Kind.CHAT, Kind.COMMENT, INBOX_LIMIT),
        ):
            if seq not in mentioned:
                what = InboxKind.COMMENT if kind == Kind.COMMENT else InboxKind.REPLY
                items.append(InboxItem(seq, what, grp, seq, who, text, ts=ts))
        # A reaction counts from the event that put it (a page that only
        # confirms one is no news: put_seq 0).
        for put, grp, target, who, emoji, about in self.conn.execute(
            f"SELECT r.put_seq, r.grp, r.target, {name.format('r')}, r.emoji,"
            " coalesce(m.title, m.text) FROM reactions r"
            " JOIN messages m ON m.seq = r.target AND m.user = ?"
            " LEFT JOIN users u ON u.id = r.user"
            " WHERE r.user != ? AND r.present = 1 AND r.put_seq > 0"
            " ORDER BY r.put_seq DESC LIMIT ?",
            (me, me, INBOX_LIMIT),
        ):
            items.append(
                InboxItem(put, InboxKind.REACTION, grp, target, who, emoji, about=about or "")
            )
        for seq, grp, who, title, text, poll, ts in self.conn.execute(
            f"SELECT m.seq, m.grp, {name.format('m')}, m.title, m.text, m.poll, m.ts"
            " FROM messages m"
            " JOIN groups g ON g.id = m.grp AND g.member = 1"
            " LEFT JOIN users u ON u.id = m.user LEFT JOIN mine my ON my.target = m.seq"
            " WHERE m.kind = ? AND m.user != ? AND ((m.ack = 1 AND coalesce(my.acked, 0) = 0)"
            "  OR (m.poll IS NOT NULL AND my.voted IS NULL))"
            " ORDER BY m.seq DESC LIMIT ?",
            (Kind.POST, me, INBOX_LIMIT),
        ):
            shown = title or text
            if poll is None:
                items.append(InboxItem(seq, InboxKind.ACK, grp, seq, who, shown, True, ts))
                continue
            closes = json.loads(poll).get("cl")
            if closes is not None and now < closes <= now + POLL_SOON:
                items.append(InboxItem(seq, InboxKind.POLL, grp, seq, who, shown, True, ts))
        out = []
        for item in sorted(items, key=lambda i: i.seq, reverse=True)[:INBOX_LIMIT]:
            # Something to do stays unread until done; the rest until the inbox is read.
            unread = (
                item.unread if item.kind in (InboxKind.ACK, InboxKind.POLL) else (item.seq > read)
            )
            if unread or not unread_only:
                out.append(replace(item, unread=unread))
        return out

    def read_inbox(self) -> int:
        """Everything in the inbox now is read here; returns the marker (a seq)."""
        items = self.inbox()
        top = max((i.seq for i in items), default=0)
        with self._tx():
            marker = max(int(self.get("inbox_read", "0") or 0), top)
            self.set("inbox_read", marker)
        return marker
