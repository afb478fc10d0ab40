"""``rse demo``: an embedded server with demo content, a demo login, the app on it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from rse_tui import demo
from rse_tui.sync.engine import Backoff, Engine
from rse_tui.sync.models import Link
from rse_tui.ui.app import RseApp
from rse_tui.ui.widgets.panes import StatusBar

from .conftest import until


def _login(root, server):
    # The demo login runs its own event loop, as `rse demo` does before the app.
    result = {}
    thread = threading.Thread(
        target=lambda: result.setdefault(
            "account", asyncio.run(demo._demo_login(root, server.url, server.config.db_path))
        )
    )
    thread.start()
    thread.join(60)
    return result["account"]


async def test_demo_platform_is_ready_and_reused(tmp_path):
    root = tmp_path / "home"
    with demo.demo_server(root) as server:
        assert server.url.startswith("ws://127.0.0.1:")
        account = _login(root, server)
        assert account.profile.key == "demo"
        app = RseApp(
            Engine(
                account.open_cache(),
                url=account.settings.url,
                token=account.token,
                backoff=Backoff(first=0.05, cap=0.2),
            )
        )
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.engine.status.link is Link.ONLINE)
            await until(pilot, lambda: len(app.groups.rows) >= 3)
            names = {r.name for r in app.groups.rows if r.member}
            assert {"General", "Announcements", "Incidents"} <= names
            # A first start lands on Home: the featured welcome, then the news.
            await until(pilot, lambda: app.view.home)
            await until(pilot, lambda: "Game day" in app.portal.visible_text())
            listed = app.portal.visible_text()
            assert listed.index("Featured") < listed.index("Welcome to the network")
            assert "Runbook: VPN down" in listed and "2 comments" in listed
            assert "please acknowledge" in listed  # the launch announcement
            await until(pilot, lambda: "inbox" in app.part(StatusBar).text)
            general = next(r for r in app.groups.rows if r.name == "General")
            await app.open_group(general)
            await until(pilot, lambda: len(app.timeline.rows) > 0)
            await app.action_quit()
        app.engine.close()
        first_user = account.settings.user
        first_url = server.url
    # A second run logs in as the same demo user, on the same port (profiles
    # of people who joined it keep working), same database.
    with demo.demo_server(root) as server:
        again = _login(root, server)
        assert again.settings.user == first_user
        assert again.settings.url == server.url == first_url
    # The port taken meanwhile (say, by an rse-server run on the demo's
    # database): said, not silently changed (found by a new user: the profile
    # followed a new port, and pointed at nothing once the demo ended).
    import socket

    port = int(first_url.rsplit(":", 1)[1].strip("/"))
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        taken = pytest.raises(demo.DemoRunning, match=f"port {port} is taken")
        with taken as refused, demo.demo_server(root):
            pass
        port_file = root / "demo-server" / "port"
        assert str(port_file) in str(refused.value)
        assert port_file.read_text() == str(port)
        # Deleting the port file takes a new one.
        port_file.unlink()
        with demo.demo_server(root) as server:
            assert server.url != first_url
            assert _login(root, server).settings.user == first_user
    finally:
        blocker.close()


def test_a_second_demo_on_the_same_directory_is_refused(tmp_path):
    from rse_tui.demo import DemoRunning, _one_demo

    with (
        _one_demo(tmp_path),
        pytest.raises(DemoRunning, match="already running"),
        _one_demo(tmp_path),
    ):
        pass
    with _one_demo(tmp_path):  # free again once the first has ended
        pass
