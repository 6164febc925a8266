"""Cache-aside reads through Redis: the one helper every cached read uses.

    catalogue = CacheNamespace("explore", ttl_setting="EXPLORE_CACHE_TTLS")
    cached = catalogue.fetch("models", {"page": 1}, compute=build_page)  # CachedValue(data, etag, hit)
    catalogue.invalidate_on_commit()                                     # in a service that wrote

- Keys are `<namespace>:<resource>:<normalised params>:v<version>`. Invalidation bumps the namespace's
  version with one INCR: old entries are never read again and expire on their TTL, so nothing ever
  scans for keys or deletes by pattern.
- TTLs are per resource, from a settings dict (`{"models": 300, ..., "default": 300}`).
- A cold key is computed once: the first reader takes a short Redis lock, the others wait for its
  value (and compute it themselves only if that takes longer than `CACHE_LOCK_WAIT`).
- When Redis is unreachable the value is computed from the database and a warning is logged; for
  `CACHE_OUTAGE_COOLDOWN` seconds afterwards this process skips Redis altogether, so a dead or
  silent Redis costs one short socket timeout, not one per request.
- Values are stored as plain JSON together with an ETag of their bytes, and `conditional_response`
  turns a matching `If-None-Match` into a 304.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlencode

import orjson
import redis.asyncio as aioredis
from django.conf import settings
from django.core.cache import caches
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.http import parse_etags
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework import status
from rest_framework.response import Response

from core.db import reads_on_primary

logger = logging.getLogger(__name__)

# What a broken or unreachable Redis raises through django-redis (wrapped) or redis-py (locks).
CACHE_ERRORS: tuple[type[Exception], ...] = (ConnectionInterrupted, RedisError, OSError)

T = TypeVar("T")

# Normalised parameters longer than this are hashed so keys stay short whatever the query string.
MAX_PARAMS_IN_KEY = 200


class Outage:
    """This process's memory of a recent failure of a service it uses (one warning per cool-down, not
    one per request). `outage` below is the cache's (throttles included); the task queue's broker,
    which may be another server, and PostgreSQL have their own (core.queue, core.exceptions)."""

    def __init__(
        self,
        *,
        name: str = "cache",
        fallback: str = "serving from the database without trying Redis for the next {cooldown:.0f} s",
        log: logging.Logger = logger,
    ) -> None:
        self.name = name
        self.fallback = fallback
        self.log = log
        self._until = 0.0
        self._lock = threading.Lock()

    def active(self) -> bool:
        """True while the service failed less than `CACHE_OUTAGE_COOLDOWN` seconds ago."""
        return time.monotonic() < self._until

    def record(self, exc: BaseException, operation: str) -> None:
        cooldown = float(getattr(settings, "CACHE_OUTAGE_COOLDOWN", 5.0))
        with self._lock:
            first = not self.active()
            self._until = time.monotonic() + cooldown
        if first:
            self.log.warning(
                "%s unavailable (%s): %s: %s",
                self.name,
                operation,
                self.fallback.format(cooldown=cooldown),
                exc,
                extra={"outage": self.name, "cache_operation": operation},
            )

    def clear(self) -> None:
        self._until = 0.0


outage = Outage()


_async_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, float | None], aioredis.Redis]
] = weakref.WeakKeyDictionary()


def async_redis(*, socket_timeout: float | None = None) -> aioredis.Redis:
    """The event loop's Redis client on the cache's server, with the cache's socket timeouts, or
    `socket_timeout` for reads that block on the server longer than that (XREAD BLOCK)."""
    cache = settings.CACHES["default"]
    location = cache["LOCATION"]
    if isinstance(location, list | tuple):  # django-redis: the first server is the primary
        location = location[0]
    options = cache.get("OPTIONS", {})
    timeout = options.get("SOCKET_TIMEOUT", 0.25) if socket_timeout is None else socket_timeout
    clients = _async_clients.setdefault(asyncio.get_running_loop(), {})
    client = clients.get((location, timeout))
    if client is None:
        client = clients[(location, timeout)] = aioredis.Redis.from_url(
            location,
            socket_timeout=timeout,
            socket_connect_timeout=options.get("SOCKET_CONNECT_TIMEOUT", 0.25),
        )
    return client


@receiver(setting_changed)
def _forget_outage_when_caches_change(*, setting: str, **kwargs: Any) -> None:
    if setting in {"CACHES", "CACHE_OUTAGE_COOLDOWN"}:
        outage.clear()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return DjangoJSONEncoder().default(value)


@dataclass(frozen=True)
class CachedValue:
    """A read's JSON data, the ETag of its bytes, and whether it came from the cache."""

    data: Any
    etag: str
    hit: bool = False
    raw: bytes = b""

    @classmethod
    def build(cls, data: Any) -> CachedValue:
        """Normalise `data` to plain JSON (what a cache hit would return too) and tag it."""
        raw = orjson.dumps(data, default=_json_default)
        return cls(data=orjson.loads(raw), etag=etag_for_bytes(raw), hit=False, raw=raw)

    @classmethod
    def from_stored(cls, stored: Any) -> CachedValue | None:
        """The value read from Redis, or None for nothing or an entry in another format (one
        written by an older release), which then counts as a miss and is overwritten."""
        if not isinstance(stored, dict) or not {"json", "etag"} <= stored.keys():
            return None
        return cls(data=orjson.loads(stored["json"]), etag=stored["etag"], hit=True)

    def to_store(self) -> dict[str, str]:
        """What goes to Redis: the JSON as one string (parsed by orjson on a hit, not by the cache
        serializer, which is several times slower on a page of rows) and its ETag."""
        return {"json": self.raw.decode(), "etag": self.etag}


