"""Several Ollama servers as one pool: where each request for a model goes.

`OLLAMA_URLS` (comma-separated) lists the servers; without it the pool is the one `OLLAMA_URL`.

State, shared by every web and Celery worker through Redis (keys under the cache's prefix):

- `ollama:server:<url>`: what the last check of the server found (`ServerState`: health, the models
  `/api/tags` lists, version, latency, last error, consecutive failures, when to check it next);
- `ollama:tags:<url>`: the full `/api/tags` entries (sizes, digests, details), for the staff lists;
- `ollama:inflight:<url>`: requests in flight on the server, a hash of counts per worker process,
  changed with atomic HINCRBY; `ollama:worker:<id>`: a key each worker keeps alive with a TTL, so the
  counts of a worker that crashed stop counting within `WORKER_TTL` seconds.

Checks (`refresh_servers`) run in the background (the `sync_inference` beat task), at once after a
pull or delete, and when staff list servers or models: a server answering `/api/version` and
`/api/tags` is healthy and checked again after `OLLAMA_POOL_REFRESH_SECONDS`; one that fails is down
and checked again after an exponential backoff (`OLLAMA_POOL_BACKOFF_SECONDS`, doubled per failure up
to `OLLAMA_POOL_BACKOFF_MAX_SECONDS`).

Routing (`routed`, under `open_chat_stream`) costs one Redis round trip: each process keeps a view of
the servers' state, at most `OLLAMA_POOL_VIEW_SECONDS` old, and one Lua script both picks the server
with the fewest requests in flight among the healthy ones that have the model (the in-flight
increment included) and, when the view is due, returns the fresh state. The order tried:

1. healthy servers that have the model, fewest in flight first (ties: the order of `OLLAMA_URLS`);
2. servers never checked (or whose state Redis lost), then servers down whose backoff is over;
3. servers down that had the model (a last resort: they may be back), then healthy servers said not
   to have it (the view may be older than a pull).

A server that fails before the answer starts (connection refused or timed out, a 5xx, a 404 for the
model) costs nothing but time: the request moves to the next server, the failure is recorded (the
server marked down) and the connection retries of the transport are left to the last server. When
none could answer: 409 `model_not_installed` if a server that answered lacks the model, otherwise the
failure itself (503 `ollama_unavailable` when none was reachable).

Redis down: servers are tried in the order of `OLLAMA_URLS`, nothing is counted, and the outage is
logged once per cool-down (`core.cache.Outage`), like the throttles.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypeVar

import httpx
import orjson
import redis.asyncio as aioredis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django_redis import get_redis_connection

from core.cache import CACHE_ERRORS, Outage
from core.exceptions import ApplicationError, Conflict, ServiceUnavailable
from core.ollama.client import (
    CONNECT_RETRIES,
    AsyncOllamaClient,
    ChatStream,
    OllamaServerError,
    shared_async_client,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

HEALTHY, DOWN, UNKNOWN = "healthy", "down", "unknown"
# A worker's in-flight counts stop counting this long after it was last seen (it crashed).
WORKER_TTL = 60
# A server's stored state outlives a few missed checks, then the server counts as never checked.
STATE_TTL_CHECKS = 10

pool_outage = Outage(
    name="Ollama pool state (Redis)",
    fallback="trying Ollama servers in order, without counting requests, for the next {cooldown:.0f} s",
    log=logger,
)


def normalise_model_name(name: str) -> str:
    """Ollama's reading of a model name: trimmed, and `:latest` when no tag is given."""
    name = name.strip()
    if name and ":" not in name.rsplit("/", 1)[-1]:
        name = f"{name}:latest"
    return name


def model_key(name: str) -> str:
    """The name by which models are compared: normalised, lower-cased."""
    return normalise_model_name(name).lower()


def server_urls() -> list[str]:
    """The pool: `OLLAMA_URLS` in order, duplicates dropped, or the one `OLLAMA_URL`."""
    urls = [url.strip().rstrip("/") for url in settings.OLLAMA_URLS if url.strip()]
    return list(dict.fromkeys(urls)) or [settings.OLLAMA_URL.rstrip("/")]


@dataclass(frozen=True)
class ServerState:
    """What the last check of one server found (times are UNIX seconds)."""

    url: str
    status: str = UNKNOWN
    models: tuple[str, ...] = ()
    version: str = ""
    latency_ms: float | None = None
    last_error: str = ""
    checked_at: float | None = None
    failures: int = 0
    next_check_at: float = 0.0

    def has(self, name: str) -> bool:
        return model_key(name) in {model_key(model) for model in self.models}

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, url: str, raw: bytes | str | None) -> ServerState:
        if not raw:
            return cls(url=url)
        try:
            data = orjson.loads(raw)
            return cls(**{**data, "url": url, "models": tuple(data.get("models") or ())})
        except (orjson.JSONDecodeError, TypeError):
            return cls(url=url)


