"""Accounts: invitations, users, tokens, profiles, badges, the directory, the usage charter."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from rse_tui.protocol import (
    Badge,
    CharterEvent,
    DirectoryEntry,
    ErrorCode,
    Event,
    ProtocolError,
    Role,
    TokenInfo,
    UserInfo,
    Visibility,
)

from .. import policy
from ..database import Outcome
from .base import TokenRow, append, charter_version
from .groups import access, add_membership


def create_invite(
    conn: sqlite3.Connection,
    code_hash: bytes,
    *,
    admin: bool,
    now: int,
    expires: int,
    inviter: int | None = None,
    groups: Iterable[int] = (),
) -> int:
    """Store an invitation; ``inviter`` None is the operator (``rse-server``).

    Pre-assigned groups must be ones the inviter may add people to.
    """
    groups = sorted(set(groups))
    if inviter is not None:
        for group in groups:
            if not policy.may_add(policy.require_visible(access(conn, inviter, group))):
                raise policy.forbidden("you may not add people to that group")
    cur = conn.execute(
        "INSERT INTO invites (hash, admin, created, expires, inviter) VALUES (?, ?, ?, ?, ?)",
        (code_hash, int(admin), now, expires, inviter),
    )
    invite = cur.lastrowid
    assert invite is not None
    conn.executemany(
        "INSERT INTO invite_groups (invite, grp) VALUES (?, ?)", [(invite, g) for g in groups]
    )
    return invite


def redeem_invite(
    conn: sqlite3.Connection, code_hash: bytes, name: str, pw_hash: str, now: int
) -> Outcome[int]:
    """Use an invitation to create an account; its value is the new user's id.

    Pre-assigned groups are joined only if the inviter may still add to them.
    """
    row = conn.execute(
        "SELECT id, admin, inviter FROM invites WHERE hash = ? AND used_by IS NULL AND expires > ?",
        (code_hash, now),
    ).fetchone()
    if row is None:
        raise ProtocolError(ErrorCode.INVITE_INVALID, "invitation is unknown, used or expired")
    invite_id, admin, inviter = row
    if conn.execute("SELECT 1 FROM users WHERE name = ? COLLATE NOCASE", (name,)).fetchone():
        raise ProtocolError(ErrorCode.NAME_TAKEN, f"the name {name!r} is taken")
    cur = conn.execute(
        "INSERT INTO users (name, pw, created, admin) VALUES (?, ?, ?, ?)",
        (name, pw_hash, now, admin),
    )
    user = cur.lastrowid
    assert user is not None
    conn.execute("UPDATE invites SET used_by = ? WHERE id = ?", (user, invite_id))
    events: list[Event] = []
    for (group,) in conn.execute(
        "SELECT grp FROM invite_groups WHERE invite = ? ORDER BY grp", (invite_id,)
    ).fetchall():
        if inviter is not None:
            try:
                allowed = policy.may_add(policy.require_visible(access(conn, inviter, group)))
            except ProtocolError:
                allowed = False
            if not allowed:
                continue  # the inviter lost that right since: never grant more
        events.append(add_membership(conn, group, user, Role.MEMBER, inviter, now))
    return Outcome(user, events)


def user_login_row(conn: sqlite3.Connection, name: str) -> tuple[int, str, str] | None:
    """(id, name, password hash) of a user by case-insensitive name."""
    row = conn.execute(
        "SELECT id, name, pw FROM users WHERE name = ? COLLATE NOCASE", (name,)
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def add_token(conn: sqlite3.Connection, user: int, token_hash: bytes, now: int) -> int:
    cur = conn.execute(
        "INSERT INTO tokens (user, hash, created) VALUES (?, ?, ?)", (user, token_hash, now)
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def token_row(conn: sqlite3.Connection, token_id: int) -> TokenRow | None:
    row = conn.execute(
        "SELECT t.user, u.name, t.hash, u.admin, t.last_used, t.created FROM tokens t"
        " JOIN users u ON u.id = t.user WHERE t.id = ?",
        (token_id,),
    ).fetchone()
    return None if row is None else TokenRow(row[0], row[1], row[2], bool(row[3]), row[4], row[5])


def touch_token(conn: sqlite3.Connection, token_id: int, now: int) -> None:
    conn.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (now, token_id))


def revoke_token(conn: sqlite3.Connection, user: int, token_id: int) -> bool:
    cur = conn.execute("DELETE FROM tokens WHERE id = ? AND user = ?", (token_id, user))
    return cur.rowcount > 0


def list_tokens(conn: sqlite3.Connection, user: int, current: int | None) -> list[TokenInfo]:
    rows = conn.execute(
        "SELECT id, created, last_used FROM tokens WHERE user = ? ORDER BY id", (user,)
    ).fetchall()
    return [
        TokenInfo(token_id=i, created=c, last_used=lu, current=i == current) for i, c, lu in rows
    ]


def users(conn: sqlite3.Connection, ids: Iterable[int]) -> list[UserInfo]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    marks = ",".join("?" * len(wanted))
    rows = conn.execute(
        f"SELECT id, name, title, badge FROM users WHERE id IN ({marks})", wanted
    ).fetchall()
    return [UserInfo(user=i, name=n, title=t, badge=b) for i, n, t, b in rows]


def user_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM users").fetchone()[0])


def _user_by_name(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM users WHERE name = ? COLLATE NOCASE", (name,)).fetchone()
    if row is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no user named {name!r}")
    return int(row[0])


def set_title(conn: sqlite3.Connection, user: int, title: str) -> None:
    conn.execute("UPDATE users SET title = ? WHERE id = ?", (title, user))


def set_admin(conn: sqlite3.Connection, name: str, admin: bool) -> int:
    user = _user_by_name(conn, name)
    conn.execute("UPDATE users SET admin = ? WHERE id = ?", (int(admin), user))
    return user


def set_badge(conn: sqlite3.Connection, name: str, badge: str | None) -> int:
    if badge is not None and not Badge.knows(badge):
        raise ProtocolError(ErrorCode.BAD_FIELD, f"badges are: {', '.join(Badge)}")
    user = _user_by_name(conn, name)
    conn.execute("UPDATE users SET badge = ? WHERE id = ?", (badge, user))
    return user


# -- the usage charter -------------------------------------------------------------


def publish_charter(conn: sqlite3.Connection, text: str, now: int) -> Outcome[int]:
    """A new charter version, which every user must accept before writing again."""
    version = charter_version(conn) + 1
    conn.execute("INSERT INTO charters (version, text, ts) VALUES (?, ?, ?)", (version, text, now))
    seq = append(conn, CharterEvent.TYPE, None, 0, now, str(version))
    return Outcome(version, [CharterEvent(seq=seq, version=version, ts=now)])


def charter(conn: sqlite3.Connection, user: int) -> tuple[int, str, int]:
    """(current version, its text, the version ``user`` accepted)."""
    row = conn.execute(
        "SELECT version, text FROM charters ORDER BY version DESC LIMIT 1"
    ).fetchone()
    accepted = conn.execute("SELECT charter FROM users WHERE id = ?", (user,)).fetchone()
    version, text = row if row else (0, "")
    return int(version), str(text), int(accepted[0] if accepted else 0)


def accept_charter(conn: sqlite3.Connection, user: int, version: int) -> None:
    current = charter_version(conn)
    if version != current or current == 0:
        raise ProtocolError(
            ErrorCode.BAD_FIELD, f"version {version} is not the current charter ({current})"
        )
    conn.execute("UPDATE users SET charter = ? WHERE id = ?", (version, user))


# -- the directory ----------------------------------------------------------------------


def directory(
    conn: sqlite3.Connection, viewer: int, query: str, badge: str | None, limit: int = 200
) -> list[DirectoryEntry]:
    """People by name or title, with their groups the viewer may see the members
    of: open ones, and private or secret ones the viewer is in too."""
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute(
        "SELECT id, name, title, badge FROM users WHERE id > 0"
        " AND (name LIKE :p ESCAPE '\\' OR title LIKE :p ESCAPE '\\')"
        " AND (:b IS NULL OR badge = :b) ORDER BY name COLLATE NOCASE LIMIT :n",
        {"p": pattern, "b": badge, "n": limit},
    ).fetchall()
    out = []
    for user, name, title, user_badge in rows:
        groups = [
            g
            for (g,) in conn.execute(
                "SELECT g.id FROM members m JOIN groups g ON g.id = m.grp WHERE m.user = ?"
                " AND g.dm_key IS NULL AND (g.visibility = ? OR EXISTS"
                " (SELECT 1 FROM members v WHERE v.grp = g.id AND v.user = ?)) ORDER BY g.id",
                (user, Visibility.OPEN, viewer),
            )
        ]
        out.append(
            DirectoryEntry(user=user, name=name, title=title, badge=user_badge, groups=groups)
        )
    return out
