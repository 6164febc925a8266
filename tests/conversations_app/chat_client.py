"""Drive the async chat views from sync tests: Django's AsyncClient for whole streams, the ASGI
application itself for a client that goes away mid-stream.

The coroutines run under `async_to_sync`, so the views' `sync_to_async` database work comes back to
the test's thread and sees (and writes into) the test's transaction.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import AsyncClient
from rest_framework_simplejwt.tokens import RefreshToken


def bearer(user) -> str:
    return f"Bearer {RefreshToken.for_user(user).access_token}"


@dataclass
class SSEEvent:
    event: str
    data: dict[str, Any]


def parse_sse(raw: bytes) -> list[SSEEvent]:
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            key, _, value = line.partition(": ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
        events.append(SSEEvent(name, json.loads("\n".join(data))))
    return events


@dataclass
class StreamResult:
    status_code: int
    headers: dict[str, str]
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
    """POST through Django's AsyncClient and read the whole (streamed or not) response."""

    headers = {"Authorization": bearer(user)}
    if accept:
        headers["Accept"] = accept

    async def run() -> StreamResult:
        response = await AsyncClient().post(
            path, body or {}, content_type="application/json", headers=headers
        )
        if response.streaming:
            raw = b"".join([chunk async for chunk in response.streaming_content])
            return StreamResult(response.status_code, dict(response.items()), parse_sse(raw), raw)
        return StreamResult(response.status_code, dict(response.items()), [], response.content)

    return async_to_sync(run)()


@contextmanager
def _connections_kept_open():
    """The ASGI handler closes stale connections around each request; in a test that would close
    the connection holding the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def asgi_post_then_disconnect(
    path: str,
    user,
    body: dict[str, Any],
    *,
    disconnect_after_events: int | None = None,
    wait_for: Callable[[], bool] | None = None,
    while_connected: Callable[[], None] | None = None,
    accept: str = "text/event-stream",
) -> tuple[int | None, list[SSEEvent]]:
    """Call the ASGI application like a server would, then disconnect the client.

    The client goes away after `disconnect_after_events` SSE events have been sent, or once the
    blocking `wait_for()` returns. `while_connected()` runs (in the test's thread) just before.
    Returns the response status (None if none was started) and the events received.
    """
    payload = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"accept", accept.encode()),
            (b"authorization", bearer(user).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def run() -> tuple[int | None, list[SSEEvent]]:
        gone = asyncio.Event()
        received: list[bytes] = []
        state: dict[str, Any] = {"body_sent": False, "status": None}

        async def receive() -> dict[str, Any]:
            if not state["body_sent"]:
                state["body_sent"] = True
                return {"type": "http.request", "body": payload, "more_body": False}
            if wait_for is not None:
                await asyncio.to_thread(wait_for)
            else:
                await gone.wait()
            if while_connected is not None:
                await sync_to_async(while_connected)()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body" and message.get("body"):
                received.append(message["body"])
                count = len(parse_sse(b"".join(received)))
                if disconnect_after_events is not None and count >= disconnect_after_events:
                    gone.set()

        await ASGIHandler()(scope, receive, send)
        return state["status"], parse_sse(b"".join(received))

    with _connections_kept_open():
        return async_to_sync(run)()
