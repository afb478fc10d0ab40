"""Client load for figures 5 and 6, run in its own process (never the server's).

    python -m bench.load_clients receive URL      # tokens on stdin, one a line
    python -m bench.load_clients write URL RATE SECONDS

Both roles read ``TOKEN [GROUP]`` lines from stdin up to an empty line (tokens
are never put in argv), open one real client connection (``rse_tui.sync.connection``)
per token, catch up, and print ``ready``. The connections come from many
loopback addresses, as a real network's members do (the server holds at most
256 connections from one address).

``receive``: for every chat event, once all of this process's connections
have it, prints ``{"seq": s, "t": [monotonic receipt times]}``. Ends when
stdin closes.

``write``: waits for a line ``go T`` (T on the shared monotonic clock), then
every connection sends RATE chat lines a second from T for SECONDS, without
waiting for acknowledgements (open loop), and prints one JSON summary: ack
latencies, errors, chat events received.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from rse_tui.protocol import (
    Batch,
    ChatEvent,
    ErrorFrame,
    ProtocolError,
    Reply,
    SendChat,
    decode_server,
)
from rse_tui.sync.cache import new_cid
from rse_tui.sync.connection import Connection, ConnectionLost, _as_exception

from .corpus import lines


def loopback_sources(per_address: int = 50) -> Iterator[tuple[str, int]]:
    """Source addresses for client sockets, ``per_address`` connections each,
    drawn at random on 127.0.0.0/8 so that processes need not agree."""
    rng = random.Random()
    while True:
        address = f"127.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"
        for _ in range(per_address):
            yield address, 0


async def _read_members() -> list[tuple[str, int]]:
    """``(token, group)`` pairs; the group is 0 when the line names none."""
    loop = asyncio.get_running_loop()
    members = []
    while True:
        words = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not words:
            return members
        members.append((words[0], int(words[1]) if len(words) > 1 else 0))


class LoadConnection(Connection):
    """The client's connection, but a pushed chat event is only counted, not
    decoded: on a 2-core machine, decoding 20,000 events a second in the
    load processes would starve the server being measured."""

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        chat, batch = f'{{"t":"{ChatEvent.TYPE}"', f'{{"t":"{Batch.TYPE}"'
        try:
            async for data in self.ws:
                if isinstance(data, str) and data.startswith(chat):
                    if self._on_push is not None:
                        self._on_push(1)
                    continue
                if isinstance(data, str) and data.startswith(batch):
                    # Quotes inside JSON strings are escaped: this marks events only.
                    chats = data.count(chat)
                    if self._on_push is not None and chats:
                        self._on_push(chats)
                    continue
                frame = decode_server(data, self._reply_type)
                if isinstance(frame, Reply):
                    self._settle(frame.request_id, frame)
                elif isinstance(frame, ErrorFrame) and frame.request_id in self._pending:
                    self._settle(frame.request_id, _as_exception(frame))
        except ConnectionClosed:
            pass
        finally:
            for future, _ in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionLost("connection closed"))


async def _open_all(
    url: str, tokens: list[str], push: Any, kind: type[Connection] = Connection
) -> list[Connection]:
    conns: list[Connection] = []
    sources = loopback_sources()
    for start in range(0, len(tokens), 50):
        batch = await asyncio.gather(
            *(
                kind.open(
                    url, token=token, since=0, on_push=push(start + k), local_addr=next(sources)
                )
                for k, token in enumerate(tokens[start : start + 50])
            )
        )
        for conn in batch:
            assert conn.sync is not None
            await conn.sync
        conns.extend(batch)
    return conns


async def receive(url: str) -> None:
    tokens = [token for token, _ in await _read_members()]
    times: dict[int, list[float]] = defaultdict(list)
    count = len(tokens)

    def push(_index: int) -> Any:
        def on_push(frame: Any) -> None:
            now = time.monotonic()
            events = frame.events if isinstance(frame, Batch) else [frame]
            for event in events:
                if isinstance(event, ChatEvent):
                    got = times[event.seq]
                    got.append(now)
                    if len(got) == count:
                        print(json.dumps({"seq": event.seq, "t": times.pop(event.seq)}), flush=True)

        return on_push

    conns = await _open_all(url, tokens, push)
    gc.disable()  # as for writers: the generator's pauses are not the server's latency
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await asyncio.gather(*(c.close() for c in conns))


async def write(url: str, rate: float, seconds: float) -> None:
    members = await _read_members()
    tokens = [token for token, _ in members]
    received = [0] * len(tokens)

    def push(index: int) -> Any:
        def on_push(chats: int) -> None:
            received[index] += chats

        return on_push

    conns = await _open_all(url, tokens, push, LoadConnection)
    # The generator's own garbage collection (it keeps every future and
    # latency) would stall it and show up as server latency.
    gc.disable()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    go = (await loop.run_in_executor(None, sys.stdin.readline)).split()
    start = float(go[1])
    latencies: list[float] = []
    last_ack = [start]
    errors: list[str] = []
    pending: list[asyncio.Future[Any]] = []

    def acked(sent: float) -> Any:
        def done(future: asyncio.Future[Any]) -> None:
            if future.cancelled():
                errors.append("cancelled")
            elif isinstance(future.exception(), ProtocolError):
                errors.append(str(future.exception()))
            elif future.exception() is not None:
                errors.append(repr(future.exception()))
            else:
                now = time.monotonic()
                latencies.append(now - sent)
                last_ack[0] = now

        return done

    async def writer(index: int, conn: Connection) -> None:
        texts = lines(int(rate * seconds) + 1, seed=1000 + index)
        for k, text in enumerate(texts[: int(rate * seconds)]):
            due = start + (k + index / len(conns)) / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            request = SendChat(
                request_id=conn.next_id(), group=members[index][1], text=text, cid=new_cid()
            )
            sent = time.monotonic()
            future = await conn.submit(request)
            future.add_done_callback(acked(sent))
            pending.append(future)

    await asyncio.gather(*(writer(i, c) for i, c in enumerate(conns)))
    last_send = time.monotonic()
    await asyncio.wait(pending, timeout=30)
    await asyncio.sleep(1.0)  # the last fan-out reaches everyone
    print(
        json.dumps(
            {
                "sent": len(pending),
                "acked": len(latencies),
                "errors": errors[:5],
                "error_count": len(errors),
                "latencies": latencies,
                "received": sum(received),
                "last_send": last_send,
                "last_ack": last_ack[0],
            }
        ),
        flush=True,
    )
    await asyncio.gather(*(c.close() for c in conns))


def main(argv: list[str]) -> None:
    role, url = argv[0], argv[1]
    if role == "receive":
        asyncio.run(receive(url))
    elif role == "write":
        asyncio.run(write(url, float(argv[2]), float(argv[3])))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
