"""Groups: the tree, settings, membership and moderation, direct chats.

Each function loads the facts ``server.policy`` decides on (``access``) in the
transaction that acts on them. A group the user may not see raises the same
NotFound as a group that does not exist.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Sequence
from typing import Any

from rse_tui.protocol import (
    GROUP_SETTINGS,
    ChatPolicy,
    ErrorCode,
    Event,
    GroupEvent,
    GroupInfo,
    JoinEvent,
    JoinRequestInfo,
    LeaveEvent,
    PostPolicy,
    ProtocolError,
    RequestEvent,
    Role,
    Visibility,
    Vocabulary,
)

from .. import policy
from ..database import Outcome
from ..policy import Access, GroupFacts, NotFound
from .base import Receipt, append, group_body, keep_receipt

#: Group ids are drawn at random below this bound: numbers handed out in order
#: would show an outsider, by the ones missing from their list, which secret
#: groups and direct chats exist and when they were made.
GROUP_ID_SPACE = 2**31


def _new_group_id(conn: sqlite3.Connection) -> int:
    """An unused random group id (never 0: "no group" in a few places)."""
    while True:
        group = 1 + secrets.randbelow(GROUP_ID_SPACE - 1)
        if conn.execute("SELECT 1 FROM groups WHERE id = ?", (group,)).fetchone() is None:
            return group


_FACTS = "id, visibility, post_policy, chat_policy, comment_policy, dm_key IS NOT NULL"


def group_facts(conn: sqlite3.Connection, group: int) -> GroupFacts | None:
    row = conn.execute(f"SELECT {_FACTS} FROM groups WHERE id = ?", (group,)).fetchone()
    if row is None:
        return None
    group_id, visibility, post, chat, comment, dm = row
    return GroupFacts(group_id, visibility, post, chat, comment, dm=bool(dm))


def access(conn: sqlite3.Connection, user: int, group: int) -> Access:
    """What ``user`` is to ``group``; NotFound if the group does not exist.

    The same statements run whether the group exists or not: a missing group
    and a secret one (refused later, as missing) take the same path and time.
    """
    facts = group_facts(conn, group)
    row = conn.execute(
        "SELECT role FROM members WHERE grp = ? AND user = ?", (group, user)
    ).fetchone()
    admin = conn.execute("SELECT admin FROM users WHERE id = ?", (user,)).fetchone()
    if facts is None:
        raise NotFound("group")
    return Access(facts, row[0] if row else None, bool(admin and admin[0]))


def _user_exists(conn: sqlite3.Connection, user: int) -> bool:
    return conn.execute("SELECT 1 FROM users WHERE id = ?", (user,)).fetchone() is not None


def _choice(value: str, allowed: type[Vocabulary], what: str) -> str:
    if not allowed.knows(value):
        raise ProtocolError(ErrorCode.BAD_FIELD, f"{what} is one of: {', '.join(allowed)}")
    return value


def _check_name(conn: sqlite3.Connection, name: str, visibility: str, exclude: int = 0) -> None:
    """Names are unique among groups that are not secret (secret ones never collide:
    a collision would tell a non-member that the secret group exists)."""
    if visibility == Visibility.SECRET:
        return
    taken = conn.execute(
        "SELECT 1 FROM groups WHERE name = ? COLLATE NOCASE AND visibility != ?"
        " AND dm_key IS NULL AND id != ?",
        (name, Visibility.SECRET, exclude),
    ).fetchone()
    if taken:
        raise ProtocolError(ErrorCode.NAME_TAKEN, f"a group named {name!r} exists")


#: A group's settings are columns of ``groups`` by the same names.
_SETTINGS = ", ".join(GROUP_SETTINGS)


def _settings(conn: sqlite3.Connection, group: int) -> dict[str, Any]:
    """A group's settings as its row holds them, and ``dm``: whether it is a direct chat."""
    *values, dm = conn.execute(
        f"SELECT {_SETTINGS}, dm_key IS NOT NULL FROM groups WHERE id = ?", (group,)
    ).fetchone()
    return {**dict(zip(GROUP_SETTINGS, values, strict=True)), "dm": bool(dm)}


