"""The authorization rules, in one place.

Every decision about who may see or do what is a function here, over plain
facts about a user and a group (:class:`Access`). Storage loads the facts
inside the transaction that acts on them; the hub uses ``audience`` for every
pushed event; catch-up reads the sources ``*_SQL``, the same rules as SQL.

The rules:

- open groups are listed to everyone, anyone may join, anyone may read;
- private groups are listed (name, description) to everyone; content and
  members are for members; joining is by request approved by a moderator,
  or by being added or invited;
- secret groups (and direct chats) do not exist for non-members: every
  request about one answers exactly as for a group that does not exist;
- moderators of a group and site admins manage it (settings, members,
  requests); site admins do not see secret groups they are not in;
- moderators and site admins add people to any group they manage; in an
  open group any member may add people too (they could join it anyway);
  only moderators name moderators;
- publishing rules per group say who may post to the feed, chat, comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rse_tui.protocol import (
    AckEvent,
    CharterEvent,
    ChatPolicy,
    ErrorCode,
    Event,
    FeatureEvent,
    GroupEvent,
    JoinEvent,
    Kind,
    LeaveEvent,
    ProtocolError,
    ReadEvent,
    RequestEvent,
    Role,
    Visibility,
)


@dataclass(frozen=True, slots=True)
class GroupFacts:
    group: int
    visibility: str
    post_policy: str
    chat_policy: str
    comment_policy: str
    dm: bool = False


@dataclass(frozen=True, slots=True)
class Access:
    """What one user is to one group."""

    facts: GroupFacts
    role: str | None  # None: not a member
    admin: bool

    @property
    def member(self) -> bool:
        return self.role is not None


class NotFound(ProtocolError):
    """Unknown, or invisible to this user: the two are never told apart."""

    def __init__(self, what: str) -> None:
        super().__init__(ErrorCode.NOT_FOUND, f"unknown {what}")


def forbidden(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.FORBIDDEN, message)


def visible(a: Access) -> bool:
    """May the user know the group exists?"""
    return a.member or a.facts.visibility != Visibility.SECRET


def readable(a: Access) -> bool:
    """May the user read its content and members? (Admins may, where they may see.)"""
    return a.member or a.facts.visibility == Visibility.OPEN or (a.admin and visible(a))


def moderates(a: Access) -> bool:
    return visible(a) and (a.role == Role.MODERATOR or a.admin) and not a.facts.dm


def _allowed(policy: str, a: Access) -> bool:
    """``policy``: a ChatPolicy (a PostPolicy is one of them)."""
    if policy == ChatPolicy.EVERYONE:
        return a.member
    if policy == ChatPolicy.MODERATORS:
        return a.member and (a.role == Role.MODERATOR or a.admin)
    return False


def may_chat(a: Access) -> bool:
    return _allowed(a.facts.chat_policy, a)


def may_post(a: Access) -> bool:
    return _allowed(a.facts.post_policy, a)


def may_comment(a: Access) -> bool:
    return _allowed(a.facts.comment_policy, a)


def may_join_directly(a: Access) -> bool:
    return a.facts.visibility == Visibility.OPEN and not a.facts.dm


# -- the checks storage calls, raising the right typed error --------------------


def require_visible(a: Access) -> Access:
    if not visible(a):
        raise NotFound("group")
    return a


def require_readable(a: Access) -> Access:
    require_visible(a)
    if not readable(a):
        raise forbidden("this group's content is for its members")
    return a


def require_moderator(a: Access) -> Access:
    require_visible(a)
    if not moderates(a):
        raise forbidden("only the group's moderators may do this")
    return a


def require_write(a: Access, kind: str) -> Access:
    """``kind``: a Kind, chat, feed post or comment (the comment policy)."""
    if kind == Kind.COMMENT:
        return require_comment(a, "comment")
    require_visible(a)
    if not a.member:
        raise forbidden("join the group before writing to it")
    chat = kind == Kind.CHAT
    if not (may_chat(a) if chat else may_post(a)):
        rule = a.facts.chat_policy if chat else a.facts.post_policy
        what = "chat" if chat else "post to the feed"
        if rule == ChatPolicy.NOBODY:
            raise forbidden(f"in this group, nobody may {what}: it is closed")
        raise forbidden(f"in this group, only its moderators may {what}")
    return a


def require_comment(a: Access, doing: str = "react") -> Access:
    """Members comment and react where the group's comment policy (``cm``)
    lets them."""
    require_visible(a)
    if not a.member:
        raise forbidden(f"join the group before you {doing} in it")
    if not may_comment(a):
        if a.facts.comment_policy == ChatPolicy.NOBODY:
            raise forbidden("in this group, nobody may comment or react")
        raise forbidden("in this group, only its moderators may comment or react")
    return a


def require_react(a: Access) -> Access:
    if a.facts.dm:  # a direct chat has no comments; its two people react to each other
        return require_member(a, "react")
    return require_comment(a, "react")


def require_member(a: Access, doing: str) -> Access:
    """Votes and acknowledgements: any member (the comment policy is for
    what others read)."""
    require_visible(a)
    if not a.member:
        raise forbidden(f"join the group before you {doing} in it")
    return a


def require_admin(a: Access) -> Access:
    require_visible(a)
    if not a.admin:
        raise forbidden("only site admins may do this")
    return a


def require_delete(a: Access, author: int, user: int) -> Access:
    """Authors delete their own messages wherever they may still read them (an
    open group they left included); moderators delete anyone's."""
    require_visible(a)
    if author == user and readable(a):
        return a
    if not moderates(a):
        if author == user:
            raise forbidden("you are no longer in this group: only its moderators may delete here")
        raise forbidden("only the author or the group's moderators may delete this")
    return a


