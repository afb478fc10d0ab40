"""One small coroutine per request type, found through ``HANDLERS``.

A handler gets the server's shared services, the connection's session and the
typed request; it returns the reply (or None when it queued its frames itself,
as ``sync`` does) or raises ProtocolError. Handlers never touch SQL (storage
does), never decide who may do what (policy does) and never write to the
socket (the peer's queue does).
"""

from __future__ import annotations

from collections.abc import Mapping

from rse_tui.protocol import (
    AcceptCharter,
    AddMember,
    Approve,
    CreateGroup,
    CreateInvite,
    DeleteMessage,
    EditMessage,
    GetCharter,
    GetUsers,
    GroupSettings,
    Hello,
    History,
    JoinGroup,
    JoinRequests,
    LeaveGroup,
    ListGroups,
    Login,
    Logout,
    Members,
    PinMessage,
    Redeem,
    RemoveMember,
    Request,
    RequestJoin,
    Revoke,
    SearchDirectory,
    SendChat,
    SendDirect,
    SendPost,
    SetProfile,
    Sync,
    Tokens,
)

from . import groups, messages, session
from .base import Handler, Services, Session

HANDLERS: Mapping[type[Request], Handler] = {
    Hello: session.hello,
    Login: session.login,
    Redeem: session.redeem,
    Logout: session.logout,
    Tokens: session.tokens,
    Revoke: session.revoke,
    Sync: session.sync,
    GetUsers: session.get_users,
    GetCharter: session.get_charter,
    AcceptCharter: session.accept_charter,
    SetProfile: session.set_profile,
    SearchDirectory: session.search_directory,
    CreateInvite: session.create_invite,
    CreateGroup: groups.create_group,
    GroupSettings: groups.update_group,
    ListGroups: groups.list_groups,
    JoinGroup: groups.join_group,
    LeaveGroup: groups.leave_group,
    RequestJoin: groups.request_join,
    Approve: groups.approve,
    AddMember: groups.add_member,
    RemoveMember: groups.remove_member,
    Members: groups.members,
    JoinRequests: groups.join_requests,
    SendChat: messages.send_chat,
    SendPost: messages.send_post,
    SendDirect: messages.send_direct,
    History: messages.history,
    DeleteMessage: messages.delete_message,
    EditMessage: messages.edit_message,
    PinMessage: messages.pin_message,
}

__all__ = ["HANDLERS", "Handler", "Services", "Session"]
