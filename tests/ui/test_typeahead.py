"""Keys typed before the app has the terminal: captured, then typed into the app."""

from __future__ import annotations

import os
import pty
import time

from rse_tui.typeahead import Typeahead

from .conftest import until
from .test_app import _join_ops, _ops_with_history, _stored


def test_typing_before_the_app_is_kept_with_its_enters():
    master, slave = pty.openpty()
    try:
        os.write(master, b"fast1\rfast2\r")  # typed in line mode: Enter becomes \n
        time.sleep(0.05)
        typeahead = Typeahead(slave)
        os.write(master, b"x\r")  # typed after the switch: Enter stays \r
        time.sleep(0.05)
        assert typeahead.take() == "fast1\rfast2\rx\r"
        assert typeahead.take() == ""  # once
    finally:
        os.close(master)
        os.close(slave)


def test_without_a_terminal_nothing_is_captured(tmp_path):
    with open(tmp_path / "f", "w+") as f:
        assert Typeahead(f.fileno()).take() == ""


async def test_the_app_types_what_was_typed_ahead(server, profiles):
    account, bob, g = await _ops_with_history(server, profiles)
    first = profiles.app(account)
    async with first.run_test(size=(80, 24)) as pilot:
        await _join_ops(first, pilot)
        await first.action_quit()
    app = profiles.app(account)
    app.typeahead = "fast1\rfast2\rdraft"
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.composer.text == "draft")
        await until(
            pilot, lambda: [r.text for r in app.timeline.rows if r.seq][-2:] == ["fast1", "fast2"]
        )
        assert (await _stored(bob, g))[3:] == ["fast1", "fast2"]
        await app.action_quit()
    await bob.close()


async def test_typed_ahead_on_a_new_device_waits_for_the_first_group(server, profiles):
    account, bob, g = await _ops_with_history(server, profiles)
    app = profiles.app(account)  # a fresh cache: no group until the sync brings them
    app.typeahead = "first words\rmore"
    async with app.run_test(size=(80, 24)) as pilot:
        await _join_ops(app, pilot)
        await until(pilot, lambda: app.composer.text == "more")
        await until(pilot, lambda: "first words" in [r.text for r in app.timeline.rows if r.seq])
        assert (await _stored(bob, g))[-1] == "first words"
        await app.action_quit()
    await bob.close()