# --- Redis keys and clients ----------------------------------------------------------------------------


def _prefix() -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or ""
    return f"{prefix}:ollama:" if prefix else "ollama:"


def state_key(url: str) -> str:
    return f"{_prefix()}server:{url}"


def tags_key(url: str) -> str:
    return f"{_prefix()}tags:{url}"


def inflight_key(url: str) -> str:
    return f"{_prefix()}inflight:{url}"


def _worker_prefix() -> str:
    return f"{_prefix()}worker:"


_worker: tuple[int, str] | None = None


def worker_id() -> str:
    """This process's id in the in-flight counts (a new one after a fork)."""
    global _worker
    if _worker is None or _worker[0] != os.getpid():
        _worker = (os.getpid(), f"{os.getpid()}-{uuid.uuid4().hex[:12]}")
    return _worker[1]


def _redis() -> Any:
    """The cache's Redis connection (short socket timeouts), for the blocking side."""
    return get_redis_connection("default")


_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]] = (
    weakref.WeakKeyDictionary()
)


def _async_redis() -> aioredis.Redis:
    """The event loop's Redis client on the cache's server, with the cache's socket timeouts."""
    cache = settings.CACHES["default"]
    location = cache["LOCATION"]
    clients = _async_clients.setdefault(asyncio.get_running_loop(), {})
    client = clients.get(location)
    if client is None:
        options = cache.get("OPTIONS", {})
        client = clients[location] = aioredis.Redis.from_url(
            location,
            socket_timeout=options.get("SOCKET_TIMEOUT", 0.25),
            socket_connect_timeout=options.get("SOCKET_CONNECT_TIMEOUT", 0.25),
        )
    return client


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


# --- checks (blocking: Celery tasks, staff requests) --------------------------------------------------


def _backoff(failures: int) -> float:
    base = float(settings.OLLAMA_POOL_BACKOFF_SECONDS)
    return min(float(settings.OLLAMA_POOL_BACKOFF_MAX_SECONDS), base * 2 ** max(0, failures - 1))


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message[:300]
    return f"{type(exc).__name__}: {exc}".strip()[:300]


def down_state(previous: ServerState, error: str) -> ServerState:
    """A server found failing: one more failure, checked again after the backoff."""
    now = time.time()
    failures = previous.failures + 1
    return replace(
        previous,
        status=DOWN,
        last_error=error,
        checked_at=now,
        failures=failures,
        next_check_at=now + _backoff(failures),
    )


def probe(url: str, previous: ServerState | None = None) -> tuple[ServerState, list[dict[str, Any]]]:
    """Check one server now (`/api/version`, `/api/tags`, no retries): its new state and its tags."""
    previous = previous or ServerState(url=url)
    timeout = httpx.Timeout(settings.OLLAMA_CONNECT_TIMEOUT)
    started = time.perf_counter()
    try:
        with httpx.Client(base_url=url, timeout=timeout) as http:
            version = http.get("/api/version")
            version.raise_for_status()
            latency_ms = round((time.perf_counter() - started) * 1000, 1)
            tags = http.get("/api/tags")
            tags.raise_for_status()
            listed = tags.json().get("models") or []
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return down_state(previous, _error_text(exc)), []
    entries = [entry for entry in listed if isinstance(entry, dict) and isinstance(entry.get("name"), str)]
    now = time.time()
    state = ServerState(
        url=url,
        status=HEALTHY,
        models=tuple(sorted({normalise_model_name(entry["name"]) for entry in entries})),
        version=str(version.json().get("version") or ""),
        latency_ms=latency_ms,
        last_error="",
        checked_at=now,
        failures=0,
        next_check_at=now + float(settings.OLLAMA_POOL_REFRESH_SECONDS),
    )
    return state, entries


def _state_ttl() -> int:
    return int(max(float(settings.OLLAMA_POOL_REFRESH_SECONDS), 1.0) * STATE_TTL_CHECKS)


def _store(state: ServerState, entries: list[dict[str, Any]] | None) -> None:
    """Write a server's state (and its tags when it answered); a Redis outage is noted, not raised."""
    if pool_outage.active():
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.set(state_key(state.url), state.to_json(), ex=_state_ttl())
        if entries is not None:
            pipe.set(tags_key(state.url), orjson.dumps(entries), ex=_state_ttl())
        pipe.execute()
    except CACHE_ERRORS as exc:
        pool_outage.record(exc, "store server state")


def stored_states(urls: Iterable[str] | None = None) -> dict[str, ServerState] | None:
    """The stored state of each server (`unknown` when none is stored); None when Redis is down."""
    urls = list(urls or server_urls())
    if pool_outage.active():
        return None
    try:
        raw = _redis().mget([state_key(url) for url in urls])
    except CACHE_ERRORS as exc:
        pool_outage.record(exc, "read server states")
        return None
    return {url: ServerState.from_json(url, value) for url, value in zip(urls, raw, strict=True)}


