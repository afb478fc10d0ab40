"""The floods of ``bench.availability``, run in their own process (never the server's
nor the one measuring the legitimate user).

    python -m bench.availability_clients idle URL N ADDRESS...
    python -m bench.availability_clients guess URL SECONDS ADDRESS... -- NAME...

``idle``: opens N WebSocket connections that never sign in, from the given
loopback addresses in turn (Linux routes all of 127.0.0.0/8 to lo, so
binding a socket to 127.0.0.2, 127.0.0.3... gives the server that many
distinct remote addresses), 64 handshakes at a time. Prints one JSON line
once every attempt is answered: how many were let in, how many refused and
with what; then another once the server has closed every one let in (or
stdin says ``stop``): when each closed, and with which code.

``guess``: from each address, one connection sends ``login`` with a wrong
password as fast as the server allows, for SECONDS: each attempt takes the
next name that is not waiting (a refusal for a name sets it aside for its
``ra``; one for the address waits ``ra``), and a connection the server
closes (10 s without signing in) is opened again. Prints one JSON line of
counts; ``failed`` is the wrong passwords answered, each a password hash.
All times are on the shared monotonic clock.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import sys
import time
from collections import Counter
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rse_tui.protocol import ErrorCode, Login, ProtocolError
from rse_tui.sync.connection import Connection, ConnectionLost

HANDSHAKES_AT_ONCE = 64


def _say(report: dict[str, Any]) -> None:
    print(json.dumps(report), flush=True)


async def idle(url: str, n: int, addresses: list[str]) -> None:
    slots = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
    held: list[tuple[ClientConnection, float]] = []
    outcomes: Counter[str] = Counter()

    async def one(k: int) -> None:
        async with slots:
            try:
                ws = await connect(
                    url,
                    local_addr=(addresses[k % len(addresses)], 0),
                    ping_interval=None,
                    open_timeout=30,
                    user_agent_header=None,
                )
            except InvalidStatus as exc:
                outcomes[str(exc.response.status_code)] += 1
            except (OSError, TimeoutError, ConnectionClosed) as exc:
                outcomes[type(exc).__name__] += 1
            else:
                held.append((ws, time.monotonic()))
                outcomes["accepted"] += 1

    started = time.monotonic()
    await asyncio.gather(*(one(k) for k in range(n)))
    _say({"started": started, "answered": time.monotonic(), **outcomes})

    async def closed(ws: ClientConnection, opened: float) -> tuple[float, float, int | None]:
        await ws.wait_closed()
        return opened, time.monotonic(), ws.close_code

    waits = asyncio.gather(*(closed(ws, opened) for ws, opened in held))
    stop = asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(None, _stop_line))
    await asyncio.wait([waits, stop], return_when=asyncio.FIRST_COMPLETED)
    by_server = waits.done()
    if not by_server:
        for ws, _ in held:
            await ws.close()
    times = await waits
    _say(
        {
            "closed_by_server": by_server,
            "lifetimes": [end - opened for opened, end, _ in times],
            "last_closed": max((end for _, end, _ in times), default=started),
            "codes": Counter(str(code) for _, _, code in times),
        }
    )


def _stop_line() -> str:
    return sys.stdin.readline()


async def guess(url: str, seconds: float, addresses: list[str], names: list[str]) -> None:
    counts: Counter[str] = Counter()
    answers: list[float] = []  # when each wrong password was answered
    until = time.monotonic() + seconds

    async def attacker(k: int, address: str) -> None:
        order = itertools.cycle(names[k % len(names) :] + names[: k % len(names)])
        resting: dict[str, float] = {}  # name -> when it may be tried again
        conn: Connection | None = None
        while time.monotonic() < until:
            if conn is None or conn.closed:
                try:
                    conn = await Connection.open(url, hello=False, local_addr=(address, 0))
                except (InvalidStatus, OSError, TimeoutError) as exc:
                    counts[f"not_connected_{type(exc).__name__}"] += 1
                    await asyncio.sleep(0.5)
                    continue
                counts["connections"] += 1
            now = time.monotonic()
            name = next(order)
            if resting.get(name, 0) > now:
                soonest = min(resting.values())
                if len(resting) == len(names) and soonest > now:  # every name waits
                    await asyncio.sleep(soonest - now)
                continue
            try:
                await conn.call(Login, name=name, password=secrets.token_hex(8))
                counts["signed_in"] += 1  # a guess that worked: never, here
            except ProtocolError as exc:
                if exc.code is ErrorCode.AUTH_FAILED:
                    counts["failed"] += 1
                    answers.append(time.monotonic())
                elif exc.code is ErrorCode.RATE_LIMITED and "name" in exc.message:
                    counts["name_waits"] += 1
                    resting[name] = time.monotonic() + (exc.retry_after or 1.0)
                elif exc.code is ErrorCode.RATE_LIMITED:
                    counts["address_waits"] += 1
                    await asyncio.sleep(exc.retry_after or 1.0)
                else:
                    counts[exc.code.value] += 1
            except (ConnectionLost, ConnectionClosed):
                counts["closed_by_server"] += 1
        if conn is not None:
            conn.close_soon()

    async def bounded(k: int, address: str) -> None:
        try:
            async with asyncio.timeout(max(0.0, until - time.monotonic())):
                await attacker(k, address)
        except TimeoutError:
            pass

    started = time.monotonic()
    await asyncio.gather(*(bounded(k, a) for k, a in enumerate(addresses)))
    _say({"started": started, "ended": time.monotonic(), "answers": answers, **counts})


def main(argv: list[str]) -> None:
    # A guess cut short at the end is answered after it was given up: not news.
    logging.getLogger("rse_tui").setLevel(logging.ERROR)
    role, url = argv[0], argv[1]
    if role == "idle":
        asyncio.run(idle(url, int(argv[2]), argv[3:]))
    elif role == "guess":
        split = argv.index("--")
        asyncio.run(guess(url, float(argv[2]), argv[3:split], argv[split + 1 :]))
    else:
        raise SystemExit(f"unknown role {role}")


if __name__ == "__main__":
    main(sys.argv[1:])
