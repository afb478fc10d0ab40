"""The composer: multi-line Markdown input, Enter sends, $EDITOR for long posts.

Keys reach the composer in the order they were typed, and it handles each one
before the next: its own keys (send, new line, editor) and the app's keys
while it has focus. A key left to bubble up to the app would be handled after
the keys typed behind it, which sent half-typed lines, put new lines in the
wrong place and typed into the wrong group. Sending takes the text and clears
the composer in one step, so a burst such as ``alpha⏎beta⏎`` sends two
messages, each exactly once.

The composer holds no control character but newlines and tabs: a text area
draws what it holds as it is, so a message being edited with ESC in it
retitled the terminal and coloured the screen. Every text that enters it,
typed, pasted, loaded (an edit, a draft, the editor's file) or put back, has
them replaced by their visible stand-ins (``␛``), which are then its text.
"""

from __future__ import annotations

import inspect
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual import events
from textual.content import Content
from textual.message import Message
from textual.widgets import TextArea
from textual.widgets.text_area import Edit, EditResult

from rse_tui.sync.models import MessageRow
from rse_tui.textsafe import clean_line, editable

from .. import keys


def _command(event: events.Key) -> bool:
    """A key that is not text: ^K, F1, arrows, and alt+letter (which carries the
    letter as its character, but is not typing it)."""
    return not event.is_printable or event.key.startswith(("alt+", "ctrl+"))


@dataclass(frozen=True, slots=True)
class Mode:
    """What the composer writes: an edit of ``row`` (mine) or a reply to it."""

    kind: str  # "edit" or "reply"
    row: MessageRow