def _insert_group(
    conn: sqlite3.Connection,
    user: int,
    now: int,
    settings: dict[str, Any],
    dm_key: str | None = None,
) -> int:
    """Store a new group with ``settings`` (all of them), made by ``user``; its id."""
    group = _new_group_id(conn)
    conn.execute(
        f"INSERT INTO groups (id, creator, created, dm_key, {_SETTINGS})"
        f" VALUES (?, ?, ?, ?, {', '.join('?' * len(GROUP_SETTINGS))})",
        (group, user, now, dm_key, *(settings[column] for column in GROUP_SETTINGS)),
    )
    return group


def _settings_event(conn: sqlite3.Connection, group: int, user: int, now: int) -> GroupEvent:
    """Log the group's current settings as a ``g`` event."""
    settings = _settings(conn, group)
    parent = settings["parent"]
    if parent is not None:
        parent_facts = group_facts(conn, parent)
        if parent_facts is None or parent_facts.visibility == Visibility.SECRET:
            settings["parent"] = None  # never name a secret group in an event others may see
    seq = append(conn, GroupEvent.TYPE, group, user, now, group_body(settings))
    return GroupEvent(seq=seq, group=group, user=user, ts=now, **settings)


def add_membership(
    conn: sqlite3.Connection, group: int, user: int, role: str, by: int | None, now: int
) -> JoinEvent:
    """Make ``user`` a member with ``role`` (or change their role); log it.

    The event carries the member count after the change, so that every
    client shows the same count whatever it knew of the members before.
    """
    known = conn.execute(
        "SELECT 1 FROM members WHERE grp = ? AND user = ?", (group, user)
    ).fetchone()
    count = _member_count(conn, group) + (0 if known else 1)
    body = {"r": role if role != Role.MEMBER else None, "by": by, "mc": count}
    seq = append(conn, JoinEvent.TYPE, group, user, now, body)
    conn.execute(
        "INSERT INTO members (grp, user, joined, role) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (grp, user) DO UPDATE SET role = excluded.role",
        (group, user, seq, role),
    )
    conn.execute("DELETE FROM join_requests WHERE grp = ? AND user = ?", (group, user))
    return JoinEvent(seq=seq, group=group, user=user, role=role, by=by, members=count)


def _member_count(conn: sqlite3.Connection, group: int) -> int:
    return int(conn.execute("SELECT count(*) FROM members WHERE grp = ?", (group,)).fetchone()[0])


def _remove_membership(
    conn: sqlite3.Connection, group: int, user: int, by: int | None, now: int
) -> LeaveEvent:
    count = _member_count(conn, group) - 1
    seq = append(conn, LeaveEvent.TYPE, group, user, now, {"by": by, "mc": count})
    conn.execute("DELETE FROM members WHERE grp = ? AND user = ?", (group, user))
    return LeaveEvent(seq=seq, group=group, user=user, by=by, members=count)


def _done(
    conn: sqlite3.Connection, user: int, cid: str, result: Receipt, events: list[Event]
) -> Outcome[Receipt]:
    keep_receipt(conn, user, cid, result)
    return Outcome(result, events)


# -- the tree and settings ----------------------------------------------------------


def create_group(
    conn: sqlite3.Connection,
    user: int,
    name: str,
    cid: str,
    now: int,
    *,
    parent: int | None = None,
    visibility: str = Visibility.OPEN,
    post_policy: str = PostPolicy.EVERYONE,
    chat_policy: str = ChatPolicy.EVERYONE,
    comment_policy: str = ChatPolicy.EVERYONE,
    description: str = "",
) -> Outcome[Receipt]:
    """A new group; its creator is its first moderator."""
    _choice(visibility, Visibility, "visibility")
    _choice(post_policy, PostPolicy, "the post policy")
    _choice(chat_policy, ChatPolicy, "the chat policy")
    _choice(comment_policy, ChatPolicy, "the comment policy")
    if parent is not None:
        up = policy.require_visible(access(conn, user, parent))
        if up.facts.dm or not policy.moderates(up):
            raise policy.forbidden("only the parent group's moderators may add groups under it")
        if up.facts.visibility == Visibility.SECRET and visibility != Visibility.SECRET:
            raise policy.forbidden("a group under a secret group must be secret too")
    _check_name(conn, name, visibility)
    settings = {
        "name": name,
        "parent": parent,
        "visibility": visibility,
        "post_policy": post_policy,
        "chat_policy": chat_policy,
        "comment_policy": comment_policy,
        "description": description,
    }
    group = _insert_group(conn, user, now, settings)
    created = _settings_event(conn, group, user, now)
    joined = add_membership(conn, group, user, Role.MODERATOR, None, now)
    return _done(conn, user, cid, Receipt(seq=joined.seq, ts=now, group=group), [created, joined])


