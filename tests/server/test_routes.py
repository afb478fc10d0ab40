"""Plain HTTP routes on the WebSocket port: /healthz, and the table new routes join."""

from __future__ import annotations

import asyncio
from http import HTTPStatus

from server.app import RseServer
from server.routes import plain_text

from ..helpers import config


async def _get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read(4096)
    writer.close()
    await writer.wait_closed()
    return data


async def test_healthz_answers_byte_for_byte(tmp_path):
    async with RseServer(config(tmp_path / "rse.db")) as server:
        data = await _get(server.port, "/healthz")
    assert data == (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n")


async def test_a_route_is_one_entry_in_the_table(tmp_path):
    async with RseServer(config(tmp_path / "rse.db")) as server:
        server.http_routes["/teapot"] = lambda request: plain_text(HTTPStatus.IM_A_TEAPOT, "tea")
        data = await _get(server.port, "/teapot")
        # Not a route: on to the WebSocket handshake, which a plain GET fails.
        other = await _get(server.port, "/healthz?x=1")
    assert data.startswith(b"HTTP/1.1 418 I'm a Teapot\r\n") and data.endswith(b"\r\n\r\ntea\n")
    assert other.startswith(b"HTTP/1.1 426 ")
