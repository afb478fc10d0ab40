"""Reactions under a message: emoji where the terminal shows them, ``:word:``
under NO_COLOR or RSE_ASCII=1; one's own in bold; live as they come and go."""

from __future__ import annotations

from rse_tui.protocol import CreateGroup, React, SendChat, Sync

from ..helpers import new_user
from .conftest import until


async def _room(server, profiles):
    account = await profiles.join(server, "ana")
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="Ops", cid="g")).group
    await bob.conn.call(Sync, since=0)
    return account, bob, g


async def _shown(app, pilot, g):
    await until(pilot, lambda: any(r.group == g for r in app.groups.rows))
    await app.client.join(g)
    await until(pilot, lambda: any(r.group == g and r.member for r in app.groups.rows))
    await app.open_group(next(r for r in app.groups.rows if r.group == g))


async def test_reactions_show_under_the_message_and_follow_changes(server, profiles, monkeypatch):
    monkeypatch.setenv("RSE_ASCII", "1")
    account, bob, g = await _room(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _shown(app, pilot, g)
        said = (await bob.conn.call(SendChat, group=g, text="db3 is back", cid="c")).seq
        await until(pilot, lambda: any(r.seq == said for r in app.timeline.rows))
        await bob.conn.call(React, target=said, emoji="tada", cid="r1")
        await app.client.react(said, "tada")
        await app.client.react(said, "+1")
        await until(pilot, lambda: ":tada: 2" in app.timeline.visible_text())
        assert ":+1: 1 :tada: 2" in app.timeline.visible_text()  # in the words' order
        row = next(r for r in app.timeline.rows if r.seq == said)
        assert row.reactions == (("+1", 1, True), ("tada", 2, True))
        await bob.conn.call(React, target=said, emoji="tada", on=False, cid="r2")
        await until(pilot, lambda: ":tada: 1" in app.timeline.visible_text())
        await app.action_quit()
    await bob.close()


async def test_emoji_where_the_terminal_shows_them(server, profiles, monkeypatch):
    monkeypatch.delenv("RSE_ASCII", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    account, bob, g = await _room(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _shown(app, pilot, g)
        said = (await bob.conn.call(SendChat, group=g, text="shipped", cid="c")).seq
        await until(pilot, lambda: any(r.seq == said for r in app.timeline.rows))
        await bob.conn.call(React, target=said, emoji="rocket", cid="r1")
        await until(pilot, lambda: "🚀 1" in app.timeline.visible_text())
        await app.action_quit()
    await bob.close()


async def test_plus_on_a_selected_message_reacts_and_again_takes_it_back(
    server, profiles, monkeypatch
):
    from .conftest import burst

    monkeypatch.setenv("RSE_ASCII", "1")
    account, bob, g = await _room(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _shown(app, pilot, g)
        said = (await bob.conn.call(SendChat, group=g, text="we are live", cid="c")).seq
        await until(pilot, lambda: any(r.seq == said for r in app.timeline.rows))
        app.action_to_composer()
        await burst(pilot, "alt+up", "plus", *"nice", "enter")
        await until(pilot, lambda: ":+1: 1" in app.timeline.visible_text())
        await until(pilot, lambda: app.engine.status.outbox == 0)
        # The + acted on the message; what followed was a message of its own
        # (shown stored once the view has caught up with the acknowledgement).
        await until(pilot, lambda: [r.text for r in app.timeline.rows if r.seq][-1] == "nice")
        assert next(r for r in app.timeline.rows if r.seq == said).reactions == (("+1", 1, True),)
        await burst(pilot, "alt+up", "up", "plus")
        await until(pilot, lambda: ":+1:" not in app.timeline.visible_text())
        # In the composer, + is typed.
        await burst(pilot, *"1+1", "enter")
        await until(pilot, lambda: "1+1" in [r.text for r in app.timeline.rows if r.seq])
        await app.action_quit()
    await bob.close()
