"""One small coroutine per request type, found through ``HANDLERS``.

A handler gets the server's shared services, the caller (the state of the
connection the request came on) and the typed request; it returns the reply
(or None when it queued its frames itself, as ``sync`` does) or raises
ProtocolError. Handlers never touch SQL (storage does), never decide who may
do what (policy does) and never write to the socket (the peer's queue does).
"""

from __future__ import annotations

from collections.abc import Mapping

from rse_tui.protocol import (
    AcceptCharter,
    Acknowledge,
    AckStatus,
    AddMember,
    Approve,
    CreateGroup,
    CreateInvite,
    DeleteMessage,
    EditMessage,
    Feature,
    GetCharter,
    GetHome,
    GetThread,
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
    MarkRead,
    Members,
    PinMessage,
    React,
    Redeem,
    RemoveMember,
    Request,
    RequestJoin,
    Revoke,
    Search,
    SearchDirectory,
    SendChat,
    SendComment,
    SendDirect,
    SendPost,
    SetProfile,
    Sync,
    Tokens,
    Vote,
)

from . import accounts, feed, groups, messages, search
from .base import Caller, Handler, Services

HANDLERS: Mapping[type[Request], Handler] = {
    Hello: accounts.hello,
    Login: accounts.login,
    Redeem: accounts.redeem,
    Logout: accounts.logout,
    Tokens: accounts.tokens,
    Revoke: accounts.revoke,
    Sync: accounts.sync,
    GetUsers: accounts.get_users,
    GetCharter: accounts.get_charter,
    AcceptCharter: accounts.accept_charter,
    SetProfile: accounts.set_profile,
    SearchDirectory: accounts.search_directory,
    CreateInvite: accounts.create_invite,
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
    SendComment: feed.send_comment,
    Vote: feed.vote,
    Acknowledge: feed.acknowledge,
    MarkRead: feed.mark_read,
    Feature: feed.feature,
    GetThread: feed.thread,
    GetHome: feed.home,
    Search: search.search,
    AckStatus: feed.ack_status,
    SendPost: messages.send_post,
    SendDirect: messages.send_direct,
    History: messages.history,
    DeleteMessage: messages.delete_message,
    EditMessage: messages.edit_message,
    PinMessage: messages.pin_message,
    React: messages.react,
}

__all__ = ["HANDLERS", "Caller", "Handler", "Services"]
