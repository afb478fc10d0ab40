"""The composer: multi-line Markdown input, Enter sends, $EDITOR for long posts."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from .. import keys


class Composer(TextArea):
    BINDINGS = [b for b in keys.bindings("composer") if isinstance(b, Binding) and b.key != "enter"]
    DEFAULT_CSS = """
    Composer { height: auto; min-height: 3; max-height: 10; border: tall $panel; }
    Composer:focus { border: tall $accent; }
    """

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Leave(Message):
        """Escape: back to the messages."""

    def __init__(self, *, id: str | None = None, scratch_dir: Path | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.scratch_dir = scratch_dir

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.prevent_default()
            event.stop()
            self.action_send()
            return
        await super()._on_key(event)

    def action_send(self) -> None:
        text = self.text
        if text.strip():
            self.post_message(self.Submitted(text))

    def action_newline(self) -> None:
        self.insert("\n")

    def action_leave(self) -> None:
        self.post_message(self.Leave())

    def action_editor(self) -> None:
        """Edit the draft in $VISUAL / $EDITOR (vi when unset)."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        fd, name = tempfile.mkstemp(prefix="rse-draft-", suffix=".md", dir=self.scratch_dir)
        path = Path(name)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(self.text)
            with self.app.suspend():
                subprocess.run([*shlex.split(editor), str(path)], check=False)
            self.text = path.read_text().rstrip("\n")
            self.move_cursor(self.document.end)
        except OSError as exc:
            self.notify(f"could not run {editor}: {exc.strerror}", severity="error", markup=False)
        finally:
            path.unlink(missing_ok=True)
