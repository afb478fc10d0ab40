"""The ``rse`` command line: its arguments (``build_parser``), the table of
commands, and ``main``, which runs one and turns its failure into one line on
stderr and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import sqlite3
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from rse_tui.protocol import ChatPolicy, PostPolicy, ProtocolError, Reaction, Visibility

from ..glyphs import Glyphs
from ..sync.cache import CacheError
from ..sync.connection import BadAddress, describe_failure
from ..sync.credentials import CredentialError
from ..sync.engine import Offline
from ..sync.profile import ProfileError
from .account import cmd_join, cmd_login, cmd_logout
from .feed import COMMANDS as FEED_COMMANDS
from .feed import add_commands as add_feed_commands
from .groups import cmd_charter, cmd_directory, cmd_group
from .launch import cmd_demo, cmd_sync, cmd_tui
from .messages import cmd_chat, cmd_dm, cmd_post, cmd_react, cmd_tail
from .run import EXIT_FAILED, EXIT_OK, EXIT_QUEUED, EXIT_USAGE, CliError, notice
from .search import COMMANDS as SEARCH_COMMANDS
from .search import add_commands as add_search_commands

ASYNC_COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "join": cmd_join,
    "login": cmd_login,
    "logout": cmd_logout,
    "group": cmd_group,
    "chat": cmd_chat,
    "post": cmd_post,
    "tail": cmd_tail,
    "sync": cmd_sync,
    "dm": cmd_dm,
    "react": cmd_react,
    "directory": cmd_directory,
    "charter": cmd_charter,
    **FEED_COMMANDS,
    **SEARCH_COMMANDS,
}


SYNC_COMMANDS: dict[str | None, Callable[[argparse.Namespace], int]] = {
    None: cmd_tui,
    "demo": cmd_demo,
}


MAX_LINES = 1_000_000


def _lines(text: str) -> int:
    """A count of lines: ASCII digits only ('¹'.isdigit() is true, int('¹') fails)."""
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_LINES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 0 to {MAX_LINES}")
    return int(text)


def _message_id(text: str) -> int:
    """A message's number as `rse tail` prints it (#123 or 123)."""
    digits = text.removeprefix("#")
    if not (digits.isascii() and digits.isdigit()) or not 0 < int(digits) < 2**53:
        raise argparse.ArgumentTypeError(f"{text!r} is not a message number (#ID from rse tail)")
    return int(digits)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


TIMEOUT_HELP = "seconds to reach the server before giving up (default 10)"


DESCRIPTION = """\
The enterprise social network in your terminal.

Plain 'rse', with no command, opens the app on the saved profile (join or
log in first). The commands below do the same things from scripts and
during outages."""


