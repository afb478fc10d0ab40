"""Running the client: plain ``rse`` (the app), ``rse demo``, and ``rse sync``
(deliver the queued writes and catch up)."""

from __future__ import annotations

import argparse
import sys

from rse_tui.typeahead import Typeahead

from ..sync import account as accounts
from ..sync.profile import home
from .run import EXIT_FAILED, EXIT_USAGE, CliError, notice, running


async def cmd_sync(args: argparse.Namespace) -> int:
    async with running(args) as run:
        return await run.deliver()


def _need_terminal() -> None:
    """The app draws a full screen: without a terminal it would write escape
    codes into a pipe or a file."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError(
            "the app needs a terminal; for scripts use rse tail, rse chat, rse post, rse sync",
            EXIT_USAGE,
        )


def cmd_demo(args: argparse.Namespace) -> int:
    _need_terminal()
    typeahead = Typeahead()  # what is typed while the demo starts is kept
    from ..demo import DemoRunning, run_demo

    try:
        return run_demo(home(), reset=args.reset, typeahead=typeahead)
    except DemoRunning as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    finally:
        typeahead.take()  # the terminal as it was, whatever stopped the demo early


def cmd_tui(args: argparse.Namespace) -> int:
    account = accounts.load(home(), notice)
    _need_terminal()
    typeahead = Typeahead()
    try:
        from ..ui.app import run_tui

        return run_tui(account, typeahead=typeahead)
    finally:
        typeahead.take()  # the terminal as it was, whatever stopped the app early
