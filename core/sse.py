"""Server-Sent Events: the one event formatter, and keep-alive comments for quiet streams.

Every event carries an `id:` (its number in the stream, from 1) so a client or proxy can tell where
it is. While nothing happens (a model loading, a pull waiting for bytes) a comment line is sent at
least every `SSE_KEEPALIVE_SECONDS`, so proxies and browsers keep the connection open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import orjson
from django.conf import settings

KEEPALIVE_COMMENT = b": keep-alive\n\n"


def sse_event(name: str, data: Any, *, event_id: int | str | None = None) -> bytes:
    """One event: `id:` (when given), `event:` and its JSON `data:` line."""
    head = b"id: " + str(event_id).encode() + b"\n" if event_id is not None else b""
    return head + b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data, default=str) + b"\n\n"


class EventNumbering:
    """Numbers the events of one stream: `next(name, data)` formats the next one."""

    def __init__(self) -> None:
        self.last_id = 0

    def __call__(self, name: str, data: Any) -> bytes:
        self.last_id += 1
        return sse_event(name, data, event_id=self.last_id)


async def with_keepalive(
    events: AsyncIterable[bytes], *, interval: float | None = None
) -> AsyncIterator[bytes]:
    """The chunks of `events`, with a keep-alive comment whenever none came for `interval` seconds.

    The source is advanced in a task of its own, so a quiet period never cancels it; closing this
    iterator (the client went away) cancels that task, which the source sees as its cancellation.
    """
    interval = settings.SSE_KEEPALIVE_SECONDS if interval is None else interval
    iterator = aiter(events)
    pending: asyncio.Future[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield KEEPALIVE_COMMENT
                continue
            try:
                chunk = pending.result()
            except StopAsyncIteration:
                return
            finally:
                pending = None
            yield chunk
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
