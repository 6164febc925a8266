"""Answers that outlive the request that asked for them.

An answer, once Ollama has started it, is produced by a *run*: an asyncio task owned by the server
process that started it, not by the request. The request that asked only listens to it; when its
client hangs up the run goes on, stores the whole answer and ends as it would have.

- The run's events (the Server-Sent Events of `ExchangeEventStream`: start, token, done or error,
  numbered from 1) go to the listeners in this process at once, and to a Redis Stream per answer,
  `<prefix>:chat:run:<response_id>:events`: one entry per event (`n`: its number, `e`: its bytes),
  then an entry `end` after the last one. Events are written with pipelined XADDs (MAXLEN ~), at
  most one round trip every PUBLISH_SECONDS, so tokens arriving faster travel together; the
  key expires CHAT_RUN_STREAM_TTL_SECONDS after the last write. Any web worker can replay and
  follow the stream (`stream_read`), so a client re-attaches from any tab or device.
- A stop is a Redis key, `<prefix>:chat:run:<response_id>:stop`, which the run looks for every
  CHAT_RUN_STOP_POLL_SECONDS (and an in-process shortcut when the run is on the caller's event
  loop). The run then cancels its reading of Ollama: the relay closes Ollama's request and records
  `interrupted` with what had arrived; the last event (`done`) says so.
- When Redis is unreachable the run still streams to its own listeners and stores its outcome; it
  only cannot be followed from elsewhere.
- A process that dies takes its runs with it: the answer's heartbeat stops (the relay beats while
  it reads) and the periodic `exchange_interrupt_stale` marks it `interrupted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from core.cache import CACHE_ERRORS, Outage, async_redis
from core.exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)

# Entries kept at most in an answer's stream (approximately: MAXLEN ~), far more than any answer has.
STREAM_MAXLEN = 100_000
# How long a follower's XREAD blocks before it looks at the database (has the answer ended unseen?).
FOLLOW_BLOCK_SECONDS = 5.0
# Publishing rounds are at least this far apart: tokens arriving faster share one pipeline.
PUBLISH_SECONDS = 0.02

run_outage = Outage(
    name="answer streams",
    fallback="answers stream only to the client that started them for the next {cooldown:.0f} s",
    log=logger,
)

# The runs of this process by response id: the strong references that keep their tasks alive
# (the event loop holds only weak ones) until they end.
_RUNS: dict[str, AnswerRun] = {}


def _prefix() -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or ""
    return f"{prefix}:chat:run:" if prefix else "chat:run:"


def events_key(response_id: Any) -> str:
    return f"{_prefix()}{response_id}:events"


def stop_key(response_id: Any) -> str:
    return f"{_prefix()}{response_id}:stop"


class AnswerRun:
    """One answer being produced: reads `events` (the numbered SSE events of an answer) to their end
    in a task of its own, hands each to this process's listeners and to the answer's Redis Stream.
    `finish()` gives the last event when the run is stopped (what the answer became)."""

    def __init__(
        self, *, response_id: Any, events: AsyncIterator[bytes], finish: Callable[[], bytes]
    ) -> None:
        self.response_id = str(response_id)
        self.loop = asyncio.get_running_loop()
        self._source = events
        self._finish = finish
        self.history: list[bytes] = []
        self._listeners: set[asyncio.Queue[bytes | None]] = set()
        self._stop = asyncio.Event()
        self._outbox: list[tuple[int, bytes]] = []
        self._outbox_ready = asyncio.Event()
        self._publishing = not run_outage.active()
        self.ended = False
        self.task = self.loop.create_task(self._run(), name=f"answer-run-{self.response_id}")

    # --- what callers use -----------------------------------------------------------------------------
    async def listen(self, *, after: int = 0) -> AsyncIterator[bytes]:
        """The run's events numbered above `after`, those already sent first, then as they come."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        backlog = self.history[after:]
        following = not self.ended
        if following:
            self._listeners.add(queue)
        try:
            for chunk in backlog:
                yield chunk
            while following and (chunk := await queue.get()) is not None:  # type: ignore[assignment]
                yield chunk
        finally:
            self._listeners.discard(queue)

    async def wait(self) -> None:
        """Until the run has ended; cancelling the caller leaves the run alone."""
        await asyncio.shield(self.task)

    def stop(self) -> None:
        """Ask the run to stop (from its own event loop)."""
        self._stop.set()

    # --- the task ---------------------------------------------------------------------------------------
    def _emit(self, chunk: bytes) -> None:
        self.history.append(chunk)
        for queue in self._listeners:
            queue.put_nowait(chunk)
        if self._publishing:
            self._outbox.append((len(self.history), chunk))
            self._outbox_ready.set()

    async def _consume(self) -> None:
        async for chunk in self._source:
            self._emit(chunk)

    async def _run(self) -> None:
        publisher = self.loop.create_task(self._publish())
        watcher = self.loop.create_task(self._watch_for_stop())
        consumer = self.loop.create_task(self._consume())
        stopped = self.loop.create_task(self._stop.wait())
        try:
            await asyncio.wait({consumer, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not consumer.done():
                consumer.cancel()  # the relay closes Ollama's request and records the interruption
                with contextlib.suppress(asyncio.CancelledError):
                    await consumer
                self._emit(self._finish())
            elif consumer.exception() is not None:
                logger.error("answer %s ended unexpectedly", self.response_id, exc_info=consumer.exception())
        finally:
            stopped.cancel()
            watcher.cancel()
            self.ended = True
            for queue in self._listeners:
                queue.put_nowait(None)
            self._outbox_ready.set()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher
            _RUNS.pop(self.response_id, None)

    async def _publish(self) -> None:
        """Write what was emitted to the Redis Stream, one pipeline per round, until the end."""
        key = events_key(self.response_id)
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            batch, self._outbox = self._outbox, []
            last = self.ended
            if self._publishing and (batch or last):
                pipe = async_redis().pipeline(transaction=False)
                for number, chunk in batch:
                    pipe.xadd(key, {"n": number, "e": chunk}, maxlen=STREAM_MAXLEN, approximate=True)
                if last:
                    pipe.xadd(key, {"end": 1}, maxlen=STREAM_MAXLEN, approximate=True)
                pipe.expire(key, int(settings.CHAT_RUN_STREAM_TTL_SECONDS))
                try:
                    await pipe.execute()
                except CACHE_ERRORS as exc:
                    # Followers elsewhere would see a stream with a gap: none is better.
                    self._publishing = False
                    run_outage.record(exc, "publish an answer's events")
                    with contextlib.suppress(*CACHE_ERRORS):
                        await async_redis().delete(key)
            if last:
                return
            await asyncio.sleep(PUBLISH_SECONDS)

    async def _watch_for_stop(self) -> None:
        key = stop_key(self.response_id)
        while True:
            await asyncio.sleep(settings.CHAT_RUN_STOP_POLL_SECONDS)
            if run_outage.active():
                continue
            try:
                if await async_redis().exists(key):
                    self._stop.set()
                    return
            except CACHE_ERRORS as exc:
                run_outage.record(exc, "look for a stop")


def run_start(*, response_id: Any, events: AsyncIterator[bytes], finish: Callable[[], bytes]) -> AnswerRun:
    """Start producing an answer in this process, whatever becomes of the request that asked."""
    run = AnswerRun(response_id=response_id, events=events, finish=finish)
    _RUNS[run.response_id] = run
    return run


def run_get_local(response_id: Any) -> AnswerRun | None:
    """The run of this answer if this process, on this event loop, produces it."""
    run = _RUNS.get(str(response_id))
    if run is None or run.loop is not asyncio.get_running_loop():
        return None
    return run


async def run_stop(*, response_id: Any) -> AnswerRun | None:
    """Ask the run of an answer to stop, wherever it runs; returns it when it runs here.
    ServiceUnavailable when it runs elsewhere and Redis is unreachable."""
    run = run_get_local(response_id)
    if run is not None:
        run.stop()
        return run
    try:
        await async_redis().set(stop_key(response_id), 1, ex=int(settings.CHAT_RUN_STREAM_TTL_SECONDS))
    except CACHE_ERRORS as exc:
        run_outage.record(exc, "stop an answer")
        raise ServiceUnavailable("The answer cannot be stopped right now: Redis is unavailable.") from exc
    return None


@dataclass(frozen=True)
class StreamPage:
    """What one read of an answer's Redis Stream gave: events (number, bytes), where to read on from,
    and whether the stream's end was reached."""

    events: list[tuple[int, bytes]]
    cursor: str
    ended: bool


async def stream_read(*, response_id: Any, cursor: str = "0-0", block: float | None = None) -> StreamPage:
    """The entries of an answer's stream after `cursor`; with `block`, waits up to that many seconds
    for one. Raises one of CACHE_ERRORS when Redis is unreachable."""
    client = async_redis(socket_timeout=block + 5.0) if block else async_redis()
    key = events_key(response_id)
    reply = await client.xread({key: cursor}, count=1000, block=int(block * 1000) if block else None)
    events: list[tuple[int, bytes]] = []
    ended = False
    for _stream, entries in reply or []:
        for entry_id, fields in entries:
            cursor = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            if b"end" in fields:
                ended = True
            else:
                events.append((int(fields[b"n"]), fields[b"e"]))
    return StreamPage(events=events, cursor=cursor, ended=ended)


async def stream_follow(
    *, response_id: Any, first: StreamPage, after: int, settle: Callable[[int], Any]
) -> AsyncIterator[bytes]:
    """The events of an answer numbered above `after`: those of `first` (a read already made), then
    those written afterwards, until the end. When nothing comes for FOLLOW_BLOCK_SECONDS,
    `await settle(last_number)` says whether the answer ended unseen (its run lost Redis, or its
    process died): the closing events to send then, else None."""
    page, last = first, after
    while True:
        for number, chunk in page.events:
            if number > last:
                last = number
                yield chunk
        if page.ended:
            return
        try:
            page = await stream_read(response_id=response_id, cursor=page.cursor, block=FOLLOW_BLOCK_SECONDS)
        except CACHE_ERRORS as exc:
            # The client reconnects with Last-Event-ID and gets a 503 until Redis is back.
            run_outage.record(exc, "follow an answer")
            return
        if not page.events and not page.ended:
            closing = await settle(last)
            if closing is not None:
                for chunk in closing:
                    yield chunk
                return
