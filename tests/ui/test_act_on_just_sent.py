"""Acting on the message just sent, typed as fast as SSH delivers it.

Found by a new user: in "delta⏎ alt+↑ e ' EDITED'⏎" the selection landed on
the message before delta (delta was not in the list yet), and the edit, the
reply, the pin or the deletion went to the wrong message; "zeta⏎ ↑ ' X'⏎"
sent " X" as a message of its own. The message just sent is selected (and
edited, answered) as the one it is, stored or still waiting.
"""

from __future__ import annotations

from rse_tui.protocol import ChatEvent, CreateGroup, History, Sync

from ..helpers import new_user
from .conftest import burst, until


async def _room(server, profiles):
    account = await profiles.join(server, "ana")
    bob = await new_user(server, "bob")
    g = (await bob.conn.call(CreateGroup, name="General", cid="g")).group
    await bob.conn.call(Sync, since=0)
    return account, bob, g


async def _stored(bob, g) -> list[ChatEvent]:
    page = await bob.conn.call(History, group=g, kind="c", limit=100)
    return [e for e in page.events if isinstance(e, ChatEvent)]


async def _ready(app, pilot, g) -> None:
    await until(pilot, lambda: any(r.group == g for r in app.groups.rows))
    await app.client.join(g)
    await until(pilot, lambda: any(r.group == g and r.member for r in app.groups.rows))
    await app.open_group(next(r for r in app.groups.rows if r.group == g))
    app.action_to_composer()
    await burst(pilot, *"gamma", "enter")
    await until(pilot, lambda: app.engine.status.outbox == 0 and app.engine.online)


async def test_edit_reply_and_pin_right_after_sending_act_on_that_message(server, profiles):
    account, bob, g = await _room(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(app, pilot, g)
        await burst(pilot, *"delta", "enter", "alt+up", "e", *" EDITED", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0 and app.composer.text == "")
        await until(
            pilot, lambda: any(r.text == "delta EDITED" and r.seq for r in app.timeline.rows)
        )
        assert [e.text for e in await _stored(bob, g)] == ["gamma", "delta EDITED"]

        await burst(pilot, *"zeta", "enter", "up", *" X", "enter")
        await until(pilot, lambda: app.engine.status.outbox == 0 and app.composer.text == "")
        await until(pilot, lambda: any(r.text == "zeta X" and r.seq for r in app.timeline.rows))
        assert [e.text for e in await _stored(bob, g)][-1] == "zeta X"

        await burst(pilot, *"question?", "enter", "alt+up", "r", *"my answer", "enter")
        # The reply waits for the question to be stored: it is queued after that.
        await until(pilot, lambda: any(r.text == "my answer" and r.seq for r in app.timeline.rows))
        stored = await _stored(bob, g)
        question, answer = stored[-2], stored[-1]
        assert (question.text, answer.text, answer.reply) == (
            "question?",
            "my answer",
            question.seq,
        )

        await burst(pilot, *"lambda", "enter", "alt+up", "p")
        await until(pilot, lambda: app.engine.status.outbox == 0)
        await pilot.pause(0.3)
        assert not any(r.pinned for r in app.timeline.rows)  # least of all "my answer"
        assert [e.text for e in await _stored(bob, g)][-1] == "lambda"
        await app.action_quit()
    await bob.close()


async def test_an_edit_of_a_message_that_has_not_left_rewrites_it(server, profiles):
    """Offline, the message just written waits in the outbox: the edit gives it
    its new text there (nobody saw the old one), and one message goes out."""
    account, bob, g = await _room(server, profiles)
    app = profiles.app(account)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(app, pilot, g)
        await app.engine.stop()
        await until(pilot, lambda: not app.engine.online)
        await burst(pilot, *"on the train", "enter", "alt+up", "e", *", late", "enter")
        await until(pilot, lambda: app.composer.text == "")
        await until(pilot, lambda: any(r.text == "on the train, late" for r in app.timeline.rows))
        queued = await app.client.outbox()
        assert [(type(i.request).__name__, i.text) for i in queued] == [
            ("SendChat", "on the train, late")
        ]
        await app.action_quit()
    await bob.close()
