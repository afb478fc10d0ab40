"""Plain HTTP on the WebSocket port: a table of paths, each with its handler.

A request whose path is in the table gets that handler's response instead of
a WebSocket handshake; any other path goes on to the handshake. A new route
(files, metrics) is one more entry in the table ``RseServer`` builds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

#: Answers one HTTP request on its path.
Route = Callable[[Request], Response]
#: Paths (as the request line gives them, query included) and their handlers.
Routes = Mapping[str, Route]


def plain_text(status: HTTPStatus, text: str) -> Response:
    """A ``text/plain`` response: ``text`` and a newline."""
    body = f"{text}\n".encode()
    return Response(
        status.value,
        status.phrase,
        Headers([("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]),
        body,
    )


def healthz(request: Request) -> Response:
    """Alive and serving: for load balancers and probes (no database read)."""
    return plain_text(HTTPStatus.OK, "ok")


def default_routes() -> dict[str, Route]:
    """The routes every server answers."""
    return {"/healthz": healthz}


def route(routes: Routes, request: Request) -> Response | None:
    """The response of the route for ``request``'s path; None when it has none."""
    handler = routes.get(request.path)
    return None if handler is None else handler(request)
