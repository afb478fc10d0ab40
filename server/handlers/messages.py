"""Message requests: chat, feed posts, direct messages, history pages."""

from __future__ import annotations

from rse_tui.protocol import (
    DeleteMessage,
    EditMessage,
    ErrorCode,
    History,
    Kind,
    Page,
    PinMessage,
    ProtocolError,
    React,
    SendChat,
    SendDirect,
    SendPost,
    WriteOk,
)

from .. import storage
from .base import Caller, Services, check_text, write


def shown_time(svc: Services, caller: Caller, written: int | None) -> int:
    """The time a message is shown with: when it was written, for one that waited
    in its client's outbox (the client says), else now.

    What the client says is bounded by what is plausible: not later than now,
    not before the device signed in, not more than ``written_within`` ago.
    The order of messages is the server's own (sequence numbers), whatever
    their times.
    """
    now = svc.now()
    if written is None:
        return now
    return max(min(written, now), caller.signed_in, now - svc.limits.written_within)


async def send_chat(svc: Services, caller: Caller, req: SendChat) -> WriteOk:
    return await write(
        svc,
        caller,
        req,
        storage.append_message,
        group=req.group,
        kind=Kind.CHAT,
        text=check_text(req.text, svc.limits.max_chat_chars),
        cid=req.cid,
        now=shown_time(svc, caller, req.written),
        reply=req.reply,
    )


async def send_post(svc: Services, caller: Caller, req: SendPost) -> WriteOk:
    return await write(
        svc,
        caller,
        req,
        storage.append_message,
        group=req.group,
        kind=Kind.POST,
        text=check_text(req.text, svc.limits.max_post_chars),
        cid=req.cid,
        now=shown_time(svc, caller, req.written),
    )


async def send_direct(svc: Services, caller: Caller, req: SendDirect) -> WriteOk:
    return await write(
        svc,
        caller,
        req,
        storage.send_direct,
        target=req.user,
        text=check_text(req.text, svc.limits.max_chat_chars),
        cid=req.cid,
        now=svc.now(),
        written=shown_time(svc, caller, req.written),
    )


async def delete_message(svc: Services, caller: Caller, req: DeleteMessage) -> WriteOk:
    return await write(
        svc, caller, req, storage.delete_message, target=req.target, cid=req.cid, now=svc.now()
    )


async def edit_message(svc: Services, caller: Caller, req: EditMessage) -> WriteOk:
    return await write(
        svc,
        caller,
        req,
        storage.edit_message,
        target=req.target,
        text=check_text(req.text, max(svc.limits.max_post_chars, svc.limits.max_chat_chars)),
        limit=svc.limits.max_chat_chars,
        cid=req.cid,
        now=svc.now(),
    )


async def pin_message(svc: Services, caller: Caller, req: PinMessage) -> WriteOk:
    return await write(
        svc,
        caller,
        req,
        storage.pin_message,
        target=req.target,
        on=req.on,
        cid=req.cid,
        now=svc.now(),
    )


async def react(svc: Services, caller: Caller, req: React) -> WriteOk:
    return await write(
        svc,
        caller,
        req,
        storage.react,
        target=req.target,
        emoji=req.emoji,
        on=req.on,
        cid=req.cid,
        now=svc.now(),
    )


async def history(svc: Services, caller: Caller, req: History) -> Page:
    if not Kind.knows(req.kind):
        raise ProtocolError(
            ErrorCode.BAD_FIELD, f"'k' is '{Kind.CHAT}' (chat) or '{Kind.POST}' (feed posts)"
        )
    if not 0 < req.limit <= svc.limits.max_history_page:
        raise ProtocolError(
            ErrorCode.BAD_FIELD, f"'n' is between 1 and {svc.limits.max_history_page}"
        )
    events, more, authors, reactions, as_of = await svc.db.read(
        storage.history_page,
        user=caller.user,
        group=req.group,
        kind=req.kind,
        before=req.before,
        limit=req.limit,
        max_text=svc.limits.max_reply_text,
    )
    svc.charge_items(caller.user, len(events))
    return Page(
        request_id=req.request_id,
        events=events,
        more=more,
        users=authors,
        reactions=reactions,
        as_of=as_of,
    )
