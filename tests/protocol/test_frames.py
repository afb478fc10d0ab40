"""The wire contract: every frame round-trips, bad frames raise typed errors."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path

import pytest

from rse_tui import protocol as p


def _sample(cls: type) -> object:
    """An instance of ``cls`` with every field set to a plausible value."""
    values = {int: 42, str: "héllo ✓", bool: True, float: 1.5}
    kwargs = {}
    for f in p._fields_of(cls):
        hint = f.hint
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
        if typing.get_origin(hint) is list:
            (inner,) = typing.get_args(hint)
            if inner is p.Event:
                item = p.ChatEvent(seq=1, group=2, user=3, ts=4, text="x")
            else:
                item = values[inner] if inner in values else _sample(inner)
            kwargs[f.attr] = [item]
        elif f.attr == "cid":
            kwargs[f.attr] = "01HZXK-abc_9"
        elif hint not in values:  # a nested record
            kwargs[f.attr] = _sample(hint)
        else:
            kwargs[f.attr] = values[hint]
    return cls(**kwargs)


@pytest.mark.parametrize("cls", list(p.REQUESTS.values()), ids=list(p.REQUESTS))
def test_every_request_round_trips(cls):
    request = _sample(cls)
    text = p.encode(request)
    assert json.loads(text)["t"] == cls.TYPE
    assert p.decode_request(text) == request


REPLIES = [
    p.Done,
    p.Welcome,
    p.AuthOk,
    p.WriteOk,
    p.SyncDone,
    p.TokenList,
    p.GroupList,
    p.MemberList,
    p.UserList,
    p.Page,
    p.ThreadPage,
    p.HomePage,
    p.AckList,
]


def _frame_classes() -> list[type]:
    nested = [p.Poll, p.Ballot, p.ThreadInfo, p.ReactionInfo, p.GroupInfo, p.UserInfo]
    return [*p.REQUESTS.values(), *REPLIES, *p.EVENTS.values(), *nested]


@pytest.mark.parametrize("cls", _frame_classes(), ids=lambda c: c.__name__)
def test_no_two_fields_of_a_frame_share_a_wire_name(cls):
    names = [f.wire for f in p._fields_of(cls)] + (["t"] if getattr(cls, "TYPE", "") else [])
    assert len(names) == len(set(names)), sorted(names)


def test_no_event_type_is_taken_for_a_reply_or_another_push():
    """An event typed "r" would be read as a reply (and dropped)."""
    others = {"r", p.Batch.TYPE, p.Gap.TYPE, p.ErrorFrame.TYPE}
    assert others.isdisjoint(p.EVENTS)
    assert len(p.EVENTS) == len({cls.TYPE for cls in p.EVENTS.values()})


@pytest.mark.parametrize("cls", REPLIES, ids=[c.__name__ for c in REPLIES])
def test_every_reply_round_trips(cls):
    reply = _sample(cls)
    assert p.decode_server(p.encode(reply), lambda rid: cls) == reply


@pytest.mark.parametrize("cls", [*p.EVENTS.values(), p.Batch, p.Gap, p.ErrorFrame])
def test_every_push_round_trips(cls):
    frame = _sample(cls)
    assert p.decode_server(p.encode(frame), lambda rid: None) == frame


def test_frames_are_compact():
    event = p.ChatEvent(seq=123456, group=12, user=345, ts=1_790_000_000, text="db3 disk full")
    text = p.encode(event)
    assert " " not in text.replace("db3 disk full", "")
    assert len(text) - len("db3 disk full") <= 60
    # Defaults are not sent.
    assert p.encode(p.GroupInfo(group=1, name="x")) == '{"g":1,"n":"x"}'
    assert p.encode(p.Page(request_id=3, events=[])) == '{"t":"r","i":3,"e":[]}'


def test_text_is_not_escaped_to_ascii():
    assert "é" in p.encode(p.SendChat(request_id=1, cid="a", group=1, text="é"))


@pytest.mark.parametrize(
    ("raw", "code", "rid"),
    [
        ("", p.ErrorCode.BAD_FRAME, None),
        ("null", p.ErrorCode.BAD_FRAME, None),
        (b"\x80", p.ErrorCode.BAD_FRAME, None),
        ('{"t":"chat","i":1,"g":1,"x":"a","c":"b","extra":1}', None, 1),
        ('{"t":"hist","i":2,"g":1,"k":"c","b":null}', None, 2),
        ('{"t":"hist","i":3,"g":1,"k":"c","n":1.5}', p.ErrorCode.BAD_FIELD, 3),
        ('{"t":"users","i":4,"l":[1,"2"]}', p.ErrorCode.BAD_FIELD, 4),
        ('{"t":"users","i":5,"l":{"a":1}}', p.ErrorCode.BAD_FIELD, 5),
        ('{"t":"hello","i":6}', p.ErrorCode.BAD_FIELD, 6),
        ('{"t":"hello","i":7,"v":1,"tok":5}', p.ErrorCode.BAD_FIELD, 7),
        ('{"t":"join","i":8,"g":1,"c":""}', p.ErrorCode.BAD_FIELD, 8),
        ('{"t":"r","i":9}', p.ErrorCode.UNKNOWN_TYPE, 9),
        ('{"t":"sync","i":10,"s":9007199254740992}', p.ErrorCode.BAD_FIELD, 10),
    ],
)
def test_decode_request_errors(raw, code, rid):
    if code is None:
        assert p.decode_request(raw).request_id == rid  # unknown fields are ignored
        return
    with pytest.raises(p.ProtocolError) as err:
        p.decode_request(raw)
    assert (err.value.code, err.value.request_id) == (code, rid)


def test_error_codes_are_documented():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    for code in p.ErrorCode:
        assert f"`{code.value}`" in doc, code
    for name in p.REQUESTS:
        assert f"`{name}`" in doc, name
    for name in p.EVENTS:
        assert f'`"t":"{name}"`' in doc, name
    assert f"version {p.PROTOCOL_VERSION}" in doc.lower()


def test_lone_surrogates_are_refused_at_decode():
    """JSON may carry "\\ud800"; it would fail later, in SQLite or hashing, as an
    internal error that a client retries for ever."""
    import pytest as _pytest

    for frame in (
        '{"t":"chat","i":1,"c":"x","g":1,"x":"a\\ud800"}',
        '{"t":"login","i":1,"n":"\\udfff","pw":"secret secret"}',
        '{"t":"gcreate","i":1,"c":"x","n":"ok","d":"\\ud800"}',
    ):
        with _pytest.raises(p.ProtocolError) as err:
            p.decode_request(frame)
        assert err.value.code is p.ErrorCode.BAD_FIELD and err.value.request_id == 1
    ok = p.decode_request('{"t":"chat","i":1,"c":"x","g":1,"x":"\\ud83d\\ude00"}')
    assert ok.text == "😀"  # a proper pair is a character
