"""Every SQL statement the server runs.

The functions take a ``sqlite3.Connection`` and run inside whatever
transaction the caller holds: the writer thread's batch for writes, a read
transaction for reads, or one of their own (``transaction``) from the
``rse-server`` command line. Authorization decisions are ``server.policy``'s;
these functions load the facts it needs inside the same transaction.

Writes that change what users see append to ``events``; the sequence number
of that row is the change's server-wide number. Writes that carry a client id
record their first result in ``receipts`` in the same transaction, so a resend
returns that result and stores nothing new.
"""

from .accounts import (
    accept_charter,
    add_token,
    charter,
    create_invite,
    directory,
    list_tokens,
    publish_charter,
    redeem_invite,
    revoke_token,
    set_admin,
    set_badge,
    set_title,
    token_row,
    touch_token,
    user_count,
    user_login_row,
    users,
)
from .base import (
    CatchUp,
    Overtakes,
    Receipt,
    TokenRow,
    as_client,
    as_user,
    receipt,
    transaction,
)
from .groups import (
    access,
    add_member,
    approve,
    create_group,
    group_facts,
    join_group,
    join_requests,
    leave_group,
    list_groups,
    members,
    memberships,
    remove_member,
    request_join,
    update_group,
)
from .timeline import (
    append_message,
    catch_up,
    delete_message,
    edit_message,
    events_between,
    head,
    history,
    history_page,
    pin_message,
    recent_chat,
    send_direct,
    start_at,
    user_head,
)

__all__ = [
    "CatchUp",
    "Overtakes",
    "Receipt",
    "TokenRow",
    "accept_charter",
    "access",
    "add_member",
    "add_token",
    "append_message",
    "approve",
    "as_client",
    "as_user",
    "catch_up",
    "charter",
    "create_group",
    "create_invite",
    "delete_message",
    "directory",
    "edit_message",
    "events_between",
    "group_facts",
    "head",
    "history",
    "history_page",
    "join_group",
    "join_requests",
    "leave_group",
    "list_groups",
    "list_tokens",
    "members",
    "memberships",
    "pin_message",
    "publish_charter",
    "receipt",
    "recent_chat",
    "redeem_invite",
    "remove_member",
    "request_join",
    "revoke_token",
    "send_direct",
    "set_admin",
    "set_badge",
    "set_title",
    "start_at",
    "token_row",
    "touch_token",
    "transaction",
    "update_group",
    "user_count",
    "user_head",
    "user_login_row",
    "users",
]
