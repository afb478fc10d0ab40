"""``rse``: the terminal client, and the same engine as commands for scripts.

``rse`` alone opens the TUI on the current profile. The other commands are
for scripts and outages; each write goes through the outbox, so a write that
cannot reach the server within ``--timeout`` stays queued (exit 3) and the
next ``rse`` run of any kind delivers it.

Exit codes: 0 done, 1 refused or failed, 2 bad usage, 3 server unreachable
(writes stay queued), 130 interrupted. Errors are one line on stderr.

The package: ``run`` (exit codes, errors, one command's engine), the commands
by theme (``account``, ``messages``, ``groups``, ``launch``), and ``parser``
(the arguments, the table of commands, ``main``: the console script).
"""

from __future__ import annotations

from .groups import GROUP_COMMANDS
from .messages import format_line
from .parser import ASYNC_COMMANDS, SYNC_COMMANDS, build_parser, main
from .run import EXIT_FAILED, EXIT_OK, EXIT_QUEUED, EXIT_USAGE, CliError, Run, running

__all__ = [
    "ASYNC_COMMANDS",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_QUEUED",
    "EXIT_USAGE",
    "GROUP_COMMANDS",
    "SYNC_COMMANDS",
    "CliError",
    "Run",
    "build_parser",
    "format_line",
    "main",
    "running",
]
