"""Group requests: the tree and settings, membership, moderation."""

from __future__ import annotations

import sqlite3
from typing import Any

from rse_tui.protocol import (
    AddMember,
    Approve,
    CreateGroup,
    ErrorCode,
    GroupList,
    GroupSettings,
    JoinGroup,
    JoinRequests,
    LeaveGroup,
    ListGroups,
    MemberList,
    Members,
    ProtocolError,
    RemoveMember,
    RequestJoin,
    RequestList,
    WriteOk,
    settings_of,
)

from .. import storage
from .base import Caller, Services, check_group_name, check_line, write


def _checked_settings(svc: Services, req: CreateGroup | GroupSettings) -> dict[str, Any]:
    """The settings ``req`` carries, its name and description checked (None: not changed).

    They go to storage as ``**settings``, which the type checker cannot hold
    against the storage function's parameters (it still holds the others):
    decode_request has checked each field's type, and storage checks each
    setting before using it (``_choice`` for the visibility and policies, the
    parent's access; ``update_group`` refuses a setting it does not know).
    """
    settings = settings_of(req)
    if req.name is not None:
        settings["name"] = check_group_name(req.name, svc.limits)
    if req.description is not None:
        settings["description"] = check_line(
            req.description, svc.limits.max_description, "a description", empty=True
        )
    return settings


async def create_group(svc: Services, caller: Caller, req: CreateGroup) -> WriteOk:
    settings = _checked_settings(svc, req)
    return await write(
        svc, caller, req, storage.create_group, cid=req.cid, now=svc.now(), **settings
    )


async def update_group(svc: Services, caller: Caller, req: GroupSettings) -> WriteOk:
    changes = _checked_settings(svc, req)  # its parent is None: a gset does not move a group
    return await write(
        svc,
        caller,
        req,
        storage.update_group,
        group=req.group,
        cid=req.cid,
        now=svc.now(),
        **changes,
    )


async def list_groups(svc: Services, caller: Caller, req: ListGroups) -> GroupList:
    if not 0 <= req.recent <= svc.limits.max_history_page:
        raise ProtocolError(
            ErrorCode.BAD_FIELD, f"'r' is between 0 and {svc.limits.max_history_page}"
        )
    if req.only is not None and not 0 < len(req.only) <= svc.limits.max_groups_per_request:
        raise ProtocolError(
            ErrorCode.BAD_FIELD, f"'l' names 1 to {svc.limits.max_groups_per_request} groups"
        )
    reply = await svc.db.read(
        _group_list,
        user=caller.user,
        recent=req.recent,
        only=req.only,
        request_id=req.request_id,
    )
    svc.charge_items(caller.user, len(reply.recent) + len(reply.groups))
    return reply


def _group_list(
    conn: sqlite3.Connection, user: int, recent: int, only: list[int] | None, request_id: int
) -> GroupList:
    """The group list and, when asked, the newest chat messages, from one read."""
    groups = storage.list_groups(conn, user, only)
    if not recent:
        return GroupList(request_id=request_id, groups=groups)
    members = [g.group for g in groups if g.member]
    events, users = storage.recent_chat(conn, user, members, recent)
    as_of = storage.groups_head(conn, members)  # read first: see storage.page_extras
    reactions = storage.reactions_of(conn, [e.seq for e in events])
    return GroupList(
        request_id=request_id,
        groups=groups,
        recent=events,
        users=users,
        reactions=reactions,
        as_of=as_of if reactions else 0,
    )


async def join_group(svc: Services, caller: Caller, req: JoinGroup) -> WriteOk:
    return await write(
        svc, caller, req, storage.join_group, group=req.group, cid=req.cid, now=svc.now()
    )


async def leave_group(svc: Services, caller: Caller, req: LeaveGroup) -> WriteOk:
    return await write(
        svc, caller, req, storage.leave_group, group=req.group, cid=req.cid, now=svc.now()
    )


async def request_join(svc: Services, caller: Caller, req: RequestJoin) -> WriteOk:
    return await write(
        svc, caller, req, storage.request_join, group=req.group, cid=req.cid, now=svc.now()
    )


async def approve(svc: Services, caller: Caller, req: Approve) -> WriteOk:
    return await write(
        svc,
        caller,
        req,
        storage.approve,
        group=req.group,
        target=req.user,
        cid=req.cid,
        now=svc.now(),
    )


async def add_member(svc: Services, caller: Caller, req: AddMember) -> WriteOk:
    return await write(
        svc,
        caller,
        req,
        storage.add_member,
        group=req.group,
        target=req.user,
        moderator=req.moderator,
        cid=req.cid,
        now=svc.now(),
    )


async def remove_member(svc: Services, caller: Caller, req: RemoveMember) -> WriteOk:
    return await write(
        svc,
        caller,
        req,
        storage.remove_member,
        group=req.group,
        target=req.user,
        cid=req.cid,
        now=svc.now(),
    )


async def members(svc: Services, caller: Caller, req: Members) -> MemberList:
    users, mods = await svc.db.read(storage.members, user=caller.user, group=req.group)
    svc.charge_items(caller.user, len(users))
    return MemberList(request_id=req.request_id, users=users, moderators=mods)


async def join_requests(svc: Services, caller: Caller, req: JoinRequests) -> RequestList:
    pending = await svc.db.read(storage.join_requests, user=caller.user, group=req.group)
    svc.charge_items(caller.user, len(pending))
    return RequestList(request_id=req.request_id, requests=pending)