def update_group(
    conn: sqlite3.Connection, user: int, group: int, cid: str, now: int, **changes: str | None
) -> Outcome[Receipt]:
    """Change settings (moderators and admins); absent ones stay."""
    policy.require_moderator(access(conn, user, group))
    checks: dict[str, type[Vocabulary]] = {
        "visibility": Visibility,
        "post_policy": PostPolicy,
        "chat_policy": ChatPolicy,
        "comment_policy": ChatPolicy,
    }
    wanted = {k: v for k, v in changes.items() if v is not None}
    for key, value in wanted.items():
        if key in checks:
            _choice(value, checks[key], key.replace("_", " "))
        elif key not in ("name", "description"):
            raise ValueError(f"unknown setting {key}")
    name, visibility, parent = conn.execute(
        "SELECT name, visibility, parent FROM groups WHERE id = ?", (group,)
    ).fetchone()
    new_visibility = wanted.get("visibility", visibility)
    if new_visibility != visibility:
        _check_tree_secrecy(conn, group, parent, new_visibility)
    _check_name(conn, wanted.get("name", name), new_visibility, group)
    for key, value in wanted.items():  # keys are checked above: no injection
        conn.execute(f"UPDATE groups SET {key} = ? WHERE id = ?", (value, group))
    event = _settings_event(conn, group, user, now)
    return _done(conn, user, cid, Receipt(seq=event.seq, ts=now), [event])


def _check_tree_secrecy(
    conn: sqlite3.Connection, group: int, parent: int | None, visibility: str | None
) -> None:
    """The rule ``gcreate`` keeps, kept by ``gset`` too: under a secret group
    every group is secret (a visible one would name its secret parent)."""
    if visibility != Visibility.SECRET and parent is not None:
        row = conn.execute("SELECT visibility FROM groups WHERE id = ?", (parent,)).fetchone()
        if row is not None and row[0] == Visibility.SECRET:
            raise policy.forbidden("a group under a secret group must be secret too")
    if visibility == Visibility.SECRET:
        visible_child = conn.execute(
            "SELECT 1 FROM groups WHERE parent = ? AND visibility != ?", (group, Visibility.SECRET)
        ).fetchone()
        if visible_child is not None:
            raise policy.forbidden("make the groups under it secret first")


# -- membership ----------------------------------------------------------------------


def join_group(
    conn: sqlite3.Connection, user: int, group: int, cid: str, now: int
) -> Outcome[Receipt]:
    a = policy.require_visible(access(conn, user, group))
    if a.member:  # already in: nothing changes
        row = conn.execute(
            "SELECT joined FROM members WHERE grp = ? AND user = ?", (group, user)
        ).fetchone()
        return _done(conn, user, cid, Receipt(seq=row[0]), [])
    if not policy.may_join_directly(a):
        raise policy.forbidden("this group is private: ask to join (group request)")
    event = add_membership(conn, group, user, Role.MEMBER, None, now)
    return _done(conn, user, cid, Receipt(seq=event.seq, ts=now), [event])


def leave_group(
    conn: sqlite3.Connection, user: int, group: int, cid: str, now: int
) -> Outcome[Receipt]:
    a = policy.require_visible(access(conn, user, group))
    if not a.member:
        raise policy.forbidden("you are not a member of this group")
    event = _remove_membership(conn, group, user, None, now)
    return _done(conn, user, cid, Receipt(seq=event.seq, ts=now), [event])


def request_join(
    conn: sqlite3.Connection, user: int, group: int, cid: str, now: int
) -> Outcome[Receipt]:
    """Ask the moderators of a private group to let ``user`` in."""
    a = policy.require_visible(access(conn, user, group))
    if a.member:
        raise policy.forbidden("you are already a member")
    if a.facts.visibility == Visibility.OPEN:
        raise policy.forbidden("this group is open: join it directly")
    asked = conn.execute(
        "INSERT OR IGNORE INTO join_requests (grp, user, ts) VALUES (?, ?, ?)", (group, user, now)
    )
    if not asked.rowcount:  # one request per person: moderators count people, not clicks
        raise policy.forbidden("you have already asked to join; its moderators will answer")
    seq = append(conn, RequestEvent.TYPE, group, user, now, None)
    event = RequestEvent(seq=seq, group=group, user=user, ts=now)
    return _done(conn, user, cid, Receipt(seq=seq, ts=now), [event])


