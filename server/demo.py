"""Demo content: a small platform that looks ready on first start.

Seeds a few groups, members, a welcome post and some chat into an empty
database, so that ``rse-server serve --demo`` (and ``rse demo``) open on a
network with something in it. The demo authors cannot log in.
"""

from __future__ import annotations

import secrets
import sqlite3

from rse_tui.protocol import ChatEvent, PostEvent

from . import auth, storage

_PEOPLE = ["camille", "karim", "lea", "tomas"]
_GROUPS = {
    "General": [
        (
            PostEvent.TYPE,
            "camille",
            "Welcome to the network! Introduce yourself in the chat, "
            "and read the usage charter pinned in Announcements.",
        ),
        (ChatEvent.TYPE, "karim", "Morning all. Coffee machine on floor 3 is fixed."),
        (ChatEvent.TYPE, "lea", "Hi! I joined the platform team this week."),
    ],
    "Announcements": [
        (
            PostEvent.TYPE,
            "camille",
            "Launch: the terminal network is open to every team. "
            "Groups are the unit of audience; ask for one in #General.",
        ),
    ],
    "Incidents": [
        (
            PostEvent.TYPE,
            "tomas",
            "Runbook: when the VPN drops, check the status page, then "
            "page the on-call network engineer. Keep updates in this group's chat.",
        ),
        (ChatEvent.TYPE, "tomas", "Status: all systems nominal."),
    ],
}


def seed(conn: sqlite3.Connection, now: int) -> bool:
    """Fill an empty database; False when it already has users."""
    if storage.user_count(conn) > 0:
        return False
    with storage.transaction(conn):
        ids: dict[str, int] = {}
        for name in _PEOPLE:
            code = auth.new_invite_code()
            storage.create_invite(
                conn, auth.digest(code), admin=name == "camille", now=now, expires=now + 60
            )
            ids[name] = storage.redeem_invite(
                conn, auth.digest(code), name, auth.NO_LOGIN, now
            ).value
        for group, items in _GROUPS.items():
            owner = ids[items[0][1]]
            made = storage.create_group(conn, owner, group, secrets.token_hex(8), now)
            gid = made.value.group
            assert gid is not None
            for uid in ids.values():
                if uid != owner:
                    storage.join_group(conn, uid, gid, secrets.token_hex(8), now)
            for kind, author, text in items:
                storage.append_message(
                    conn, ids[author], gid, kind, text, secrets.token_hex(8), now
                )
    return True
