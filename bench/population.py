"""A server database filled with many members at once, for the load figures.

Creating a thousand accounts through invitations would spend minutes in
scrypt; the load figures are about fan-out and writes, not logins. So the
accounts are written straight into the database (through the server's own
storage functions) before the server starts, with tokens minted the way the
server mints them and no password anyone may log in with.
"""

from __future__ import annotations

import time
from pathlib import Path

from rse_tui.protocol import Role
from server import auth, storage
from server.admin import open_db
from server.storage.groups import add_membership


def populate(db: Path, groups: list[int], prefix: str = "load") -> tuple[list[int], list[str]]:
    """One group per entry of ``groups``, with that many members each.

    Returns the group ids and one token per member, in group order (the first
    ``groups[0]`` tokens are the first group's members, and so on). Each
    group's first member created it and moderates it.
    """
    conn = open_db(db)
    now = int(time.time())
    group_ids: list[int] = []
    tokens: list[str] = []
    try:
        with storage.transaction(conn):
            for g, size in enumerate(groups):
                members = []
                for m in range(size):
                    cur = conn.execute(
                        "INSERT INTO users (name, pw, created) VALUES (?, ?, ?)",
                        (f"{prefix}{g}-{m}", auth.NO_LOGIN, now),
                    )
                    user = cur.lastrowid
                    assert user is not None
                    secret = auth.new_token_secret()
                    token_id = storage.add_token(conn, user, auth.digest(secret), now)
                    tokens.append(auth.format_token(token_id, secret))
                    members.append(user)
                created = storage.create_group(
                    conn, members[0], f"{prefix}-group-{g}", f"g{g}", now
                )
                group = created.value.group
                assert group is not None
                group_ids.append(group)
                for user in members[1:]:
                    add_membership(conn, group, user, Role.MEMBER, None, now)
    finally:
        conn.close()
    return group_ids, tokens