def etag_for_bytes(raw: bytes) -> str:
    return '"' + hashlib.blake2b(raw, digest_size=12).hexdigest() + '"'


def normalise_params(params: Mapping[str, Any]) -> str:
    """Stable text for a parameter mapping: sorted, empty values dropped, long ones hashed."""
    items = []
    for name, value in sorted(params.items()):
        if value is None or value == "" or value == [] or value == ():
            continue
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, list | tuple | set | frozenset):
            text = ",".join(sorted(str(item) for item in value))
        else:
            text = str(value)
        items.append((name, text))
    encoded = urlencode(items)
    if len(encoded) > MAX_PARAMS_IN_KEY:
        encoded = "h=" + hashlib.blake2b(encoded.encode(), digest_size=16).hexdigest()
    return encoded or "-"


def _guarded(operation: str, func: Callable[[], T], default: T) -> T:
    """Run a cache call; on a Redis failure note the outage and return `default`."""
    try:
        return func()
    except CACHE_ERRORS as exc:
        outage.record(exc, operation)
        return default


@dataclass
class _Fill:
    """A miss this reader is to fill: the key, its TTL, and the lock it holds (if it got one)."""

    namespace: CacheNamespace
    key: str
    ttl: int
    lock: Any = None

    def store(self, value: CachedValue) -> None:
        payload = value.to_store()
        cache = self.namespace.cache
        _guarded(f"set {self.key}", lambda: cache.set(self.key, payload, timeout=self.ttl), None)

    def release(self) -> None:
        if self.lock is not None:
            _guarded(f"unlock {self.key}", self.lock.release, None)


