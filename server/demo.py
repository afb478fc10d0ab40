"""Demo content: a small platform that looks ready on first start.

Seeds a few groups, members, a welcome post and some chat into an empty
database, so that ``rse-server serve --demo`` (and ``rse demo``) open on a
network with something in it. The demo authors cannot log in.
"""

from __future__ import annotations

import secrets
import sqlite3

from rse_tui.protocol import Badge, Kind, Poll, PostPolicy, Visibility

from . import auth, storage

_PEOPLE = {
    "camille": ("Internal communications", Badge.AMBASSADOR),
    "karim": ("Facilities", None),
    "lea": ("Platform team", Badge.AMBASSADOR),
    "tomas": ("Network operations, on call", None),
}

_CHARTER = """# Usage charter

1. Be kind and assume good intent.
2. Post where your audience is: groups are the unit of audience.
3. Nothing confidential in open groups; use private or secret groups.
4. Announcements are for moderators; discuss in the chat.
"""

#: A post's extras in the demo: its title, and whether it is an announcement.
_TITLES = {
    "Welcome to the network!": ("Welcome to the network", False),
    "Launch: the terminal": ("Launch: the network is open to every team", True),
    "1. Check the status page": ("Runbook: VPN down", False),
}
_GAME_DAY = "Game day: which day suits the on-call rota?"

# name: (settings, parent, items)
_GROUPS: dict[str, tuple[dict[str, str], str | None, list[tuple[str, str, str]]]] = {
    "General": (
        {},
        None,
        [
            (
                Kind.POST,
                "camille",
                "Welcome to the network! Introduce yourself in the chat; ambassadors"
                " (see the directory, F2) are there to help.",
            ),
            (Kind.CHAT, "karim", "Morning all. Coffee machine on floor 3 is fixed."),
            (Kind.CHAT, "lea", "Hi! I joined the platform team this week."),
        ],
    ),
    "Announcements": (
        {"post_policy": PostPolicy.MODERATORS},
        None,
        [
            (
                Kind.POST,
                "camille",
                "Launch: the terminal network is open to every team. Groups are the unit"
                " of audience; ask for one in #General.",
            ),
        ],
    ),
    "Engineering": (
        {},
        None,
        [
            (Kind.CHAT, "lea", "Release train leaves Thursday 14:00."),
        ],
    ),
    "Incidents": (
        {},
        "Engineering",
        [
            (
                Kind.POST,
                "tomas",
                "1. Check the status page\n2. Page the on-call network"
                " engineer\n3. Keep updates in this group's chat",
            ),
            (Kind.CHAT, "tomas", "Status: all systems nominal."),
            (Kind.POST, "tomas", _GAME_DAY),
        ],
    ),
    "Platform": (
        {"visibility": Visibility.PRIVATE},
        "Engineering",
        [
            (Kind.CHAT, "lea", "Capacity review moved to Friday."),
        ],
    ),
}


def seed(conn: sqlite3.Connection, now: int) -> bool:
    """Fill an empty database; False when it already has users."""
    if storage.user_count(conn) > 0:
        return False
    with storage.transaction(conn):
        ids: dict[str, int] = {}
        for name, (title, badge) in _PEOPLE.items():
            code = auth.new_invite_code()
            storage.create_invite(
                conn, auth.digest(code), admin=name == "camille", now=now, expires=now + 60
            )
            ids[name] = storage.redeem_invite(
                conn, auth.digest(code), name, auth.NO_LOGIN, now
            ).value
            storage.set_title(conn, ids[name], title)
            if badge:
                storage.set_badge(conn, name, badge)
        groups: dict[str, int] = {}
        posts: dict[str, int] = {}
        for group, (settings, parent, items) in _GROUPS.items():
            owner = ids["camille"]  # the site admin sets the platform up
            made = storage.create_group(
                conn,
                owner,
                group,
                secrets.token_hex(8),
                now,
                parent=groups[parent] if parent else None,
                **settings,
            )
            gid = made.value.group
            assert gid is not None
            groups[group] = gid
            for uid in ids.values():
                if uid != owner:
                    storage.add_member(conn, owner, gid, uid, False, secrets.token_hex(8), now)
            for kind, author, text in items:
                extras = [extra for start, extra in _TITLES.items() if text.startswith(start)]
                title, ack = extras[0] if extras else ("", False)
                poll = None
                if text == _GAME_DAY:
                    days = ["Tuesday", "Wednesday", "Thursday"]
                    poll = Poll(options=days, closes=now + 7 * 86400)
                posted = storage.append_message(
                    conn, ids[author], gid, kind, text, secrets.token_hex(8), now,
                    title=title or None, ack=ack, poll=poll,
                )  # fmt: skip
                posts[text] = posted.value.seq
        _engage(conn, ids, posts, now)
        storage.publish_charter(conn, _CHARTER, now)
    return True


def _engage(conn: sqlite3.Connection, ids: dict[str, int], posts: dict[str, int], now: int) -> None:
    """What makes the feed look alive: a featured post, comments, votes."""
    welcome = next(seq for text, seq in posts.items() if text.startswith("Welcome"))
    runbook = next(seq for text, seq in posts.items() if text.startswith("1. Check"))
    storage.feature(conn, ids["camille"], welcome, True, secrets.token_hex(8), now)
    for author, text in (
        ("lea", "Step 2: the on-call number changed last week, see the directory (F2)."),
        ("tomas", "Updated, thanks."),
    ):
        storage.comment(conn, ids[author], runbook, text, secrets.token_hex(8), now)
    for voter, day in (("karim", 1), ("lea", 1), ("camille", 2)):
        storage.vote(conn, ids[voter], posts[_GAME_DAY], [day], secrets.token_hex(8), now)
