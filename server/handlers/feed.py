"""Feed requests: comments, votes, acknowledgements, read markers, featured
posts; threads and the home portal."""

from __future__ import annotations

from rse_tui.protocol import (
    AckList,
    Acknowledge,
    AckStatus,
    Feature,
    GetHome,
    GetThread,
    HomePage,
    MarkRead,
    SendComment,
    ThreadPage,
    Vote,
    WriteOk,
)

from .. import storage
from .base import Caller, Services, check_page, check_text, write
from .messages import shown_time


async def send_comment(svc: Services, caller: Caller, req: SendComment) -> WriteOk:
    return await write(
        svc,
        caller,
        req,
        storage.comment,
        post=req.post,
        text=check_text(req.text, svc.limits.max_chat_chars),
        cid=req.cid,
        now=shown_time(svc, caller, req.written),
    )


async def vote(svc: Services, caller: Caller, req: Vote) -> WriteOk:
    return await write(
        svc, caller, req, storage.vote, target=req.target, choices=req.choices, cid=req.cid,
        now=svc.now(),
    )  # fmt: skip


async def acknowledge(svc: Services, caller: Caller, req: Acknowledge) -> WriteOk:
    return await write(
        svc, caller, req, storage.acknowledge, target=req.target, cid=req.cid, now=svc.now()
    )


async def mark_read(svc: Services, caller: Caller, req: MarkRead) -> WriteOk:
    return await write(
        svc, caller, req, storage.mark_read, group=req.group, upto=req.upto, cid=req.cid,
        now=svc.now(),
    )  # fmt: skip


async def feature(svc: Services, caller: Caller, req: Feature) -> WriteOk:
    return await write(
        svc, caller, req, storage.feature, target=req.target, on=req.on, cid=req.cid,
        now=svc.now(),
    )  # fmt: skip


async def thread(svc: Services, caller: Caller, req: GetThread) -> ThreadPage:
    events, more, authors, reactions, as_of, threads, ballots, voted, acked = await svc.db.read(
        storage.thread,
        user=caller.user,
        target=req.target,
        after=req.after,
        limit=check_page(req.limit, svc.limits),
        max_text=svc.limits.max_reply_text,
    )
    svc.charge_items(caller.user, len(events) + len(ballots))
    return ThreadPage(
        request_id=req.request_id,
        events=events,
        more=more,
        users=authors,
        reactions=reactions,
        as_of=as_of,
        threads=threads,
        ballots=ballots,
        voted=voted,
        acked=acked,
    )


async def home(svc: Services, caller: Caller, req: GetHome) -> HomePage:
    events, featured, authors, reactions, as_of, threads, groups = await svc.db.read(
        storage.home,
        user=caller.user,
        limit=check_page(req.limit, svc.limits),
        max_text=svc.limits.max_reply_text,
    )
    svc.charge_items(caller.user, len(events) + groups)  # one read per group
    return HomePage(
        request_id=req.request_id,
        events=events,
        users=authors,
        reactions=reactions,
        as_of=as_of,
        threads=threads,
        featured=featured,
    )


async def ack_status(svc: Services, caller: Caller, req: AckStatus) -> AckList:
    done, waiting = await svc.db.read(storage.ack_status, user=caller.user, target=req.target)
    svc.charge_items(caller.user, len(done) + len(waiting))
    return AckList(request_id=req.request_id, done=done, waiting=waiting)