EPILOG = """\
Exit codes: 0 done, 1 refused (one line on stderr), 2 bad usage, 3 server
unreachable within --timeout (writes stay queued; the next rse command of
any kind delivers them). Data directory: $RSE_HOME, else the platform's."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rse",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rse {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, timeout: bool = True) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if timeout:
            cmd.add_argument(
                "--timeout", type=_seconds, default=10.0, metavar="S", help=TIMEOUT_HELP
            )
        return cmd

    demo = add("demo", "start a local demo server and open the app on it", timeout=False)
    demo.add_argument("--reset", action="store_true", help="start over with fresh demo content")

    for name, what in (("join", "redeem an invitation"), ("login", "log in to a server")):
        cmd = add(name, what)
        cmd.add_argument("url", help="server address, ws://HOST:PORT/ or wss://HOST:PORT/")
        if name == "join":
            cmd.add_argument("code", nargs="?", help="the invitation code (or --code-stdin)")
            cmd.add_argument(
                "--code-stdin",
                action="store_true",
                help="read the code from the first line of standard input (not shown by ps);"
                " with --password-stdin the password is the next line",
            )
        cmd.add_argument("--name", required=True, help="your user name")
        cmd.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )
        cmd.add_argument(
            "--ca",
            type=Path,
            metavar="FILE",
            help="trust this CA or pinned server certificate (PEM) for wss://",
        )
    add("logout", "revoke this profile's token and forget it")

    group = add("group", "create, join, leave, list groups; list and manage members", timeout=False)
    gsub = group.add_subparsers(dest="group_command", metavar="ACTION", required=True)

    def gadd(name: str, what: str, *, user: bool = False) -> argparse.ArgumentParser:
        cmd = gsub.add_parser(name, help=what, description=what)
        if name not in ("list", "tree"):
            cmd.add_argument("name", help="group name (or #ID)")
        if user:
            cmd.add_argument("user", help="user name")
        cmd.add_argument("--timeout", type=_seconds, default=10.0, metavar="S", help=TIMEOUT_HELP)
        return cmd

    create = gadd("create", "create a group (you moderate it)")
    create.add_argument("--parent", metavar="GROUP", help="the group it goes under")
    create.add_argument(
        "--visibility",
        choices=Visibility.words(),
        default=Visibility.OPEN.value,
        help="open: anyone reads and joins; private: listed, members read, join by request;"
        " secret: invisible to non-members (default open)",
    )
    create.add_argument(
        "--post-policy",
        choices=PostPolicy.words(),
        default=PostPolicy.EVERYONE.value,
        help="who may post to the feed (moderators: an announcements group)",
    )
    create.add_argument(
        "--chat-policy",
        choices=ChatPolicy.words(),
        default=ChatPolicy.EVERYONE.value,
        help="who may chat (nobody: the chat is closed)",
    )
    create.add_argument("--description", default="", help="one line saying what it is for")
    gadd("join", "join an open group")
    gadd("leave", "leave a group")
    gadd("members", "list a group's members")
    gadd("request", "ask to join a private group")
    gadd("approve", "let in someone who asked (moderators)", user=True)
    gadd(
        "add",
        "add someone to a group: moderators and site admins, to any group they manage;"
        " any member, to an open group",
        user=True,
    ).add_argument("--moderator", action="store_true", help="as a moderator (moderators only)")
    gadd("remove", "remove someone from a group (moderators)", user=True)
    gadd("list", "list groups (* = member)")
    gadd("tree", "the tree of groups")

    for name, what in (("chat", "send chat"), ("post", "publish a feed post")):
        cmd = add(name, f"{what}: TEXT, or standard input")
        cmd.add_argument("group", help="group name (or #ID)")
        help_text = (
            "the text (default: one message per line of standard input)"
            if name == "chat"
            else "the text (default: all of standard input)"
        )
        cmd.add_argument("text", nargs="?", help=help_text)
        if name == "post":
            cmd.add_argument("--title", help="a title, shown above the text")
            cmd.add_argument(
                "--ack", action="store_true", help="an announcement its readers acknowledge"
            )

    tail = add("tail", "print a group's chat (or feed), then follow it")
    tail.add_argument("group", help="group name (or #ID)")
    tail.add_argument("--feed", action="store_true", help="the feed instead of the chat")
    tail.add_argument("--no-follow", action="store_true", help="print and exit")
    tail.add_argument(
        "-n",
        "--lines",
        type=_lines,
        default=50,
        metavar="N",
        help="how many to print first (default 50)",
    )
    add("sync", "deliver queued writes and catch up")
    dm = add("dm", "send a direct message: TEXT, or one per stdin line")
    dm.add_argument("user", help="user name")
    dm.add_argument(
        "text", nargs="?", help="the text (default: one message per line of standard input)"
    )
    react = add("react", "put a reaction on a message (or take it back)")
    react.add_argument("message", type=_message_id, metavar="ID", help="#ID, as rse tail prints")
    react.add_argument("emoji", choices=Reaction.words(), metavar="EMOJI",
                       help=f"one of {', '.join(Reaction.words())}")  # fmt: skip
    react.add_argument("--remove", action="store_true", help="take the reaction back")
    directory = add("directory", "find people by name or title")
    directory.add_argument(
        "query", nargs="?", default="", help="part of a name or title (default: everyone)"
    )
    directory.add_argument("--ambassadors", action="store_true", help="only ambassadors")
    add_feed_commands(add, _message_id)
    add_search_commands(add)
    charter = add("charter", "show the usage charter; --accept to accept it")
    charter.add_argument("--accept", action="store_true", help="accept the version shown")
    return parser


def _version() -> str:
    from .. import __version__

    return __version__


def _undecodable(args: argparse.Namespace) -> str | None:
    """The first argument that is not text (bytes that are not UTF-8), if any."""
    for key, value in vars(args).items():
        if isinstance(value, str | Path):
            try:
                str(value).encode("utf-8")
            except UnicodeEncodeError:
                return key.replace("_", "-")
    return None


def _quiet_logs() -> None:
    """What the client logs (why a link dropped, a failure's traceback) is
    for RSE_DEBUG=1; else a failure is the one line ``main`` prints."""
    root = logging.getLogger()
    if not os.environ.get("RSE_DEBUG") and not root.handlers:
        root.addHandler(logging.NullHandler())  # not logging's own last resort: stderr


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_logs()
    bad = _undecodable(args)
    if bad is not None:
        notice(f"the {bad} argument is not UTF-8 text")
        return EXIT_USAGE
    try:
        if args.command in SYNC_COMMANDS:
            return SYNC_COMMANDS[args.command](args)
        return asyncio.run(ASYNC_COMMANDS[args.command](args))
    except CliError as exc:
        notice(str(exc))
        return exc.code
    except BadAddress as exc:
        notice(str(exc))
        return EXIT_USAGE
    except (ProfileError, CredentialError) as exc:
        notice(str(exc))
        return EXIT_FAILED
    except CacheError as exc:  # the file, what is wrong with it and what to do
        if os.environ.get("RSE_DEBUG"):
            raise
        notice(str(exc))
        return EXIT_FAILED
    except ProtocolError as exc:
        notice(Glyphs.from_env().line(exc.message))
        return EXIT_FAILED
    except BrokenPipeError:  # the reader went away (rse tail | head): not an error
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Offline:  # the link dropped between two requests of one command
        notice("the connection to the server dropped; try again")
        return EXIT_QUEUED
    except Exception as exc:
        why = describe_failure(exc, getattr(args, "url", None) or "the server")
        if why is not None:
            notice(why)
            return EXIT_QUEUED
        if isinstance(exc, OSError) and exc.filename is not None:
            notice(f"cannot use {exc.filename}: {exc.strerror or exc}")
            return EXIT_FAILED
        if isinstance(exc, sqlite3.Error):
            notice(f"the local cache failed: {exc}")
            return EXIT_FAILED
        if os.environ.get("RSE_DEBUG"):
            raise
        notice(f"internal error: {type(exc).__name__}: {exc} (RSE_DEBUG=1 shows where)")
        return EXIT_FAILED
