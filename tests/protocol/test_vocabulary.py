"""The vocabulary: each word set's values are the strings the wire carries,
and a word goes on the wire as its plain string."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rse_tui import protocol as p

#: What the wire carries, written out: a word changed in an enum fails here.
WIRE = {
    p.Visibility: ("open", "private", "secret"),
    p.PostPolicy: ("everyone", "moderators"),
    p.ChatPolicy: ("everyone", "moderators", "nobody"),
    p.Role: ("member", "moderator"),
    p.Badge: ("ambassador",),
    p.Kind: ("c", "p", "m"),
}


@pytest.mark.parametrize("vocabulary", list(WIRE), ids=[v.__name__ for v in WIRE])
def test_each_word_is_its_wire_string(vocabulary):
    assert tuple(member.value for member in vocabulary) == WIRE[vocabulary]
    assert vocabulary.words() == WIRE[vocabulary]
    for member, word in zip(vocabulary, WIRE[vocabulary], strict=True):
        assert member == word and str(member) == word and f"{member}" == word
        assert json.dumps(member) == json.dumps(word)
        assert vocabulary.knows(word) and vocabulary(word) is member
    assert not vocabulary.knows("nope") and not vocabulary.knows(None)


def test_message_kinds_are_the_event_types():
    assert tuple(p.Kind) == (p.ChatEvent.TYPE, p.PostEvent.TYPE, p.CommentEvent.TYPE)
    assert p.EVENTS["c"] is p.ChatEvent and p.EVENTS["p"] is p.PostEvent


def test_the_post_policies_are_the_chat_policies_but_nobody():
    """server.policy decides both with one rule."""
    assert set(p.ChatPolicy) - set(p.PostPolicy) == {p.ChatPolicy.NOBODY}


def test_a_word_encodes_as_its_plain_string():
    words = {
        "visibility": p.Visibility.SECRET,
        "post_policy": p.PostPolicy.MODERATORS,
        "chat_policy": p.ChatPolicy.NOBODY,
        "comment_policy": p.ChatPolicy.MODERATORS,
    }
    as_words = p.GroupEvent(seq=1, group=2, user=3, ts=4, name="Board", **words)
    strings = {name: word.value for name, word in words.items()}
    as_strings = p.GroupEvent(seq=1, group=2, user=3, ts=4, name="Board", **strings)
    text = p.encode(as_words)
    assert text == p.encode(as_strings)
    assert json.loads(text) == {
        "t": "g",
        "s": 1,
        "g": 2,
        "u": 3,
        "ts": 4,
        "n": "Board",
        "vis": "secret",
        "pp": "moderators",
        "cp": "nobody",
        "cm": "moderators",
    }
    decoded = p.decode_server(text, lambda rid: None)
    assert isinstance(decoded, p.GroupEvent) and decoded == as_words
    assert type(decoded.visibility) is str  # the decoder lets any string through
    role = p.JoinEvent(seq=1, group=2, user=3, role=p.Role.MODERATOR)
    assert p.encode(role) == '{"t":"j","s":1,"g":2,"u":3,"r":"moderator"}'
    ask = p.History(request_id=1, group=2, kind=p.Kind.POST)
    assert p.encode(ask) == '{"t":"hist","i":1,"g":2,"k":"p"}'


def test_a_default_word_is_left_out_as_its_string_is():
    for role in (p.Role.MEMBER, "member"):
        assert p.encode(p.JoinEvent(seq=1, group=2, user=3, role=role)) == (
            '{"t":"j","s":1,"g":2,"u":3}'
        )
    for vis in (p.Visibility.OPEN, "open"):
        info = p.GroupInfo(group=1, name="x", visibility=vis, chat_policy=p.ChatPolicy.EVERYONE)
        assert p.encode(info) == '{"g":1,"n":"x"}'
    # Only strings stand for each other: False is not 0, nor 1.0 1.
    assert p.encode(p.GroupInfo(group=1, name="x", members=False)) == '{"g":1,"n":"x","mc":false}'


def test_every_word_is_documented():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    for vocabulary in WIRE:
        for word in vocabulary.words():
            assert f"`{word}`" in doc, (vocabulary.__name__, word)
