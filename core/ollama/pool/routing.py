"""Routing a request for a model to a server of the pool, on the event loop (the chat's hot path; see
the package's docstring)."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from core.cache import CACHE_ERRORS, async_redis
from core.exceptions import ApplicationError, Conflict, ServiceUnavailable
from core.ollama.client import (
    CONNECT_RETRIES,
    AsyncOllamaClient,
    ChatStream,
    OllamaServerError,
    shared_async_client,
)
from core.ollama.pool.state import (
    HEALTHY,
    UNKNOWN,
    WORKER_TTL,
    ServerState,
    down_state,
    inflight_key,
    pool_outage,
    server_urls,
    state_key,
    state_ttl,
    worker_id,
    worker_key_prefix,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _async_redis() -> aioredis.Redis:
    return async_redis()


# Picks the candidate with the fewest requests in flight (first on a tie), counts one more for it and
# returns its position (1-based, 0 for none) with the counts seen; then the stored states asked for.
# KEYS: the candidates' in-flight hashes, then state keys. ARGV: number of candidates, this worker's
# id, the prefix of worker keys, the worker key's TTL. Counts of workers whose key expired are dropped.
ACQUIRE_SCRIPT = """
local n = tonumber(ARGV[1])
local best, best_count = 0, -1
local counts = {}
for i = 1, n do
  local total = 0
  local entries = redis.call('HGETALL', KEYS[i])
  for j = 1, #entries, 2 do
    local worker, count = entries[j], tonumber(entries[j + 1])
    if worker == ARGV[2] or redis.call('EXISTS', ARGV[3] .. worker) == 1 then
      total = total + count
    else
      redis.call('HDEL', KEYS[i], worker)
    end
  end
  counts[i] = total
  if best_count < 0 or total < best_count then best, best_count = i, total end
end
if best > 0 then redis.call('HINCRBY', KEYS[best], ARGV[2], 1) end
redis.call('SET', ARGV[3] .. ARGV[2], 1, 'EX', ARGV[4])
local states = {}
for i = n + 1, #KEYS do states[#states + 1] = redis.call('GET', KEYS[i]) or '' end
return {best, counts, states}
"""

# One request fewer in flight for this worker on a server. KEYS: the hash. ARGV: worker id, worker
# key, its TTL.
RELEASE_SCRIPT = """
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('SET', ARGV[2], 1, 'EX', ARGV[3])
return left
"""


_scripts: weakref.WeakKeyDictionary[aioredis.Redis, dict[str, Any]] = weakref.WeakKeyDictionary()


async def _run_script(script: str, *, keys: list[str], args: list[Any]) -> Any:
    """Run a Lua script on the event loop's Redis client (EVALSHA, loaded once per client)."""
    client = _async_redis()
    registered = _scripts.setdefault(client, {})
    if script not in registered:
        registered[script] = client.register_script(script)
    return await registered[script](keys=keys, args=args)


def forget_view() -> None:
    """Drop this process's view of the pool (the next request reads it again)."""
    _view.states = {}
    _view.read_at = float("-inf")


# --- routing (async: the chat's hot path) ----------------------------------------------------------------


class _View:
    """This process's copy of the servers' states, refreshed by the acquire script when due."""

    def __init__(self) -> None:
        self.states: dict[str, ServerState] = {}
        self.read_at = float("-inf")

    @property
    def loaded(self) -> bool:
        return self.read_at > float("-inf")

    def due(self) -> bool:
        return time.monotonic() - self.read_at >= float(settings.OLLAMA_POOL_VIEW_SECONDS)

    def state(self, url: str) -> ServerState:
        return self.states.get(url) or ServerState(url=url)

    def update(self, urls: list[str], raw: list[Any]) -> None:
        self.states = {url: ServerState.from_json(url, value) for url, value in zip(urls, raw, strict=True)}
        self.read_at = time.monotonic()

    def mark(self, state: ServerState) -> None:
        self.states = {**self.states, state.url: state}


_view = _View()


@receiver(setting_changed)
def _forget_when_settings_change(*, setting: str, **kwargs: Any) -> None:
    if setting in {"OLLAMA_URL", "OLLAMA_URLS", "CACHES", "CACHE_OUTAGE_COOLDOWN"}:
        forget_view()
        pool_outage.clear()


def plan(model: str, urls: list[str]) -> tuple[list[str], list[str]]:
    """The servers to try for `model`: the ones to choose from by requests in flight, then the rest
    in the order to try them (see the module's docstring)."""
    now = time.time()
    tiers: dict[str, list[str]] = {"has": [], "unknown": [], "retry": [], "last": [], "lacks": []}
    for url in urls:
        state = _view.state(url)
        if state.status == HEALTHY:
            tiers["has" if state.has(model) else "lacks"].append(url)
        elif state.status == UNKNOWN:
            tiers["unknown"].append(url)
        elif state.next_check_at <= now and (not state.models or state.has(model)):
            tiers["retry"].append(url)
        elif not state.models or state.has(model):
            tiers["last"].append(url)
        else:
            tiers["lacks"].append(url)
    first = tiers["has"] or tiers["unknown"]
    rest = [url for tier in tiers.values() for url in tier if url not in first]
    return first, rest


class Lease:
    """One request counted in flight on a server until `release()` (idempotent)."""

    def __init__(self, url: str, *, counted: bool) -> None:
        self.url = url
        self.counted = counted

    async def release(self) -> None:
        if not self.counted:
            return
        self.counted = False
        worker = worker_id()
        try:
            await _run_script(
                RELEASE_SCRIPT,
                keys=[inflight_key(self.url)],
                args=[worker, worker_key_prefix() + worker, WORKER_TTL],
            )
        except CACHE_ERRORS as exc:
            pool_outage.record(exc, "release in-flight count")