def join_requests(conn: sqlite3.Connection, user: int, group: int) -> list[JoinRequestInfo]:
    policy.require_moderator(access(conn, user, group))
    rows = conn.execute(
        "SELECT user, ts FROM join_requests WHERE grp = ? ORDER BY ts, user", (group,)
    )
    return [JoinRequestInfo(user=u, ts=ts) for u, ts in rows]


def _require_user(conn: sqlite3.Connection, user: int) -> None:
    """NotFound unless ``user`` exists (the person a request names)."""
    if not _user_exists(conn, user):
        raise NotFound("user")


def approve(
    conn: sqlite3.Connection, user: int, group: int, target: int, cid: str, now: int
) -> Outcome[Receipt]:
    policy.require_moderator(access(conn, user, group))
    pending = conn.execute(
        "SELECT 1 FROM join_requests WHERE grp = ? AND user = ?", (group, target)
    ).fetchone()
    if pending is None:
        raise NotFound("join request")
    event = add_membership(conn, group, target, Role.MEMBER, user, now)
    return _done(conn, user, cid, Receipt(seq=event.seq, ts=now), [event])


def add_member(
    conn: sqlite3.Connection,
    user: int,
    group: int,
    target: int,
    moderator: bool,
    cid: str,
    now: int,
) -> Outcome[Receipt]:
    """Add someone (or change their role): moderators; members of open groups may add."""
    policy.require_add(access(conn, user, group), moderator)
    _require_user(conn, target)
    role = Role.MODERATOR if moderator else Role.MEMBER
    current = access(conn, target, group).role
    if current == Role.MODERATOR and role != current:
        # Taking a moderator's role away is naming moderators too.
        policy.require_add(access(conn, user, group), moderator=True)
    if current == role:
        row = conn.execute(
            "SELECT joined FROM members WHERE grp = ? AND user = ?", (group, target)
        ).fetchone()
        return _done(conn, user, cid, Receipt(seq=row[0]), [])
    event = add_membership(conn, group, target, role, user, now)
    return _done(conn, user, cid, Receipt(seq=event.seq, ts=now), [event])


def remove_member(
    conn: sqlite3.Connection, user: int, group: int, target: int, cid: str, now: int
) -> Outcome[Receipt]:
    policy.require_moderator(access(conn, user, group))
    _require_user(conn, target)
    if access(conn, target, group).role is None:
        raise NotFound("member")
    event = _remove_membership(conn, group, target, user, now)
    return _done(conn, user, cid, Receipt(seq=event.seq, ts=now), [event])


def members(conn: sqlite3.Connection, user: int, group: int) -> tuple[list[int], list[int]]:
    """(members, moderators) of a group whose content ``user`` may read."""
    policy.require_readable(access(conn, user, group))
    rows = conn.execute("SELECT user, role FROM members WHERE grp = ? ORDER BY user", (group,))
    everyone, mods = [], []
    for member, role in rows:
        everyone.append(member)
        if role == Role.MODERATOR:
            mods.append(member)
    return everyone, mods


# -- listing ---------------------------------------------------------------------------


_VISIBLE = (
    " FROM groups g LEFT JOIN members m ON m.grp = g.id AND m.user = ?"
    f" WHERE (g.visibility != '{Visibility.SECRET}' OR m.role IS NOT NULL)"
)
_G_SETTINGS = ", ".join(f"g.{column}" for column in GROUP_SETTINGS)


