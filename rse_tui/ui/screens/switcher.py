"""The quick switcher (ctrl+k): Textual's command palette, as one of the app's
dialogs: it answers once, Esc closes it as it is routed, and Enter runs the
highlighted match of what was typed before it.

The palette searches as you type, in a worker. Typed faster than it searches
(a burst: "General⏎"), its Enter found the results of an earlier query (the
whole list, with its first entry highlighted) and ran that. Here Enter waits
for the search of the text before it, then runs the highlighted match; the
keys typed after it wait too (``waits``), and go to the composer of the group
it opened.
"""

from __future__ import annotations

import contextlib

from textual import events, on
from textual.command import Command, CommandList, CommandPalette
from textual.widgets import Input
from textual.worker import WorkerCancelled, WorkerFailed

from .dialog import Answers


class QuickSwitcher(Answers, CommandPalette):
    def __init__(self) -> None:
        super().__init__(id="--command-palette")

    def waits(self, event: events.Key) -> bool:
        return event.key == "enter" and isinstance(self.focused, Input)

    @on(Input.Submitted)
    async def _enter(self, event: Input.Submitted) -> None:
        # Instead of the palette's own Enter, which acts on the results shown.
        event.prevent_default()
        event.stop()
        try:
            await self._searched()
            chosen = self._chosen()
            if chosen is not None:
                self.dismiss()
                self.app.call_later(chosen.hit.command)  # as the palette runs a command
        finally:
            self.decided()

    async def _searched(self) -> None:
        """The search of what is in the box now is done (the one that each
        change of the text started: the latest)."""
        # The palette's worker group: a private name of Textual (pinned to 8.2.x,
        # see pyproject.toml); the burst tests of tests/ui/test_bursts.py fail if
        # it changes.
        group = CommandPalette._GATHER_COMMANDS_GROUP
        while True:
            running = [
                w
                for w in self.app.workers
                if w.node is self and w.group == group and not w.is_finished
            ]
            if not running:
                return
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await running[-1].wait()

    def _chosen(self) -> Command | None:
        commands = self.query_one(CommandList)
        index = commands.highlighted
        if index is None:
            return None
        option = commands.get_option_at_index(index)
        if option.disabled or not isinstance(option, Command):
            return None  # "No matches found"
        return option