class Composer(TextArea):
    #: Where its keys are in the key table (the first place's win).
    KEYS: tuple[str, ...] = ("composer",)
    #: Its actions that only act in an empty composer (else the key edits the text).
    WHEN_EMPTY: frozenset[str] = frozenset({"edit_last"})
    DEFAULT_CSS = """
    Composer { height: auto; min-height: 3; max-height: 10; border: tall $panel; }
    Composer:focus { border: tall $accent; }
    """

    class Submitted(Message):
        def __init__(self, text: str, mode: Mode | None = None) -> None:
            super().__init__()
            self.text = text
            self.mode = mode  # as it was when Enter was pressed

    class SetMode(Message):
        """Start (or, with None, leave) an edit or a reply, in key order."""

        def __init__(self, mode: Mode | None) -> None:
            super().__init__()
            self.mode = mode

    class Behind(Message):
        """Run ``then`` once the keys the composer got before it are handled
        (an Enter among them has handed its message to the app)."""

        def __init__(self, then: Callable[[], object]) -> None:
            super().__init__()
            self.then = then

    def __init__(self, *, id: str | None = None, scratch_dir: Path | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.scratch_dir = scratch_dir
        self.mode: Mode | None = None
        #: Texts put back after a refusal, in the order they were sent (the
        #: start of the composer's text while it is left as it was).
        self._restored = ""
        #: Texts sent (Enter) that the app has not yet queued and shown.
        self.in_flight = 0
        self._own = {k: a for where in reversed(self.KEYS) for k, a in keys.actions(where).items()}
        self._app_keys = keys.actions("app")
        self._opening = keys.opening()

    def load_text(self, text: str) -> None:
        super().load_text(editable(text))

    def edit(self, edit: Edit) -> EditResult:
        edit.text = editable(edit.text)
        return super().edit(edit)

    async def _on_key(self, event: events.Key) -> None:
        if event.key in self._opening:
            return  # up to the app, which opens the dialog (RseApp._route)
        if self._restored and event.is_printable:
            # Typing right behind a text that came back after a refusal starts
            # a line of its own ("a⏎b⏎" refused, then "c": not "bc").
            if self.text == self._restored and self.cursor_location == self.document.end:
                self.insert("\n")
            self._restored = ""
        action = self._own.get(event.key)
        if action is not None and (action not in self.WHEN_EMPTY or not self.text):
            event.prevent_default()
            self._stop(event)
            # Run to the end before the next key (edit_last fills the composer,
            # escape may leave a mode or go to the messages).
            done = getattr(self, f"action_{action}")()
            if inspect.isawaitable(done):
                await done
            return
        action = self._app_keys.get(event.key)
        if action is not None and _command(event):
            event.prevent_default()
            returning = getattr(self.app, "returning", None)
            if returning is not None and returning(event):
                # The app acts on it once it is back, the keys typed after it
                # waiting until then: they go where it leaves the focus
                # ("alt+h ↓" moves on Home, not in this composer).
                return
            self._stop(event)
            # Run to the end before the next key: typing after ctrl+down lands in
            # the group switched to, never in the one left.
            await self.app.run_action(action)
            return
        editing = self._bindings.key_to_bindings.get(event.key)
        if event.key == "tab":  # to the next pane, after the keys typed before it
            event.prevent_default()
            self._stop(event)
            await self.app.run_action("focus_next")
            return
        if editing and _command(event):
            # The text area's own keys (backspace, delete, arrows, ^W...) are
            # bindings, which Textual runs when the key has bubbled up to the
            # app, after the keys typed behind it: "ab⌫c" would give "ac"
            # typed as "a", "c", then the last letter deleted. Run them here,
            # in typing order.
            event.prevent_default()
            self._stop(event)
            await self.run_action(editing[0].action)
            return
        if event.is_printable and _command(event):
            # alt+h over a post (where it is no key), alt+x anywhere: it carries
            # its letter, but typing it is not (a stray "h" was sent with the
            # Enter typed next).
            event.prevent_default()
            self._stop(event)
            return
        await super()._on_key(event)

    def _stop(self, event: events.Key) -> None:
        """Stop a key handled here, unless the app sent it round the widgets
        and waits for it to come back (``RseApp.returning``: the post view's
        Esc, which moves the focus, acts on the keys after it once back)."""
        returning = getattr(self.app, "returning", None)
        if returning is None or not returning(event):
            event.stop()

    def action_send(self) -> None:
        text = self.text
        if text.strip():
            mode = self.mode
            self.clear()  # taken and cleared in one step: the next key starts afresh
            self._restored = ""
            self.set_mode(None)
            self.in_flight += 1
            # Straight to the app, not bubbling up behind the keys this composer
            # has still to handle (↑ right after Enter waits for it to be shown).
            self.app.post_message(self.Submitted(text, mode))

    def set_mode(self, mode: Mode | None, *, clear: bool = False) -> None:
        """Enter an edit (its text in the composer) or a reply; None leaves
        either (``clear``: and drops an edit's text). An edit never replaces
        what is being written: it is refused, and the text stays."""
        leaving = self.mode
        if (
            mode is not None
            and mode.kind == "edit"
            and self.text.strip()
            and (leaving is None or leaving.kind != "edit")
        ):
            self.app.notify(
                "send or clear what you are writing first: the edit would replace it",
                markup=False,
            )
            return
        self.mode = mode
        if mode is None:
            self.border_title = None
            if clear and leaving is not None and leaving.kind == "edit":
                self.clear()
            return
        if mode.kind == "edit":
            self.text = mode.row.text
            self.move_cursor(self.document.end)
            title = "editing your message · Enter saves · Esc cancels"
        else:
            quoted = clean_line(f"{mode.row.author}: {mode.row.text}")[:50]
            title = f"replying to {quoted} · Esc cancels"
        # Untrusted text: shown as Content, never parsed as markup.
        self.border_title = Content(title)

    @property
    def draft(self) -> str:
        """What to keep as the group's draft: the text, unless it is a message
        being edited. That text is the message's: kept as a draft, it came
        back without its "editing" title, and Enter posted it again as new."""
        return "" if self.mode is not None and self.mode.kind == "edit" else self.text

    def on_composer_set_mode(self, message: SetMode) -> None:
        self.set_mode(message.mode)

    def on_composer_behind(self, message: Behind) -> None:
        message.then()

    async def action_escape(self) -> None:
        """Esc leaves an edit or a reply; else it goes to the messages."""
        if self.mode is not None:
            self.set_mode(None, clear=True)
        else:
            await self.app.run_action("to_messages")

    def restore(self, text: str) -> None:
        """Put back a text that could not be sent, never dropping one.

        A burst of refused lines ("a⏎b⏎c⏎" where one may not write) comes back
        in the order it was sent, one per line, before whatever was typed after
        them (the refusals arrive after the keys that follow).
        """
        current = self.text
        block = self._restored if self._restored and current.startswith(self._restored) else ""
        typed = current[len(block) :]
        block = f"{block}\n{text}" if block else text
        self._restored = block
        self.text = f"{block}\n{typed.lstrip(chr(10))}" if typed.strip() else block
        self.move_cursor(self.document.end)

    async def action_edit_last(self) -> None:
        await self.app.run_action("edit_last")

    def action_erase_to_line_start(self) -> None:
        """^U as in a shell: back to the start of the line as typed, not of the
        screen row a long line wrapped onto."""
        row, column = self.cursor_location
        self.delete((row, 0), (row, column))

    def action_newline(self) -> None:
        self.insert("\n")

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
