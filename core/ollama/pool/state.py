"""The pool's servers and their state in Redis, shared by every web and Celery worker: checks with
backoff, the stored states and listings, requests in flight (see the package's docstring)."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import httpx
import orjson
from django.conf import settings
from django_redis import get_redis_connection

from core.cache import CACHE_ERRORS, Outage
from core.exceptions import ApplicationError

logger = logging.getLogger(__name__)

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


def worker_key_prefix() -> str:
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


def state_ttl() -> int:
    return int(max(float(settings.OLLAMA_POOL_REFRESH_SECONDS), 1.0) * STATE_TTL_CHECKS)


def store_state(state: ServerState, entries: list[dict[str, Any]] | None) -> None:
    """Write a server's state (and its tags when it answered); a Redis outage is noted, not raised."""
    if pool_outage.active():
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.set(state_key(state.url), state.to_json(), ex=state_ttl())
        if entries is not None:
            pipe.set(tags_key(state.url), orjson.dumps(entries), ex=state_ttl())
        pipe.execute()
    except CACHE_ERRORS as exc:
        pool_outage.record(exc, "store server state")


def server_with(model: str) -> str | None:
    """A healthy server of the pool that holds `model` by its last check (the first in preference
    order), for blocking background work that makes one request; None when none is known to (Redis
    down, nothing checked yet): the caller then asks OLLAMA_URL."""
    states = stored_states() or {}
    return next((url for url, state in states.items() if state.status == HEALTHY and state.has(model)), None)


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
            store_state(state, entries if state.status == HEALTHY else None)
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
        prefix = worker_key_prefix().encode()
        found = connection.mget([prefix + worker for worker in workers])
        alive = {worker for worker, value in zip(workers, found, strict=True) if value is not None}
    return {
        url: sum(max(0, int(count)) for worker, count in counts.items() if worker in alive)
        for url, counts in zip(urls, hashes, strict=True)
    }