@dataclass
class PoolSnapshot:
    """Every server's state, its `/api/tags` entries (healthy servers) and its requests in flight."""

    states: list[ServerState]
    tags: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)

    @property
    def healthy(self) -> list[ServerState]:
        return [state for state in self.states if state.status == HEALTHY]

    def installed_names(self) -> set[str] | None:
        """Lower-cased names of the models at least one server holds, by each server's last listing
        (a server down keeps what it last listed); None when no server's listing is known."""
        known = [state for state in self.states if state.status == HEALTHY or state.models]
        if not known:
            return None
        return {model_key(name) for state in known for name in state.models}

    def holders(self, name: str) -> list[str]:
        """The servers (healthy or not) whose last listing has this model."""
        return [state.url for state in self.states if state.has(name)]


def refresh_servers(*, force: bool = False, urls: Iterable[str] | None = None) -> PoolSnapshot:
    """Check at the same time the servers whose next check is due, and with `force` those of `urls`
    (default: all) whatever their schedule; store what was found, and return every server's state."""
    pool = server_urls()
    forced = set(pool if urls is None else urls) if force else set()
    states = stored_states(pool) or {url: ServerState(url=url) for url in pool}
    now = time.time()
    due = [url for url in pool if url in forced or states[url].next_check_at <= now]
    tags: dict[str, list[dict[str, Any]]] = {}
    if due:
        with ThreadPoolExecutor(max_workers=min(8, len(due)), thread_name_prefix="ollama-check") as executor:
            found = list(executor.map(lambda url: probe(url, states[url]), due))
        for url, (state, entries) in zip(due, found, strict=True):
            states[url] = state
            if state.status == HEALTHY:
                tags[url] = entries
            _store(state, entries if state.status == HEALTHY else None)
            if state.status == DOWN and state.failures == 1:
                logger.warning("Ollama server %s is down: %s", url, state.last_error)
    return PoolSnapshot(states=[states[url] for url in pool], tags=tags)


def snapshot(*, refresh: bool = True, with_tags: bool = False) -> PoolSnapshot:
    """The pool as staff see it: the due checks run first (`refresh`), then the stored tags (with
    `with_tags`) and the requests in flight are read (one round trip each)."""
    if refresh:
        current = refresh_servers()
    else:
        stored = stored_states() or {}
        current = PoolSnapshot(states=[stored.get(url) or ServerState(url=url) for url in server_urls()])
    urls = [state.url for state in current.states]
    if pool_outage.active():
        return current
    try:
        connection = _redis()
        if with_tags:
            missing = [url for url in urls if url not in current.tags]
            for url, raw in zip(missing, connection.mget([tags_key(url) for url in missing]), strict=True):
                current.tags[url] = orjson.loads(raw) if raw else []
        current.in_flight = _in_flight(connection, urls)
    except CACHE_ERRORS as exc:
        pool_outage.record(exc, "read pool")
    return current


def _in_flight(connection: Any, urls: list[str]) -> dict[str, int]:
    """Requests in flight per server, counting only workers still alive."""
    pipe = connection.pipeline(transaction=False)
    for url in urls:
        pipe.hgetall(inflight_key(url))
    hashes = pipe.execute()
    workers = sorted({worker for counts in hashes for worker in counts})
    alive = set()
    if workers:
        prefix = _worker_prefix().encode()
        found = connection.mget([prefix + worker for worker in workers])
        alive = {worker for worker, value in zip(workers, found, strict=True) if value is not None}
    return {
        url: sum(max(0, int(count)) for worker, count in counts.items() if worker in alive)
        for url, counts in zip(urls, hashes, strict=True)
    }


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
                args=[worker, _worker_prefix() + worker, WORKER_TTL],
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
            ACQUIRE_SCRIPT, keys=keys, args=[len(candidates), worker, _worker_prefix(), WORKER_TTL]
        )
    except CACHE_ERRORS as exc:
        pool_outage.record(exc, "count request in flight")
        return Lease(candidates[0], counted=False)
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
        await _async_redis().set(state_key(url), state.to_json(), ex=_state_ttl())
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
            if self._lease.counted:
                await _keep_worker_alive()
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            await self._lease.release()


_worker_seen_at = float("-inf")


async def _keep_worker_alive() -> None:
    """Refresh this worker's key, at most every third of its TTL, while its streams go on."""
    global _worker_seen_at
    now = time.monotonic()
    if now - _worker_seen_at < WORKER_TTL / 3 or pool_outage.active():
        return
    _worker_seen_at = now
    worker = worker_id()
    try:
        await _async_redis().set(_worker_prefix() + worker, 1, ex=WORKER_TTL)
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