async def load_view(urls: list[str]) -> None:
    """Read the servers' states into this process's view (Redis down: the view stays as it is)."""
    if pool_outage.active():
        return
    try:
        raw = await _async_redis().mget([state_key(url) for url in urls])
    except CACHE_ERRORS as exc:
        pool_outage.record(exc, "read server states")
        return
    _view.update(urls, raw)


async def acquire(candidates: list[str], *, refresh_view: list[str] | None = None) -> Lease:
    """Count one request on the candidate with the fewest in flight (one round trip, which also
    reads the servers' states into the view when `refresh_view` lists them). Redis down: the first
    candidate, uncounted."""
    if pool_outage.active():
        return Lease(candidates[0], counted=False)
    worker = worker_id()
    states = refresh_view or []
    keys = [inflight_key(url) for url in candidates] + [state_key(url) for url in states]
    try:
        best, _counts, raw = await _run_script(
            ACQUIRE_SCRIPT, keys=keys, args=[len(candidates), worker, worker_key_prefix(), WORKER_TTL]
        )
    except CACHE_ERRORS as exc:
        pool_outage.record(exc, "count request in flight")
        return Lease(candidates[0], counted=False)
    _WorkerKey.seen()
    if states:
        _view.update(states, raw)
    return Lease(candidates[int(best) - 1], counted=True)


async def _record_down(url: str, exc: ApplicationError) -> None:
    """Note a server that failed a request: marked down in the view and in Redis, with its backoff."""
    state = down_state(_view.state(url), exc.message[:300])
    _view.mark(state)
    logger.warning("Ollama server %s failed a request (%s); trying the next one", url, exc.code)
    if pool_outage.active():
        return
    try:
        await _async_redis().set(state_key(url), state.to_json(), ex=state_ttl())
    except CACHE_ERRORS as exc_redis:
        pool_outage.record(exc_redis, "store server state")


class PooledChatStream(ChatStream):
    """A chat stream from one server of the pool: iterates and closes the stream it wraps, and gives
    the server's in-flight count back when closed; keeps this worker's key alive while it streams."""

    def __init__(self, inner: ChatStream, lease: Lease) -> None:
        self._inner = inner
        self._lease = lease
        self.server = lease.url

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[dict[str, Any]]:
        async for chunk in self._inner:
            yield chunk
            if self._lease.counted:  # after the chunk went out, never before it
                await _keep_worker_alive()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            await self._lease.release()


class _WorkerKey:
    """When this process last set its worker key (the acquire and release scripts set it too)."""

    seen_at = float("-inf")

    @classmethod
    def seen(cls) -> None:
        cls.seen_at = time.monotonic()


async def _keep_worker_alive() -> None:
    """Refresh this worker's key, at most every third of its TTL, while its streams go on."""
    if time.monotonic() - _WorkerKey.seen_at < WORKER_TTL / 3 or pool_outage.active():
        return
    _WorkerKey.seen()
    worker = worker_id()
    try:
        await _async_redis().set(worker_key_prefix() + worker, 1, ex=WORKER_TTL)
    except CACHE_ERRORS as exc:
        pool_outage.record(exc, "keep worker alive")


def _missing_model(model: str) -> Conflict:
    return Conflict(
        f"The '{model}' model is not installed on any Ollama server; an administrator has to pull it first.",
        code="model_not_installed",
        fields={"model": [f"No Ollama server has '{model}'."]},
    )


def _is_server_failure(exc: ApplicationError) -> bool:
    """Whether the server itself failed (unreachable or an error of its own), not the request."""
    return isinstance(exc, ServiceUnavailable | OllamaServerError)


async def routed(model: str, send: Callable[[AsyncOllamaClient], Awaitable[T]]) -> T:
    """Run `send` (one request for `model` that fails before the answer starts, or returns a stream
    whose body is still to come) on a server of the pool, moving to the next server while one fails.

    A `ChatStream` comes back as a `PooledChatStream` that keeps the server's request counted in
    flight until it is closed; anything else is uncounted when `send` returns.
    """
    urls = server_urls()
    if not _view.loaded:  # once per process (and after an outage): not routed on an empty view
        await load_view(urls)
    refresh = urls if _view.due() else None
    first, rest = plan(model, urls)
    lease = await acquire(first or rest, refresh_view=refresh)
    if refresh:  # the view just read may order the servers differently
        first, rest = plan(model, urls)
        if first and lease.url not in first:  # e.g. the model was pulled elsewhere: choose again
            await lease.release()
            lease = await acquire(first)
    order = [lease.url] + [url for url in first + rest if url != lease.url]
    missing: ApplicationError | None = None
    failure: ApplicationError | None = None
    for position, url in enumerate(order):
        if position:
            lease = await acquire([url])
        last = position == len(order) - 1
        client = shared_async_client(url, retries=CONNECT_RETRIES if last else 0)
        try:
            result = await send(client)
        except ApplicationError as exc:
            await lease.release()
            if exc.code == "model_not_installed":
                missing = exc
                continue
            if not _is_server_failure(exc):
                raise
            await _record_down(url, exc)
            failure = failure or exc
            continue
        except BaseException:
            await lease.release()
            raise
        if isinstance(result, ChatStream):
            return PooledChatStream(result, lease)  # type: ignore[return-value]
        await lease.release()
        return result
    if missing is not None:
        raise _missing_model(model) if len(urls) > 1 else missing
    assert failure is not None
    raise failure
