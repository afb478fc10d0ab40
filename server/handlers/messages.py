"""Message requests: chat, feed posts, direct messages, history pages."""

from __future__ import annotations

from dataclasses import replace

from rse_tui.protocol import (
    MAX_OPTION_CHARS,
    MAX_POLL_OPTIONS,
    MAX_TITLE_CHARS,
    DeleteMessage,
    EditMessage,
    ErrorCode,
    History,
    Kind,
    Page,
    PinMessage,
    Poll,
    ProtocolError,
    React,
    SendChat,
    SendDirect,
    SendPost,
    WriteOk,
)

from .. import storage
from .base import Caller, Services, check_line, check_page, check_text, shown_form, write


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
    now = shown_time(svc, caller, req.written)
    return await write(
        svc,
        caller,
        req,
        storage.append_message,
        group=req.group,
        kind=Kind.POST,
        text=check_text(req.text, svc.limits.max_post_chars),
        cid=req.cid,
        now=now,
        title=check_line(req.title, MAX_TITLE_CHARS, "a title") if req.title else None,
        ack=req.ack,
        poll=check_poll(req.poll, svc.now()) if req.poll is not None else None,
    )


def check_poll(poll: Poll, now: int) -> Poll:
    """A poll as asked: 2 to MAX_POLL_OPTIONS one-line options, a closing
    time (if any) in the future."""
    if not 2 <= len(poll.options) <= MAX_POLL_OPTIONS:
        raise ProtocolError(ErrorCode.BAD_FIELD, f"a poll has 2 to {MAX_POLL_OPTIONS} options")
    options = [check_line(o, MAX_OPTION_CHARS, "an option") for o in poll.options]
    if len({shown_form(o) for o in options}) != len(options):
        raise ProtocolError(ErrorCode.BAD_FIELD, "a poll's options are all different")
    if poll.closes is not None and poll.closes <= now:
        raise ProtocolError(ErrorCode.BAD_FIELD, "a poll closes in the future")
    return replace(poll, options=options)


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
        title=(
            None
            if req.title is None
            else check_line(req.title, MAX_TITLE_CHARS, "a title", empty=True)
        ),
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
            ErrorCode.BAD_FIELD,
            f"'k' is '{Kind.CHAT}' (chat), '{Kind.POST}' (feed posts) or '{Kind.COMMENT}'"
            " (comments)",
        )
    events, more, authors, reactions, as_of, threads = await svc.db.read(
        storage.history_page,
        user=caller.user,
        group=req.group,
        kind=req.kind,
        before=req.before,
        limit=check_page(req.limit, svc.limits),
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
        threads=threads,
    )
