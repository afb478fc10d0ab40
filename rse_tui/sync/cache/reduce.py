"""The one reducer: how each event changes the cache.

Every event the cache learns of goes through :meth:`Reducer._reduce`, one
handler per event class (``HANDLERS``), wherever it came from: the pushed
stream, a catch-up batch, a history page, or the acknowledgement of one of
our own writes (which the server does not echo: see acks.py, which turns an
acknowledgement into the events the server stored for it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rse_tui.protocol import (
    GROUP_SETTINGS,
    AckEvent,
    CharterEvent,
    ChatEvent,
    CommentEvent,
    DeleteEvent,
    EditEvent,
    Event,
    FeatureEvent,
    GroupEvent,
    GroupInfo,
    JoinEvent,
    Kind,
    LeaveEvent,
    PinEvent,
    PostEvent,
    ReactEvent,
    ReactionInfo,
    ReadEvent,
    RequestEvent,
    Role,
    ThreadInfo,
    UserInfo,
    Visibility,
    VoteEvent,
    settings_of,
)

from ..models import Changes, MessageRow
from .base import KINDS
from .feed import FeedReducer, MyVote, poll_definition


@dataclass(frozen=True, slots=True)
class DirectChat:
    """A fact only the writer of a first direct message knows at once: the
    direct chat ``group`` is with ``user``. (Others learn it by asking.)"""

    group: int
    user: int
    seq: int = 0


@dataclass(frozen=True, slots=True)
class NewGroup:
    """A fact only the creator of a group knows at once: ``user`` made
    ``group`` (and is its only member, a moderator), so it has no history
    before: nothing to ask the server for. (Others' devices, told of the
    creation and the join, ask once.)"""

    group: int
    user: int
    seq: int = 0


Fact = Event | DirectChat | NewGroup | MyVote


@dataclass(slots=True)
class Reduction:
    """One batch being applied: who we are, and what changed for the views."""

    me: int | None
    mention: re.Pattern[str] | None
    changes: Changes = field(default_factory=Changes)
    #: Ranges given back to the server, by (group, kind), of groups we are out of.
    given_back: dict[tuple[int, str], list[tuple[int, int]]] = field(default_factory=dict)
    #: Groups whose member count changed without the server's count (our own
    #: writes' events do not carry it): to ask the server about.
    recount: set[int] = field(default_factory=set)
    #: A person the cache has no name for came up (a new direct chat).
    unknown_users: bool = False


def _behind_us(event: Fact, given_back: dict[tuple[int, str], list[tuple[int, int]]]) -> bool:
    """A message from before a change of ours that the cache has applied
    already (a leave: its range is a hole, the server's to tell again);
    stored now, it would be a stale copy of a group we are out of. Pages
    fill holes; the stream and acknowledgements do not."""
    if not isinstance(event, ChatEvent | PostEvent):
        return False
    ranges = given_back.get((event.group, event.TYPE), ())
    return any(lo < event.seq <= hi for lo, hi in ranges)


# A group's settings, as columns of the cache's groups table.
_COLUMNS = ", ".join(GROUP_SETTINGS)
_MARKS = ", ".join("?" * len(GROUP_SETTINGS))
_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in GROUP_SETTINGS)


class Reducer(FeedReducer):
    """Applying what the server says (and what our acknowledged writes did)."""

    def apply(self, events: Iterable[Event], cursor: int | None = None) -> Changes:
        """Store pushed events (idempotently) and advance the cursor, in one transaction.

        The changes name every event given, stored now or before (by another
        process of the profile): each process reports what it received.
        """
        top = self.cursor()
        with self._tx():
            run = self._reduction(given_back=True)
            for event in events:
                top = max(top, event.seq)
                self._reduce(event, run)
            if cursor is not None:
                top = max(top, cursor)
            self.set("cursor", top)
        return run.changes

    def _reduction(self, *, given_back: bool, mentions: bool = True) -> Reduction:
        me, mention = self._me_and_pattern()
        return Reduction(
            me,
            mention if mentions else None,
            given_back=self._given_back() if given_back else {},
        )

    def _reduce(self, event: Fact, run: Reduction) -> None:
        if _behind_us(event, run.given_back):
            return
        handler = HANDLERS.get(type(event))
        if handler is not None:  # an event this client does not show (yet)
            handler(self, event, run)

    def _given_back(self) -> dict[tuple[int, str], list[tuple[int, int]]]:
        """The ranges given back to the server of groups we are out of, by
        (group, kind). Read once a batch: within it, a leave or a join only
        touches ranges below the events that follow it in the stream."""
        out: dict[tuple[int, str], list[tuple[int, int]]] = {}
        for grp, kind, lo, hi in self.conn.execute(
            "SELECT h.grp, h.kind, h.lo, h.hi FROM holes h JOIN groups g ON g.id = h.grp"
            " WHERE g.member = 0"
        ):
            out.setdefault((grp, kind), []).append((lo, hi))
        return out

    # -- one handler per event ---------------------------------------------------------

    def _on_message(self, event: ChatEvent | PostEvent | CommentEvent, run: Reduction) -> None:
        if isinstance(event, CommentEvent):
            reply: int | None = event.post
        else:
            reply = event.reply if isinstance(event, ChatEvent) else None
        post = event if isinstance(event, PostEvent) else None
        new = (
            reply is not None
            and not self.conn.execute(
                "SELECT 1 FROM messages WHERE seq = ? UNION ALL"
                " SELECT 1 FROM amends WHERE seq = ? AND deleted = 1",
                (event.seq, event.seq),
            ).fetchone()
        )
        self.conn.execute(
            "INSERT INTO messages (seq, grp, kind, user, ts, text, edited, reply, title, ack,"
            " poll) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(seq) DO UPDATE SET"
            " text = excluded.text, edited = excluded.edited, title = excluded.title"
            " WHERE excluded.edited >= coalesce(messages.edited, 0)",
            (event.seq, event.group, event.TYPE, event.user, event.ts, event.text,
             event.edited, reply, post and post.title, int(bool(post and post.ack)),
             poll_definition(post.poll) if post and post.poll else None),
        )  # fmt: skip
        if post is not None:
            self._post_extras(post)
        if new and reply is not None:  # one more in its thread
            self._thread_bump(reply, event.group, 1, event.seq)
            run.changes.messages.setdefault(event.group, []).append(reply)
            run.changes.edited.append(reply)
        self._amend(event.seq)
        # Reported whether or not this insert stored it: another process of
        # the profile, sharing this file, may have stored it first, and this
        # process's views have still not seen it.
        run.changes.messages.setdefault(event.group, []).append(event.seq)
        if event.user == run.me:  # what one wrote (here or elsewhere) is read
            self.conn.execute(
                "UPDATE groups SET read_seq = max(read_seq, ?) WHERE id = ?",
                (event.seq, event.group),
            )
        elif run.mention is not None and run.mention.search(event.text):
            run.changes.mentions.append(self._row(event))

    def _on_vote_event(self, event: VoteEvent, run: Reduction) -> None:
        target = self._on_vote(event, run.me)
        run.changes.messages.setdefault(event.group, []).append(target)
        run.changes.edited.append(target)

    def _on_my_vote_fact(self, fact: MyVote, run: Reduction) -> None:
        group = self._on_my_vote(fact)
        if group is not None:
            run.changes.messages.setdefault(group, []).append(fact.target)
            run.changes.edited.append(fact.target)

    def _on_ack_event(self, event: AckEvent, run: Reduction) -> None:
        self._on_ack(event, run.me)
        run.changes.messages.setdefault(event.group, []).append(event.target)
        run.changes.edited.append(event.target)
        run.changes.home = True

    def _on_read_event(self, event: ReadEvent, run: Reduction) -> None:
        self._on_read(event, run.me)
        run.changes.groups = True
        run.changes.home = True

    def _on_feature_event(self, event: FeatureEvent, run: Reduction) -> None:
        self._on_feature(event)
        run.changes.home = True

    def _on_group(self, event: GroupEvent, run: Reduction) -> None:
        # A direct chat's event does not say who the other person is: until
        # the cache knows, the group is not known (see unknown_groups).
        self.conn.execute(
            f"INSERT INTO groups (id, known, {_COLUMNS}) VALUES (?, ?, {_MARKS})"
            f" ON CONFLICT(id) DO UPDATE SET {_UPDATES},"
            " known = CASE WHEN groups.dm IS NOT NULL THEN 1 ELSE excluded.known END",
            (event.group, int(not event.dm), *settings_of(event).values()),
        )
        self._forget_pattern()  # a name we answer to may have changed
        run.changes.groups = True

    def _on_direct(self, event: DirectChat, run: Reduction) -> None:
        self.conn.execute(
            "INSERT INTO groups (id, name, member, members, visibility, dm,"
            " post_policy, comment_policy) VALUES (?, 'direct', 1, 2, 'secret', ?,"
            " 'moderators', 'nobody') ON CONFLICT(id) DO UPDATE SET dm = excluded.dm,"
            " known = 1",
            (event.group, event.user),
        )
        self.conn.executemany(
            "INSERT OR IGNORE INTO roles (grp, user, role) VALUES (?, ?, 'member')",
            [(event.group, u) for u in {event.user, run.me} if u is not None],
        )
        named = self.conn.execute("SELECT 1 FROM users WHERE id = ?", (event.user,)).fetchone()
        run.unknown_users |= named is None
        run.changes.groups = True

    def _on_new_group(self, event: NewGroup, run: Reduction) -> None:
        self.conn.execute(
            "UPDATE groups SET member = 1, moderator = 1, members = 1 WHERE id = ?",
            (event.group,),
        )
        self.conn.execute(
            "INSERT OR REPLACE INTO roles (grp, user, role) VALUES (?, ?, 'moderator')",
            (event.group, event.user),
        )
        run.changes.groups = True

    def _on_join(self, event: JoinEvent, run: Reduction) -> None:
        c = self.conn
        # A group first met through a join (a secret group one is added to, a
        # direct chat): named once the server has been asked.
        c.execute(
            "INSERT OR IGNORE INTO groups (id, name, known) VALUES (?, '', 0)", (event.group,)
        )
        known = c.execute(
            "SELECT 1 FROM roles WHERE grp = ? AND user = ?", (event.group, event.user)
        ).fetchone()
        c.execute(
            "INSERT OR REPLACE INTO roles (grp, user, role) VALUES (?, ?, ?)",
            (event.group, event.user, event.role),
        )
        was = c.execute("SELECT member FROM groups WHERE id = ?", (event.group,)).fetchone()
        if event.members is not None:  # the server's count: the same for everyone
            c.execute("UPDATE groups SET members = ? WHERE id = ?", (event.members, event.group))
        else:
            run.recount.add(event.group)
            if not known and not (event.user == run.me and was[0]):  # a role change: no new member
                c.execute("UPDATE groups SET members = members + 1 WHERE id = ?", (event.group,))
        if event.user == run.me:
            self._forget_pattern()
            c.execute(
                "UPDATE groups SET member = 1, requested = 0, moderator = ?,"
                " read_seq = max(read_seq, ?) WHERE id = ?",
                (int(event.role == Role.MODERATOR), event.seq, event.group),
            )
            if not was[0]:  # a role change, or our own join met again: no hole
                # What was said before we joined is on the server (a copy kept
                # from an earlier stay, or a look from outside, may be stale).
                self._history_on_server(event.group, event.seq, run.changes)
                self._ask_again(event.group)
        else:
            c.execute(  # someone let in: a request fewer (or none: never below 0)
                "UPDATE groups SET pending = max(pending - 1, 0) WHERE id = ?", (event.group,)
            )
        run.changes.groups = True

    def _on_leave(self, event: LeaveEvent, run: Reduction) -> None:
        c = self.conn
        was = c.execute("SELECT member FROM groups WHERE id = ?", (event.group,)).fetchone()
        if event.members is not None:
            c.execute("UPDATE groups SET members = ? WHERE id = ?", (event.members, event.group))
        else:
            run.recount.add(event.group)
            if event.user != run.me or (was and was[0]):  # our own leave met again: counted
                c.execute(
                    "UPDATE groups SET members = max(members - 1, 0) WHERE id = ?", (event.group,)
                )
        c.execute("DELETE FROM roles WHERE grp = ? AND user = ?", (event.group, event.user))
        if event.user == run.me:
            self._forget_pattern()
            c.execute("UPDATE groups SET member = 0, moderator = 0 WHERE id = ?", (event.group,))
            if event.by is not None:
                run.changes.removed.append(event.group)
            self._forget_content(event.group, event.seq, run.changes)
        run.changes.groups = True

    def _on_request(self, event: RequestEvent, run: Reduction) -> None:
        column = "requested = 1" if event.user == run.me else "pending = pending + 1"
        self.conn.execute(f"UPDATE groups SET {column} WHERE id = ?", (event.group,))
        run.changes.groups = True

    def _on_charter(self, event: CharterEvent, run: Reduction) -> None:
        self.set("charter", event.version)
        run.changes.charter = event.version

    def _on_delete(self, event: DeleteEvent, run: Reduction) -> None:
        parent = self.conn.execute(
            "SELECT reply FROM messages WHERE seq = ? AND reply IS NOT NULL", (event.target,)
        ).fetchone()
        if parent is not None and event.group:  # one fewer in its thread
            self._thread_bump(parent[0], event.group, -1, event.seq)
            run.changes.messages.setdefault(event.group, []).append(parent[0])
            run.changes.edited.append(parent[0])
        self._delete(event.target, event.group or None, event.seq)
        # A post's thread goes with it.
        for (comment,) in self.conn.execute(
            "SELECT seq FROM messages WHERE reply = ? AND kind = ?", (event.target, Kind.COMMENT)
        ).fetchall():
            self._delete(comment, event.group or None, event.seq)
        if event.group:
            run.changes.messages.setdefault(event.group, []).append(event.target)
            run.changes.deleted.append(event.target)

    def _on_edit(self, event: EditEvent, run: Reduction) -> None:
        self._edit(event.target, event.text, event.ts, event.seq, event.group or None, event.title)
        if event.group:
            run.changes.messages.setdefault(event.group, []).append(event.target)
            run.changes.edited.append(event.target)

    def _on_react(self, event: ReactEvent, run: Reduction) -> None:
        if not event.group:
            return  # a message this cache does not hold: its group's history will say
        self._reaction(event.target, event.user, event.emoji, event.group, event.on, event.seq)
        if event.on:  # when it was put, for the inbox (a page's confirmations move version)
            self.conn.execute(
                "UPDATE reactions SET put_seq = ? WHERE target = ? AND user = ? AND emoji = ?"
                " AND put_seq < ?",
                (event.seq, event.target, event.user, event.emoji, event.seq),
            )
        run.changes.messages.setdefault(event.group, []).append(event.target)
        run.changes.edited.append(event.target)

    def _reaction(
        self, target: int, user: int, emoji: str, group: int, present: bool, version: int
    ) -> None:
        """Only newer news of a reaction replaces older, in whatever order they come."""
        self.conn.execute(
            "INSERT INTO reactions (target, user, emoji, grp, present, version)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET present = excluded.present,"
            " version = excluded.version WHERE excluded.version > reactions.version",
            (target, user, emoji, group, int(present), version),
        )

    def _page_reactions(
        self, group: int, targets: list[int], reactions: list[ReactionInfo], as_of: int
    ) -> None:
        """A page's reactions: true as of event ``as_of`` for its messages."""
        listed = {(r.target, u, r.emoji) for r in reactions for u in r.users}
        marks = ",".join("?" * len(targets))
        held = self.conn.execute(
            f"SELECT target, user, emoji FROM reactions WHERE target IN ({marks}) AND present = 1",
            targets,
        ).fetchall()
        for target, user, emoji in held:
            if (target, user, emoji) not in listed:
                self._reaction(target, user, emoji, group, False, as_of)
        for target, user, emoji in listed:
            self._reaction(target, user, emoji, group, True, as_of)

    def _page_extras(
        self,
        group: int,
        events: list[Event],
        reactions: list[ReactionInfo],
        threads: list[ThreadInfo],
        as_of: int,
    ) -> None:
        """A page's reactions and thread counts, true as of event ``as_of`` (0:
        the page's messages have none; only what the cache does not hold yet
        takes that)."""
        seqs = [e.seq for e in events]
        if not seqs:
            return
        if as_of:
            self._page_reactions(group, seqs, reactions, as_of)
        self._page_threads(group, seqs, threads, as_of)

    def _on_pin(self, event: PinEvent, run: Reduction) -> None:
        self._pin(event.target, event.on, event.seq, event.group or None)
        if event.group:
            run.changes.messages.setdefault(event.group, []).append(event.target)
            run.changes.edited.append(event.target)

    # -- edits, deletions and pins, whenever the message itself arrives -----------------

    def _delete(self, target: int, group: int | None, version: int) -> None:
        """For good: a copy that comes later (a page asked for before) stays out."""
        self.conn.execute(
            "INSERT INTO amends (seq, grp, deleted, del_seq) VALUES (?, ?, 1, ?)"
            " ON CONFLICT(seq) DO UPDATE SET deleted = 1,"
            " del_seq = max(amends.del_seq, excluded.del_seq)",
            (target, group, version),
        )
        self.conn.execute("DELETE FROM messages WHERE seq = ?", (target,))

    def _edit(
        self,
        target: int,
        text: str,
        ts: int,
        version: int,
        group: int | None,
        title: str | None = None,
    ) -> None:
        """Only a later edit replaces an earlier one, in whatever order they come."""
        self.conn.execute(
            "INSERT INTO amends (seq, grp, text, edited, edit_seq, title) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(seq) DO UPDATE SET text = excluded.text, edited = excluded.edited,"
            " edit_seq = excluded.edit_seq, title = coalesce(excluded.title, amends.title)"
            " WHERE excluded.edit_seq > amends.edit_seq",
            (target, group, text, ts, version, title),
        )
        self._amend(target)

    def _pin(self, target: int, on: bool, version: int, group: int | None) -> None:
        self.conn.execute(
            "INSERT INTO amends (seq, grp, pinned, pin_seq) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(seq) DO UPDATE SET pinned = excluded.pinned,"
            " pin_seq = excluded.pin_seq WHERE excluded.pin_seq > amends.pin_seq",
            (target, group, int(on), version),
        )
        self._amend(target)

    def _pins_as_of(self, group: int, pins: list[int], head: int) -> None:
        """The server's list of a group's pins, true as of event ``head``: for
        messages cached now and those to come (a history page does not say
        which are pinned); a pin event after ``head`` still wins."""
        for seq in pins:
            self._pin(seq, True, head, group)
        marks = ",".join("?" * len(pins))
        unpinned = self.conn.execute(
            f"SELECT seq FROM messages WHERE grp = ? AND pinned = 1 AND seq NOT IN ({marks})",
            (group, *pins),
        ).fetchall()
        for (seq,) in unpinned:
            self._pin(seq, False, head, group)

    def _amend(self, seq: int) -> None:
        """Give a stored message what the cache heard of it since (or before) it came."""
        row = self.conn.execute(
            "SELECT deleted, text, edited, pinned, title FROM amends WHERE seq = ?", (seq,)
        ).fetchone()
        if row is None:
            return
        deleted, text, edited, pinned, title = row
        if deleted:
            self.conn.execute("DELETE FROM messages WHERE seq = ?", (seq,))
            return
        if text is not None:
            self.conn.execute(
                "UPDATE messages SET text = ?, edited = ? WHERE seq = ?", (text, edited, seq)
            )
        if title is not None:
            self.conn.execute(
                "UPDATE messages SET title = nullif(?, '') WHERE seq = ?", (title, seq)
            )
        if pinned is not None:
            self.conn.execute("UPDATE messages SET pinned = ? WHERE seq = ?", (pinned, seq))

    def user_name(self, user: int) -> str:
        row = self.conn.execute("SELECT name FROM users WHERE id = ?", (user,)).fetchone()
        return row[0] if row and row[0] else f"user{user}"

    def _row(self, event: ChatEvent | PostEvent | CommentEvent) -> MessageRow:
        return MessageRow(
            seq=event.seq,
            group=event.group,
            kind=event.TYPE,
            user=event.user,
            author=self.user_name(event.user),
            ts=event.ts,
            text=event.text,
        )

    # -- what the server lists -----------------------------------------------------------

    def put_groups(
        self,
        groups: Iterable[GroupInfo],
        *,
        fresh: bool = False,
        only: Iterable[int] | None = None,
    ) -> Changes:
        """Take the server's group list as the truth (keeping read marks).

        With ``only``, the list answers a question about those groups: the
        others stay as they are, and those of them left out (the user may not
        see them) are forgotten.

        A group the list says we are in, and the cache did not, was joined
        (or we were added) before the stream said so: what it said before is
        the server's to tell, as on a join (the join event, when it comes,
        finds us in already and opens no hole of its own).
        """
        groups = list(groups)
        changes = Changes(groups=True)
        with self._tx():
            joined = {
                g.group
                for g in groups
                if g.member
                and g.head
                and not fresh
                and not self.conn.execute(
                    "SELECT 1 FROM groups WHERE id = ? AND member = 1", (g.group,)
                ).fetchone()
            }
            ids = [g.group for g in groups]
            if only is not None:
                gone = [i for i in only if i not in ids]
                marks = ",".join("?" * len(gone))
                self.conn.execute(f"DELETE FROM groups WHERE id IN ({marks})", gone)
            elif ids:
                marks = ",".join("?" * len(ids))
                self.conn.execute(f"DELETE FROM groups WHERE id NOT IN ({marks})", ids)
            else:
                self.conn.execute("DELETE FROM groups")
            for g in groups:
                self.conn.execute(
                    f"INSERT INTO groups (id, {_COLUMNS}, member, members, moderator, dm,"
                    f" requested) VALUES (?, {_MARKS}, ?, ?, ?, ?, ?)"
                    f" ON CONFLICT(id) DO UPDATE SET known = 1, stale = 0, {_UPDATES},"
                    " member = excluded.member, members = excluded.members,"
                    " moderator = excluded.moderator, dm = excluded.dm,"
                    " requested = excluded.requested",
                    (g.group, *settings_of(g).values(), int(g.member), g.members,
                     int(g.moderator), g.dm, int(g.requested)),
                )  # fmt: skip
                if g.group in joined:
                    self._history_on_server(g.group, g.head, changes)
                if g.head:  # the group's pins as of its newest event, for every message
                    self._pins_as_of(g.group, g.pins, g.head)
                if fresh and g.member and g.head:
                    # History from before this device arrived is there to read,
                    # not "unread".
                    self.conn.execute(
                        "UPDATE groups SET read_seq = max(read_seq, ?) WHERE id = ?",
                        (g.head, g.group),
                    )
                    for kind in KINDS:
                        self._add_hole(g.group, kind, 0, g.head)
        return changes

    def put_users(self, users: Iterable[UserInfo]) -> None:
        with self._tx():
            self.conn.executemany(
                "INSERT OR REPLACE INTO users (id, name, title, badge) VALUES (?, ?, ?, ?)",
                [(u.user, u.name, u.title, u.badge) for u in users],
            )

    def put_roles(self, group: int, members: Iterable[int], moderators: Iterable[int]) -> None:
        """A group's members as the server listed them."""
        mods = set(moderators)
        with self._tx():
            self.conn.execute("DELETE FROM roles WHERE grp = ?", (group,))
            self.conn.executemany(
                "INSERT INTO roles (grp, user, role) VALUES (?, ?, ?)",
                [(group, u, Role.MODERATOR if u in mods else Role.MEMBER) for u in members],
            )

    # -- holes: history the cache knows it lacks ---------------------------------------

    def _add_hole(self, group: int, kind: str, lo: int, hi: int) -> None:
        if hi > lo:
            self.conn.execute(
                "INSERT INTO holes (grp, kind, lo, hi) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO UPDATE SET hi = max(hi, excluded.hi)",
                (group, kind, lo, hi),
            )

    def add_gap(self, upto: int) -> Changes:
        """The server skipped events up to ``upto`` (too many to replay): every
        group we are in may lack messages, and the messages we hold may have
        been edited, deleted or pinned meanwhile. Their history up to there is
        the server's to tell again, on demand. (Called again once the group
        list is fresh, for the groups we were added to meanwhile.)"""
        changes = Changes()
        with self._tx():
            for (group,) in self.conn.execute("SELECT id FROM groups WHERE member = 1").fetchall():
                self._history_on_server(group, upto, changes)
        return changes

    def hole_below(self, group: int, kind: str, seq: int | None) -> tuple[int, int] | None:
        """The newest hole below ``seq`` (or anywhere, when None): (lo, hi)."""
        row = self.conn.execute(
            "SELECT lo, hi FROM holes WHERE grp = ? AND kind = ? AND lo < ?"
            " ORDER BY hi DESC LIMIT 1",
            (group, kind, seq if seq is not None else 2**62),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def fill_hole(
        self,
        group: int,
        kind: str,
        hole: tuple[int, int],
        events: list[Event],
        more: bool,
        reactions: list[ReactionInfo] | None = None,
        as_of: int = 0,
        threads: list[ThreadInfo] | None = None,
    ) -> Changes:
        """Store a page fetched with ``before = hi + 1`` and shrink the hole to what
        is still missing below it (nothing, when the server has no more)."""
        lo = hole[0]
        with self._tx():
            run = self._reduction(given_back=False, mentions=False)
            for event in events:
                self._reduce(event, run)
            self._page_extras(group, events, reactions or [], threads or [], as_of)
            self.conn.execute(
                "DELETE FROM holes WHERE grp = ? AND kind = ? AND lo = ?", (group, kind, lo)
            )
            oldest = min((e.seq for e in events), default=lo)
            if more and oldest > lo + 1:
                self._add_hole(group, kind, lo, oldest - 1)
        return run.changes

    def _forget_content(self, group: int, upto: int, changes: Changes) -> None:
        """Out of a group: what it said leaves this device too. Private and secret
        content is for members; and an open group's news (edits, deletions)
        no longer reach those outside, so a copy kept would go stale, and
        keep what its authors or moderators deleted. Its history is a hole
        again: a reader asks the server, which says whether they may. A
        secret group leaves the list."""
        row = self.conn.execute("SELECT visibility FROM groups WHERE id = ?", (group,)).fetchone()
        self._history_on_server(group, upto, changes)
        if row is not None and row[0] == Visibility.SECRET:
            self.conn.execute("UPDATE groups SET known = 0 WHERE id = ? AND dm IS NULL", (group,))

    def _ask_again(self, group: int) -> None:
        """Joined: the group's pins, head and count are asked for (a history page
        does not say which messages are pinned), until the server has answered.
        (Not on a leave: a list asked for then may come back after a rejoin,
        saying we are in before the stream does.)"""
        self.conn.execute("UPDATE groups SET stale = 1 WHERE id = ?", (group,))

    def _history_on_server(self, group: int, upto: int, changes: Changes) -> None:
        """Everything up to ``upto`` is the server's to tell again: a hole."""
        self.conn.execute("DELETE FROM messages WHERE grp = ? AND seq <= ?", (group, upto))
        # What was heard of them by then goes too: a page fetched later is the
        # server's truth. News from after ``upto`` (a pin, which pages do not
        # carry) still holds.
        self.conn.execute(
            "DELETE FROM amends WHERE grp = ? AND seq <= ? AND edit_seq <= ? AND pin_seq <= ?",
            (group, upto, upto, upto),
        )
        for table in ("reactions", "threads", "polls"):
            self.conn.execute(f"DELETE FROM {table} WHERE grp = ? AND target <= ?", (group, upto))
        for kind in KINDS:  # one hole from the start, swallowing those it meets
            top = self.conn.execute(
                "SELECT max(hi) FROM holes WHERE grp = ? AND kind = ? AND lo <= ?",
                (group, kind, upto),
            ).fetchone()[0]
            self.conn.execute(
                "DELETE FROM holes WHERE grp = ? AND kind = ? AND lo <= ?", (group, kind, upto)
            )
            self._add_hole(group, kind, 0, max(upto, top or 0))
        changes.messages.setdefault(group, [])
        changes.forgotten.append(group)


Handler = Callable[[Reducer, Any, Reduction], None]

#: The reducer's table: one handler per kind of event.
HANDLERS: dict[type, Handler] = {
    ChatEvent: Reducer._on_message,
    PostEvent: Reducer._on_message,
    GroupEvent: Reducer._on_group,
    DirectChat: Reducer._on_direct,
    NewGroup: Reducer._on_new_group,
    JoinEvent: Reducer._on_join,
    LeaveEvent: Reducer._on_leave,
    RequestEvent: Reducer._on_request,
    CharterEvent: Reducer._on_charter,
    DeleteEvent: Reducer._on_delete,
    EditEvent: Reducer._on_edit,
    PinEvent: Reducer._on_pin,
    ReactEvent: Reducer._on_react,
    CommentEvent: Reducer._on_message,
    VoteEvent: Reducer._on_vote_event,
    MyVote: Reducer._on_my_vote_fact,
    AckEvent: Reducer._on_ack_event,
    ReadEvent: Reducer._on_read_event,
    FeatureEvent: Reducer._on_feature_event,
}
