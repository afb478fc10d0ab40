"""Compression for many idle connections: frames built in one step, compressors
given back when quiet, and clients that never notice."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import struct
import zlib

from rse_tui.protocol import ChatEvent, CreateGroup, JoinGroup, SendChat, SendPost, Sync
from server.app import RseServer
from server.deflate import LeanDeflate

from ..helpers import config, new_user


def _parse(frame: bytes, window_bits: int, inflater=None) -> tuple[bytes, object]:
    """Decode one server frame as a client would (unmasked, compressed, final)."""
    first, second = frame[0], frame[1]
    assert first == 0xC1  # FIN, RSV1, text
    assert second & 0x80 == 0  # a server never masks
    size, at = second & 0x7F, 2
    if size == 126:
        size, at = struct.unpack("!H", frame[2:4])[0], 4
    elif size == 127:
        size, at = struct.unpack("!Q", frame[2:10])[0], 10
    payload = frame[at:]
    assert len(payload) == size
    inflater = inflater or zlib.decompressobj(-window_bits)
    return inflater.decompress(payload + b"\x00\x00\xff\xff"), inflater


def test_text_frames_of_every_length_decode_and_share_history():
    ext = LeanDeflate(False, False, 12, 12, {"memLevel": 1})
    assert not ext.holds_compressor  # nothing allocated before the first frame
    inflater = None
    for data in (b'{"t":"c"}', b"x" * 300, os.urandom(70_000), b'{"t":"c"}'):
        out, inflater = _parse(ext.text_frame(data), 12, inflater)
        assert out == data
    assert ext.holds_compressor
    # A repeat costs a few bytes: the second frame refers to the first.
    assert len(ext.text_frame(b'{"t":"c"}')) < 8
    ext.release()
    assert not ext.holds_compressor
    # After a release the stream continues; the client's window is untouched.
    out, _ = _parse(ext.text_frame(b'{"t":"c","x":"after"}'), 12, inflater)
    assert out == b'{"t":"c","x":"after"}'


def test_without_context_takeover_each_frame_stands_alone():
    ext = LeanDeflate(False, True, 12, 12, {})
    for data in (b"hello hello", b"hello hello"):
        out, _ = _parse(ext.text_frame(data), 12)  # a fresh inflater each time
        assert out == data
    assert not ext.holds_compressor


async def test_quiet_connections_give_back_compressors_and_keep_reading(tmp_path):
    cfg = dataclasses.replace(config(tmp_path / "rse.db"), compressor_idle=0.2)
    async with RseServer(cfg) as server:
        ana = await new_user(server, "ana")
        bob = await new_user(server, "bob")
        for c in (ana, bob):
            await c.conn.call(Sync, since=0)
        g = (await ana.conn.call(CreateGroup, name="Ops", cid="g")).group
        await bob.conn.call(JoinGroup, group=g, cid="j")
        await ana.conn.call(SendChat, group=g, text="first line, before the quiet", cid="m1")
        assert (await bob.pushes.next(ChatEvent)).text == "first line, before the quiet"
        peers = list(server.hub.peers())
        deflates = [p._deflate for p in peers]
        assert len(deflates) == 2 and all(d is not None for d in deflates)
        assert all(d.holds_compressor for d in deflates)
        await asyncio.sleep(0.7)  # more than two sweeps of silence
        assert not any(d.holds_compressor for d in deflates)
        # Both directions still work, with long and short frames.
        long_text = "runbook step " * 1500
        await ana.conn.call(SendPost, group=g, text=long_text, cid="p1")
        await ana.conn.call(SendChat, group=g, text="first line, before the quiet", cid="m2")
        texts = [(await bob.pushes.next()).text for _ in range(2)]
        assert texts == [long_text, "first line, before the quiet"]
        assert (await bob.conn.call(SendChat, group=g, text="ack", cid="b1")).seq
        assert (await ana.pushes.next(ChatEvent)).text == "ack"
        await ana.close()
        await bob.close()
