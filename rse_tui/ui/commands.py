"""Slash commands typed in the composer: /join, /leave, /me, /dm, /post,
/poll, /announce, /quit, /help.

A line is a command only when its first word is a slash and letters
(``/join ops``); a path such as ``/etc/hosts is full`` is a message, and
``//x`` sends ``/x``. An unknown command is refused with the list of known
ones and the text goes back to the composer: nothing typed is lost, and no
typo is posted to a group.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rse_tui.protocol import (
    MAX_CHAT_CHARS,
    MAX_OPTION_CHARS,
    MAX_POLL_OPTIONS,
    MAX_TITLE_CHARS,
    Kind,
    Poll,
)
from rse_tui.sync.engine import LinkDown, Offline
from rse_tui.sync.models import GroupRow
from rse_tui.textsafe import clean_line

if TYPE_CHECKING:
    from .surface import AppSurface

_COMMAND = re.compile(r"/([A-Za-z]+)(?:\s+(.*))?\Z", re.DOTALL)


@dataclass(frozen=True)
class Command:
    usage: str
    description: str
    run: Callable[[AppSurface, str], Awaitable[None]]


def parse(text: str) -> tuple[str, str] | None:
    """``(name, rest)`` when the text is a command, else None (a message)."""
    if text.startswith("//"):
        return None
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    return match.group(1).lower(), (match.group(2) or "").strip()


def message_text(text: str) -> str:
    """What a message that is not a command sends: ``//x`` is ``/x``."""
    return text[1:] if text.startswith("//") else text


async def _join(app: AppSurface, rest: str) -> None:
    if not rest:
        raise UsageError
    try:
        row = await app.client.group_by_name(rest.lstrip("#"))
    except LookupError as exc:
        raise Refused(str(exc)) from None
    if row is None:
        raise Refused(f"no group named #{clean_line(rest.lstrip('#'))[:60]}")
    await app.enter_group(row)


async def _leave(app: AppSurface, rest: str) -> None:
    group = app.view.group
    if group is None or not group.in_group:
        raise Refused("you are not in a group to leave")
    await app.client.leave(group.group)
    await app.reread(group)  # what is typed next is refused here, not sent after it
    app.notify(f"leaving #{clean_line(group.name)}", markup=False)


async def _me(app: AppSurface, rest: str) -> None:
    if not rest:
        raise UsageError
    await app.send_text(f"/me {rest}")


async def _dm(app: AppSurface, rest: str) -> None:
    name, _, text = rest.partition(" ")
    name = name.lstrip("@")
    if not name:
        raise UsageError
    user = await app.client.user_by_name(name)
    if user is None:
        try:
            found = await app.client.directory(name)
        except (Offline, LinkDown):
            raise Refused(
                f"@{clean_line(name)[:40]} is unknown here, and the directory needs the server"
            ) from None
        user = next((e.user for e in found if e.name.casefold() == name.casefold()), None)
    if user is None:
        raise Refused(f"nobody is named @{clean_line(name)[:40]}")
    if text.strip():
        await app.client.send_direct(user, text.strip())
    await app.open_direct(user, name)


def _feed_group(app: AppSurface) -> GroupRow:
    """The open group, if I may post to its feed (else why not)."""
    group = app.view.group
    if group is None or group.dm is not None:
        raise Refused("open a group first: posts go to a group's feed")
    if not group.may_write(Kind.POST):
        raise Refused(f"you may not post in #{clean_line(group.name)}")
    return group


def _title_and_body(rest: str) -> tuple[str | None, str]:
    """``TITLE | BODY`` (or ``BODY`` alone), each checked."""
    title, bar, body = rest.partition("|")
    if not bar:
        title, body = "", title
    title, body = title.strip(), body.strip()
    if not body:
        raise UsageError
    if len(title) > MAX_TITLE_CHARS:
        raise Refused(f"a title has at most {MAX_TITLE_CHARS} characters")
    if "\n" in title:
        raise Refused("a title is one line")
    if len(body) > MAX_CHAT_CHARS:
        raise Refused(f"too long: {len(body):,} characters, at most {MAX_CHAT_CHARS:,}")
    return title or None, body


def _see_feed(app: AppSurface) -> str:
    """How to see the feed, unless it is on screen."""
    return "" if app.view.kind == Kind.POST else " (ctrl+t shows it)"