def list_groups(
    conn: sqlite3.Connection, user: int, only: Sequence[int] | None = None
) -> list[GroupInfo]:
    """The groups ``user`` may see (``only`` those of them), with what they may know of each."""
    admin = bool(conn.execute("SELECT admin FROM users WHERE id = ?", (user,)).fetchone()[0])
    wanted = "" if only is None else f" AND g.id IN ({','.join('?' * len(only))})"
    rows = [
        (g, dict(zip(GROUP_SETTINGS, values, strict=True)), dm_key, role, requested)
        for g, *values, dm_key, role, requested in conn.execute(
            f"SELECT g.id, {_G_SETTINGS}, g.dm_key, m.role,"
            " EXISTS (SELECT 1 FROM join_requests r WHERE r.grp = g.id AND r.user = ?)"
            f"{_VISIBLE}{wanted} ORDER BY g.name COLLATE NOCASE",
            (user, user, *(only or ())),
        )
    ]
    if only is None:
        listed = {r[0] for r in rows}
    else:  # a parent is named only if the user may see it
        parents = list({r[1]["parent"] for r in rows if r[1]["parent"] is not None})
        listed = {
            r[0]
            for r in conn.execute(
                f"SELECT g.id{_VISIBLE} AND g.id IN ({','.join('?' * len(parents))})",
                (user, *parents),
            )
        }
    out = []
    for g, settings, dm_key, role, requested in rows:
        facts = GroupFacts(
            g,
            settings["visibility"],
            settings["post_policy"],
            settings["chat_policy"],
            settings["comment_policy"],
            dm_key is not None,
        )
        a = Access(facts, role, admin)
        count = head = 0
        pinned: list[int] = []
        if policy.readable(a):
            pinned = [
                r[0] for r in conn.execute("SELECT seq FROM pins WHERE grp = ? ORDER BY ts", (g,))
            ]
            count = conn.execute("SELECT count(*) FROM members WHERE grp = ?", (g,)).fetchone()[0]
            head = conn.execute(policy.HEAD_SQL, (g,)).fetchone()[0]
        other = None
        if dm_key is not None:
            low, high = (int(x) for x in dm_key.split(":"))
            other = high if low == user else low
        if settings["parent"] not in listed:
            settings["parent"] = None
        out.append(
            GroupInfo(
                group=g,
                member=role is not None,
                members=count,
                head=head,
                moderator=policy.moderates(a),
                dm=other,
                requested=bool(requested),
                pins=pinned,
                **settings,
            )
        )
    return out


def memberships(conn: sqlite3.Connection) -> tuple[dict[int, dict[int, str]], dict[int, str]]:
    """Every group's members with their roles, and every group's visibility (for the hub)."""
    members_: dict[int, dict[int, str]] = {}
    for grp, user, role in conn.execute("SELECT grp, user, role FROM members"):
        members_.setdefault(grp, {})[user] = role
    visibility = dict(conn.execute("SELECT id, visibility FROM groups").fetchall())
    return members_, visibility


# -- direct messages -------------------------------------------------------------------


def bring_back(conn: sqlite3.Connection, group: int, by: int, now: int) -> list[Event]:
    """Leaving a direct chat hides it until the next message, which brings back
    whoever left (by ``dm``, or by ``chat`` to the chat itself): an
    acknowledged message reaches both, always. No-op for other groups."""
    row = conn.execute("SELECT dm_key FROM groups WHERE id = ?", (group,)).fetchone()
    if row is None or row[0] is None:
        return []
    events: list[Event] = []
    for member in sorted({int(u) for u in row[0].split(":")}):
        if access(conn, member, group).role is None:
            events.append(add_membership(conn, group, member, Role.MEMBER, by, now))
    return events


#: A direct chat's settings: a secret group for its two people to chat in.
_DIRECT_CHAT = {
    "name": "direct",
    "parent": None,
    "visibility": Visibility.SECRET,
    "post_policy": PostPolicy.MODERATORS,
    "chat_policy": ChatPolicy.EVERYONE,
    "comment_policy": ChatPolicy.NOBODY,
    "description": "",
}


def direct_chat(
    conn: sqlite3.Connection, user: int, target: int, now: int
) -> tuple[int, list[Event]]:
    """The two-person chat of ``user`` and ``target``, made on first use (and
    brought back for whoever left it), with the events that doing so stored."""
    if target == user:
        raise ProtocolError(ErrorCode.BAD_FIELD, "a direct message goes to someone else")
    _require_user(conn, target)
    key = f"{min(user, target)}:{max(user, target)}"
    row = conn.execute("SELECT id FROM groups WHERE dm_key = ?", (key,)).fetchone()
    events: list[Event] = []
    if row is None:
        group = _insert_group(conn, user, now, _DIRECT_CHAT, dm_key=key)
        for member in (user, target):
            events.append(add_membership(conn, group, member, Role.MEMBER, user, now))
        # After the joins: the settings event's audience is the chat's members.
        events.append(_settings_event(conn, group, user, now))
    else:
        group = row[0]
        events.extend(bring_back(conn, group, user, now))
    return group, events
