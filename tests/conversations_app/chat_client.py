"""Drive the async chat views from sync tests the way a server does: the ASGI application is called
on an event loop of its own, in another thread, so its database steps run in worker threads with
pooled connections of their own (tests using it commit: `django_db(transaction=True)`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.core.handlers.asgi import ASGIHandler
from django.utils.datastructures import CaseInsensitiveMapping
from rest_framework_simplejwt.tokens import RefreshToken

from core.db import db_step, released

T = TypeVar("T")


def run_in_server_thread(coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `coroutine()` to its end on a new event loop in a thread of its own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine())).result(timeout=60)


def bearer(user) -> str:
    return f"Bearer {RefreshToken.for_user(user).access_token}"


@dataclass
class SSEEvent:
    event: str
    data: dict[str, Any]
    id: str | None = None


def parse_sse(raw: bytes) -> list[SSEEvent]:
    """The events of a stream; comment lines (keep-alives) are left out."""
    events = []
    for block in raw.decode().split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        name, data, event_id = "message", [], None
        for line in lines:
            key, _, value = line.partition(": ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
            elif key == "id":
                event_id = value
        events.append(SSEEvent(name, json.loads("\n".join(data)), event_id))
    return events


@dataclass
class StreamResult:
    status_code: int
    headers: Mapping[str, str]
    events: list[SSEEvent] = field(default_factory=list)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)

    def names(self) -> list[str]:
        return [e.event for e in self.events]

    def text(self) -> str:
        return "".join(e.data["content"] for e in self.events if e.event == "token")


def post_stream(
    path: str, user, body: dict[str, Any] | None = None, *, accept: str | None = None
) -> StreamResult:
    """POST to the ASGI application and read the whole (streamed or not) response."""
    return asgi_request(path, user, body or {}, accept=accept or "application/json")


def asgi_post_then_disconnect(
    path: str,
    user,
    body: dict[str, Any],
    *,
    disconnect_after_events: int | None = None,
    wait_for: Callable[[], bool] | None = None,
    while_connected: Callable[[], None] | None = None,
    on_disconnect: Callable[[], None] | None = None,
    accept: str = "text/event-stream",
) -> tuple[int | None, list[SSEEvent]]:
    """Call the ASGI application like a server would, then disconnect the client.

    The client goes away after `disconnect_after_events` SSE events have been sent, or once the
    blocking `wait_for()` returns. `while_connected()` runs (in a worker thread) just before.
    Returns the response status (None if none was started) and the events received.
    """
    result = asgi_request(
        path,
        user,
        body,
        accept=accept,
        disconnect=True,
        disconnect_after_events=disconnect_after_events,
        wait_for=wait_for,
        while_connected=while_connected,
        on_disconnect=on_disconnect,
    )
    return result.status_code, result.events


def asgi_request(
    path: str,
    user,
    body: dict[str, Any],
    *,
    method: str = "POST",
    accept: str = "text/event-stream",
    disconnect: bool = False,
    disconnect_after_events: int | None = None,
    wait_for: Callable[[], bool] | None = None,
    while_connected: Callable[[], None] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    on_events: Callable[[list[SSEEvent]], None] | None = None,
    on_disconnect: Callable[[], None] | None = None,
) -> StreamResult:
    """One request through Django's ASGI handler on a server thread; the client stays until the
    response ends, or (`disconnect`) leaves as `asgi_post_then_disconnect` says. `headers` are added
    to the request's. `on_events(events so far)` is called whenever a piece of the body arrives,
    `on_disconnect()` as the client leaves."""
    payload = json.dumps(body).encode() if method == "POST" else b""
    extra_headers = headers or []
    headers = [
        *extra_headers,
        (b"host", b"testserver"),
        (b"accept", accept.encode()),
        # The token is stored (an outstanding refresh token): by this thread, on a connection given back.
        (b"authorization", released(bearer)(user).encode()),
    ]
    if method == "POST":
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def run() -> StreamResult:
        gone = asyncio.Event()
        ended = asyncio.Event()
        received: list[bytes] = []
        state: dict[str, Any] = {"body_sent": False, "status": None, "headers": {}}

        async def receive() -> dict[str, Any]:
            if not state["body_sent"]:
                state["body_sent"] = True
                return {"type": "http.request", "body": payload, "more_body": False}
            if not disconnect:
                await ended.wait()
            elif wait_for is not None:
                await asyncio.to_thread(wait_for)
            else:
                await gone.wait()
            if while_connected is not None:
                await db_step(while_connected)
            if on_disconnect is not None:
                on_disconnect()
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                pairs = {k.decode(): v.decode() for k, v in message["headers"]}
                state["headers"] = CaseInsensitiveMapping(pairs)
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    received.append(message["body"])
                    if on_events is not None:
                        on_events(parse_sse(b"".join(received)))
                    if (
                        disconnect_after_events is not None
                        and len(parse_sse(b"".join(received))) >= disconnect_after_events
                    ):
                        gone.set()
                if not message.get("more_body"):
                    ended.set()

        await ASGIHandler()(scope, receive, send)
        # A server's loop lives on: let the work it started in the background (an answer's outcome
        # stored once the database is back) end before this loop does.
        background = asyncio.all_tasks() - {asyncio.current_task()}
        if background:
            await asyncio.wait(background, timeout=30)
        raw = b"".join(received)
        streamed = state["headers"].get("Content-Type", "").startswith("text/event-stream")
        return StreamResult(state["status"], state["headers"], parse_sse(raw) if streamed else [], raw)

    return run_in_server_thread(run)