def require_edit(a: Access, kind: str, author: int, user: int) -> Access:
    """Authors edit their own messages, where the group's rules still let them write."""
    require_visible(a)
    if author != user:
        raise forbidden("only its author may edit a message")
    return require_write(a, kind)


def may_add(a: Access) -> bool:
    """May this user add others to the group (or pre-assign it in an invitation)?

    Moderators and site admins, to any group they manage; any member, to an
    open group (anyone could join it anyway, as in a public channel).
    """
    return moderates(a) or (a.member and a.facts.visibility == Visibility.OPEN)


def require_add(a: Access, moderator: bool) -> Access:
    """Adding someone to the group (``moderator``: as one of its moderators)."""
    require_visible(a)
    if moderator and not moderates(a):
        raise forbidden("only the group's moderators may name moderators")
    if may_add(a):
        return a
    if a.facts.visibility == Visibility.OPEN:
        raise forbidden("join the group before adding people to it")
    raise forbidden(f"only the group's moderators may add people to a {a.facts.visibility} group")


# -- who receives a pushed event ----------------------------------------------------


def audience(
    event: Event,
    members: Mapping[int, Mapping[int, str]],
    visibility: Mapping[int, str],
) -> set[int] | None:
    """The users who may see ``event``; None means every user.

    ``members`` maps group -> {user: role}; ``visibility`` maps group -> its
    visibility. The ``*_SQL`` statements below state the same rule for catch-up.
    """
    if isinstance(event, CharterEvent):
        return None
    if isinstance(event, AckEvent | ReadEvent):  # one's own
        return {event.user}
    group = getattr(event, "group", None)
    in_group = set(members.get(group, {})) if group is not None else set()
    if isinstance(event, GroupEvent | FeatureEvent):
        if visibility.get(event.group, Visibility.OPEN) != Visibility.SECRET:
            return None
        return in_group
    if isinstance(event, RequestEvent):
        mods = {u for u, role in members.get(event.group, {}).items() if role == Role.MODERATOR}
        return mods | {event.user}
    if isinstance(event, JoinEvent | LeaveEvent):
        return in_group | {event.user}
    return in_group


# -- the same rule for catch-up, as index-driven reads --------------------------
#
# What a user may see of the log is the union of a few sources, each a range
# read of one index: its cost is what it returns, however many events the log
# holds for others. Each statement selects ``seq`` over ``(:since, :top]``,
# ordered by ``seq`` (``{order}``: "" or "DESC"), at most ``:n``. The words
# and event types are written into the text, not bound: the partial indexes
# (``events_everyone``, ``events_own``; schema.py) serve only a statement that
# names their kinds.

_GROUP, _CHARTER, _FEATURE = GroupEvent.TYPE, CharterEvent.TYPE, FeatureEvent.TYPE
_OWN_ONLY = (AckEvent, ReadEvent)
_OWN_KINDS = ", ".join(f"'{cls.TYPE}'" for cls in (JoinEvent, LeaveEvent, RequestEvent, *_OWN_ONLY))
_OWN_ONLY_KINDS = ", ".join(f"'{cls.TYPE}'" for cls in _OWN_ONLY)

#: A group's newest event that every reader of the group sees (its head, in
#: group lists and pages): not one's own read markers and acknowledgements,
#: nor join requests (the moderators'), which would tell others when
#: someone read, acknowledged or asked to join.
HEAD_SQL = (
    "SELECT coalesce(max(seq), 0) FROM events WHERE grp = ?"
    f" AND kind NOT IN ({_OWN_ONLY_KINDS}, '{RequestEvent.TYPE}')"
)
#: Charter versions, the settings of groups that are not secret, posts
#: featured for everyone: everyone's.
EVERYONE_SQL = (
    "SELECT seq FROM events INDEXED BY events_everyone"
    f" WHERE kind IN ('{_GROUP}', '{_CHARTER}', '{_FEATURE}') AND seq > :since AND seq <= :top"
    f" AND deleted = 0 AND (kind = '{_CHARTER}'"
    f" OR (SELECT visibility FROM groups WHERE id = grp) != '{Visibility.SECRET}')"
    " ORDER BY seq {order} LIMIT :n"
)
#: The user's own joins, leaves, join requests, acknowledgements and read
#: markers (in groups they may have left).
OWN_SQL = (
    "SELECT seq FROM events INDEXED BY events_own"
    f" WHERE user = :u AND kind IN ({_OWN_KINDS}) AND seq > :since AND seq <= :top"
    " AND deleted = 0 ORDER BY seq {order} LIMIT :n"
)
#: Everything in a group the user is in but others' own events; join
#: requests only for its moderators.
MEMBER_SQL = (
    "SELECT seq FROM events INDEXED BY events_grp_seq"
    " WHERE grp = :g AND seq > :since AND seq <= :top AND deleted = 0"
    f" AND kind NOT IN ({_OWN_ONLY_KINDS})"
    f" AND (kind != '{RequestEvent.TYPE}' OR :moderator) ORDER BY seq {{order}} LIMIT :n"
)
#: The groups (with the user's role) whose events the user receives.
MEMBERSHIPS_SQL = f"SELECT grp, role = '{Role.MODERATOR}' FROM members WHERE user = :u"