class CacheNamespace:
    """A family of cached reads invalidated together (e.g. every Explore response)."""

    def __init__(
        self,
        name: str,
        *,
        ttl_setting: str,
        default_ttl: int = 300,
        alias: str = "default",
        lock_ttl: float = 10.0,
    ) -> None:
        self.name = name
        self.ttl_setting = ttl_setting
        self.default_ttl = default_ttl
        self.alias = alias
        self.lock_ttl = lock_ttl
        # The version this process saw last: a hit then costs one MGET of version and entry.
        self._last_version: int | None = None

    @property
    def cache(self):
        return caches[self.alias]

    @property
    def version_key(self) -> str:
        return f"{self.name}:version"

    def ttl(self, resource: str) -> int:
        """Seconds a `resource` entry lives: its own setting, else the setting's "default"."""
        ttls = getattr(settings, self.ttl_setting, {}) or {}
        return int(ttls.get(resource, ttls.get("default", self.default_ttl)))

    def version(self) -> int:
        """The namespace's current version, created on first use.

        It starts from the clock in milliseconds rather than 1, so that if Redis ever loses the
        version key (eviction, restart) the new one cannot collide with versions already used.
        """
        version = self.cache.get(self.version_key)
        if version is None:
            self.cache.add(self.version_key, int(time.time() * 1000), timeout=None)
            version = self.cache.get(self.version_key)
        return int(version)

    def key(self, resource: str, params: Mapping[str, Any], *, version: int) -> str:
        return f"{self.name}:{resource}:{normalise_params(params)}:v{version}"

    def invalidate(self) -> None:
        """Make every entry of the namespace stale at once (one INCR; nothing is scanned)."""
        try:
            try:
                self.cache.incr(self.version_key)
            except ValueError:  # no version yet: a fresh one is as good as a bump
                self.cache.add(self.version_key, int(time.time() * 1000), timeout=None)
        except CACHE_ERRORS as exc:
            outage.record(exc, f"invalidate {self.name}")
            logger.warning(
                "cache namespace %s not invalidated; its entries expire within their TTL", self.name
            )

    def invalidate_on_commit(self) -> None:
        """Invalidate once the current transaction commits (at once outside a transaction)."""
        transaction.on_commit(self.invalidate)

    def fetch(self, resource: str, params: Mapping[str, Any], compute: Callable[[], Any]) -> CachedValue:
        """The cached value of `resource` for `params`, computing and storing it on a miss."""
        found = self._begin(resource, params)
        if isinstance(found, CachedValue):
            return found
        try:
            if found is None:  # Redis unavailable: a read for this request alone
                value = CachedValue.build(compute())
            else:
                # Stored for minutes, for everyone: from the primary, never a replica a moment behind
                # the write whose invalidation made this miss.
                with reads_on_primary():
                    value = CachedValue.build(compute())
                found.store(value)
        finally:
            if found is not None:
                found.release()
        return value

    def _begin(self, resource: str, params: Mapping[str, Any]) -> CachedValue | _Fill | None:
        """A hit, a miss to fill (lock held when possible), or None when Redis is unavailable."""
        if outage.active():
            return None
        operation = f"read {self.name}:{resource}"
        try:
            key, stored = self._lookup(resource, params)
            hit = CachedValue.from_stored(stored)
            if hit is not None:
                return hit
            wait = float(getattr(settings, "CACHE_LOCK_WAIT", 2.0))
            lock = self.cache.lock(f"{key}:lock", timeout=self.lock_ttl, blocking_timeout=wait, sleep=0.01)
            if not lock.acquire():
                # The holder is slow: compute in parallel rather than make this request wait longer.
                return _Fill(self, key, self.ttl(resource))
            fill = _Fill(self, key, self.ttl(resource), lock)
            try:
                hit = self._hit(key)  # the holder we waited for may have filled it
            except CACHE_ERRORS:
                fill.release()
                raise
            if hit is not None:
                fill.release()
                return hit
            return fill
        except CACHE_ERRORS as exc:
            outage.record(exc, operation)
            return None

    def _lookup(self, resource: str, params: Mapping[str, Any]) -> tuple[str, Any]:
        """The entry's key under the current version, and what Redis holds there.

        One round trip in the usual case: the namespace version and the entry under the version
        this process saw last are read together (MGET is atomic), and the entry counts only if that
        version is still the current one. After an invalidation, a second read.
        """
        guess = self._last_version
        if guess is not None:
            guessed_key = self.key(resource, params, version=guess)
            found = self.cache.get_many([self.version_key, guessed_key])
            if found.get(self.version_key) == guess:
                return guessed_key, found.get(guessed_key)
        version = self.version()
        self._last_version = version
        key = self.key(resource, params, version=version)
        return key, self.cache.get(key)

    def _hit(self, key: str) -> CachedValue | None:
        return CachedValue.from_stored(self.cache.get(key))


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison of an `If-None-Match` header with `etag` (RFC 9110); `*` matches anything."""
    if not if_none_match:
        return False
    tags = parse_etags(if_none_match)
    if tags == ["*"]:
        return True
    target = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == target for tag in tags)


def conditional_response(
    request: HttpRequest, cached: CachedValue, *, data: Any = None, cache_control: str = "public, no-cache"
) -> Response:
    """200 with the body (`data`, else the cached data), its ETag and `X-Cache: HIT|MISS`;
    304 without a body when the client's `If-None-Match` already holds that ETag. `cache_control`
    says how long others may keep it (by default: revalidate every time)."""
    headers = {
        "ETag": cached.etag,
        "Cache-Control": cache_control,
        "X-Cache": "HIT" if cached.hit else "MISS",
    }
    if etag_matches(request.headers.get("If-None-Match"), cached.etag):
        return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(cached.data if data is None else data, headers=headers)