async def _post(app: AppSurface, rest: str) -> None:
    group = _feed_group(app)
    title, body = _title_and_body(rest)
    await app.client.send_post(group.group, body, title=title)
    app.notify(f"posted to #{clean_line(group.name)}'s feed{_see_feed(app)}", markup=False)


async def _announce(app: AppSurface, rest: str) -> None:
    group = _feed_group(app)
    title, body = _title_and_body(rest)
    await app.client.send_post(group.group, body, title=title, ack=True)
    app.notify(f"announced in #{clean_line(group.name)}: readers are asked to acknowledge",
               markup=False)  # fmt: skip


_POLL_FLAGS = {"-m": "multiple", "--multiple": "multiple", "-a": "anonymous",
               "--anonymous": "anonymous"}  # fmt: skip


async def _poll(app: AppSurface, rest: str) -> None:
    group = _feed_group(app)
    flags: set[str] = set()
    words = rest.split(maxsplit=1)
    while words and words[0] in _POLL_FLAGS:
        flags.add(_POLL_FLAGS[words[0]])
        words = words[1].split(maxsplit=1) if len(words) > 1 else []
    question, *options = [part.strip() for part in " ".join(words).split("|")]
    if not question or len(options) < 2 or not all(options):
        raise UsageError
    if len(options) > MAX_POLL_OPTIONS:
        raise Refused(f"a poll has at most {MAX_POLL_OPTIONS} options")
    if len({o.casefold() for o in options}) < len(options):
        raise Refused("two options are the same")
    if any(len(o) > MAX_OPTION_CHARS or "\n" in o for o in options):
        raise Refused(f"an option is one line of at most {MAX_OPTION_CHARS} characters")
    if len(question) > MAX_CHAT_CHARS:
        raise Refused(f"too long: {len(question):,} characters, at most {MAX_CHAT_CHARS:,}")
    poll = Poll(options=options, multiple="multiple" in flags, anonymous="anonymous" in flags)
    await app.client.send_post(group.group, question, poll=poll)
    app.notify(f"poll posted to #{clean_line(group.name)}'s feed{_see_feed(app)}", markup=False)


async def _quit(app: AppSurface, rest: str) -> None:
    await app.action_quit()


async def _help(app: AppSurface, rest: str) -> None:
    app.action_help()


COMMANDS: dict[str, Command] = {
    "join": Command("/join GROUP", "open a group, joining it (or asking to)", _join),
    "leave": Command("/leave", "leave the open group", _leave),
    "me": Command("/me TEXT", "say what you are doing (* ana is rolling back)", _me),
    "dm": Command("/dm NAME [TEXT]", "write to someone directly", _dm),
    "post": Command("/post [TITLE |] TEXT", "a post to the open group's feed", _post),
    "poll": Command(
        "/poll [-m] [-a] Q | A | B",
        "a poll in the feed (options after |; -m several, -a anonymous)",
        _poll,
    ),
    "announce": Command(
        "/announce [TITLE |] TEXT", "an announcement readers acknowledge", _announce
    ),
    "quit": Command("/quit", "quit", _quit),
    "help": Command("/help", "show the keys", _help),
}


class UsageError(Exception):
    """The command needs more words."""


class Refused(Exception):
    """The command cannot be done; the message says why."""


async def run(app: AppSurface, text: str) -> bool:
    """Run ``text`` if it is a command; False when it is a message to send.

    An unknown command or one used wrongly is reported and its text put
    back in the composer.
    """
    parsed = parse(text)
    if parsed is None:
        return False
    name, rest = parsed
    command = COMMANDS.get(name)
    if command is None:
        known = " ".join(f"/{n}" for n in COMMANDS)
        app.notify(
            f"unknown command /{name} (known: {known}; start with // to send a slash)",
            severity="warning",
            markup=False,
        )
        app.composer.restore(text)
        return True
    try:
        await command.run(app, rest)
    except UsageError:
        app.notify(f"usage: {command.usage}", severity="warning", markup=False)
        app.composer.restore(text)
    except Refused as exc:  # the line stays, to be corrected
        app.notify(str(exc), severity="warning", markup=False)
        app.composer.restore(text)
    return True
