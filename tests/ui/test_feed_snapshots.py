"""The feed as a user sees it, compared with stored snapshots: the home
portal, a post with its comments, a poll; at 80x24 and 120x40, with and
without colour.

As in test_snapshots.py, the screen is the same on every run: fixed clocks,
the server stopped before the app opens (offline, a fixed retry delay),
everything from the cache an earlier session filled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3

import pytest

from rse_tui.protocol import (
    CreateGroup,
    Feature,
    JoinGroup,
    Poll,
    React,
    SendComment,
    SendPost,
    Vote,
)
from rse_tui.sync import account as accounts
from rse_tui.sync.client import Client
from rse_tui.sync.engine import Engine
from rse_tui.ui.screens.post import PostScreen
from server import storage
from server.app import RseServer

from ..helpers import PASSWORD, config, invite, new_user
from .test_snapshots import NOW, _app, _offline

RUNBOOK = """1. Check the [status page](https://status.example.com)
2. Page the on-call network engineer
3. Keep updates in this group's chat

- [x] VPN concentrator restarted
- [ ] Postmortem written"""


@dataclasses.dataclass
class Feed:
    account: accounts.Account
    runbook: int
    poll: int


async def _prepare(tmp_path) -> Feed:
    cfg = dataclasses.replace(config(tmp_path / "server.db"), clock=lambda: NOW)
    async with RseServer(cfg) as srv:
        karim, lea = await new_user(srv, "karim"), await new_user(srv, "lea")
        db = sqlite3.connect(cfg.db_path, isolation_level=None)
        with storage.transaction(db):
            storage.set_admin(db, "karim", True)
        db.close()
        news = (
            await karim.conn.call(
                CreateGroup, name="Announcements", post_policy="moderators", cid="a"
            )
        ).group
        ops = (await karim.conn.call(CreateGroup, name="Incidents", cid="g")).group
        for n, group in enumerate((news, ops)):
            await lea.conn.call(JoinGroup, group=group, cid=f"j{n}")
        move = await karim.conn.call(
            SendPost,
            group=news,
            text="We move to **building C** on Friday. Details: [the wiki](https://wiki.example.com/move).",
            title="Office move on Friday",
            ack=True,
            cid="p1",
        )
        await karim.conn.call(Feature, target=move.seq, cid="f1")
        runbook = await lea.conn.call(
            SendPost, group=ops, text=RUNBOOK, title="Runbook: VPN down", cid="p2"
        )
        await karim.conn.call(
            SendComment, post=runbook.seq, text="The pager number changed: see the wiki.", cid="c1"
        )
        await lea.conn.call(SendComment, post=runbook.seq, text="Updated, thanks.", cid="c2")
        await karim.conn.call(React, target=runbook.seq, emoji="+1", cid="r1")
        poll = await karim.conn.call(
            SendPost,
            group=ops,
            text="Game day: which day suits the on-call rota?",
            poll=Poll(options=["Tuesday", "Wednesday", "Thursday"], closes=NOW + 3 * 86400),
            cid="p3",
        )
        await karim.conn.call(Vote, target=poll.seq, choices=[1], cid="v1")
        await lea.conn.call(Vote, target=poll.seq, choices=[1], cid="v2")
        account, _ = await accounts.join(
            tmp_path / "home", srv.url, invite(cfg.db_path), "ana", PASSWORD
        )
        cache = account.open_cache()
        engine = Engine(cache, url=account.settings.url, token=account.token)
        task = asyncio.create_task(engine.run())
        await engine.wait_online()
        client = Client(engine)
        await client.join(news)
        await client.join(ops)
        await engine.wait_idle()
        await client.home()
        for post in (move.seq, runbook.seq, poll.seq):
            await client.thread(post)
        await engine.worker(cache.set, "ui.group", ops)
        await engine.stop()
        await task
        engine.close()
        for user in (karim, lea):
            await user.close()
    return Feed(account, runbook.seq, poll.seq)


@pytest.fixture
def feed(tmp_path, monkeypatch):
    import time

    import keyring
    from keyring.backends import fail

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield asyncio.run(_prepare(tmp_path))
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")


def _opened(post: int):
    async def run_before(pilot) -> None:
        await _offline(pilot)
        app = pilot.app
        app.open_thread(post)
        async with asyncio.timeout(10):
            while not (isinstance(app.screen, PostScreen) and app.screen.composer.has_focus):
                await pilot.pause(0.02)
        await _offline(pilot)

    return run_before


def test_snapshot_home_80x24(snap_compare, feed):
    assert snap_compare(_app(feed.account), terminal_size=(80, 24), run_before=_offline)


def test_snapshot_home_120x40_no_color(snap_compare, feed, no_color):
    assert snap_compare(_app(feed.account), terminal_size=(120, 40), run_before=_offline)


def test_snapshot_post_with_comments_80x24(snap_compare, feed):
    app = _app(feed.account)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_opened(feed.runbook))


def test_snapshot_post_with_comments_120x40_no_color(snap_compare, feed, no_color):
    app = _app(feed.account)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_opened(feed.runbook))


def test_snapshot_poll_80x24(snap_compare, feed):
    app = _app(feed.account)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_opened(feed.poll))


def test_snapshot_poll_120x40_no_color(snap_compare, feed, no_color):
    app = _app(feed.account)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_opened(feed.poll))
