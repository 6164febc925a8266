"""Operations endpoints: liveness and readiness probes (no authentication, no throttling).

- `/health/live` answers 200 as long as the process serves requests; it touches nothing else, so an
  orchestrator never restarts a healthy process because a dependency is down.
- `/health/ready` checks PostgreSQL, Redis (the cache), the task queue's broker and Ollama (every
  server of `OLLAMA_URLS`; up while one answers) at the same time, each with a short timeout, and
  reports each one's status and latency. PostgreSQL down → 503 (the process cannot serve anything);
  only another one down → 200 with status "degraded" and the features that are running without it
  under "degraded" (e.g. `["cache", "throttling"]`: reads come from PostgreSQL and requests are not
  counted; `background_tasks`: work waits for the periodic sweeps or is refused with 503; `chat`: chat
  answers 503).

PostgreSQL is checked on a connection of its own, not the pool's: a full or broken pool must not make
the probe hang, and the probe must not take a connection requests are waiting for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
from celery import current_app
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_redis import get_redis_connection

from core.ollama.pool import server_urls

logger = logging.getLogger(__name__)

OK, DOWN = "ok", "down"
# libpq waits at least 2 s for a connection, whatever is asked for.
MIN_CONNECT_TIMEOUT = 2


def _timed(check: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    """Run one check: {"status": "ok"|"down", "latency_ms": ..., plus what the check adds or the error}."""
    started = time.perf_counter()
    try:
        extra = check() or {}
        result: dict[str, Any] = {"status": OK, **extra}
    except Exception as exc:
        logger.warning("readiness check failed: %s", exc)
        result = {"status": DOWN, "error": f"{type(exc).__name__}: {exc}".strip()[:300]}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_postgresql(alias: str = DEFAULT_DB_ALIAS) -> dict[str, Any] | None:
    """`SELECT 1` on a fresh connection with the alias's parameters and short timeouts."""
    db = connections.settings[alias]
    timeout = settings.HEALTH_CHECK_TIMEOUT
    params = {
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
        "dbname": db["NAME"],
        "user": db["USER"] or None,
        "password": db["PASSWORD"] or None,
        "connect_timeout": max(MIN_CONNECT_TIMEOUT, round(timeout)),
        "options": f"-c statement_timeout={int(timeout * 1000)}",
        "application_name": "ollamanet-health",
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True) as conn:
        conn.execute("SELECT 1").fetchone()
    return None


def check_redis() -> dict[str, Any] | None:
    """PING through the cache's own connection pool (its socket timeouts are already short)."""
    if not get_redis_connection("default").ping():
        raise ConnectionError("Redis did not answer PING")
    return None


def check_task_queue() -> dict[str, Any] | None:
    """One connection to the Celery broker, bounded by its transport's socket timeouts (nothing to
    reach when tasks run eagerly, in tests)."""
    if current_app.conf.task_always_eager:
        return {"mode": "eager"}
    with current_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=0, interval_start=0, interval_step=0, interval_max=0)
    return None


def _ollama_version(url: str) -> str:
    response = httpx.get(url + "/api/version", timeout=settings.HEALTH_CHECK_TIMEOUT)
    response.raise_for_status()
    return str(response.json().get("version", ""))


def check_ollama() -> dict[str, Any] | None:
    """Ollama's `/api/version`, once, without the client's retries; with several servers
    (`OLLAMA_URLS`) all of them at the same time, each reported, and Ollama is up while one answers."""
    urls = server_urls()
    if len(urls) == 1:
        return {"version": _ollama_version(urls[0])}
    servers: dict[str, dict[str, str]] = {}
    with ThreadPoolExecutor(max_workers=min(8, len(urls)), thread_name_prefix="health-ollama") as pool:
        futures = {url: pool.submit(_ollama_version, url) for url in urls}
        for url, future in futures.items():
            try:
                servers[url] = {"status": OK, "version": future.result()}
            except Exception as exc:
                servers[url] = {"status": DOWN, "error": f"{type(exc).__name__}: {exc}".strip()[:300]}
    answering = [result for result in servers.values() if result["status"] == OK]
    if not answering:
        raise ConnectionError(f"none of the {len(urls)} Ollama servers answered")
    return {"version": answering[0]["version"], "servers": servers}


CHECKS: dict[str, Callable[[], dict[str, Any] | None]] = {
    "postgresql": check_postgresql,
    "redis": check_redis,
    "task_queue": check_task_queue,
    "ollama": check_ollama,
}
REQUIRED = frozenset({"postgresql"})
# What works without each optional dependency, in a degraded way.
FEATURES = {
    "redis": ("cache", "throttling"),
    "task_queue": ("background_tasks",),
    "ollama": ("chat",),
}


def readiness() -> tuple[str, dict[str, dict[str, Any]], list[str]]:
    """("ok" | "degraded" | "unavailable", the result of each check, the degraded features); the
    checks run concurrently."""
    with ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="health") as pool:
        futures = {name: pool.submit(_timed, check) for name, check in CHECKS.items()}
        results = {name: future.result() for name, future in futures.items()}
    down = [name for name, result in results.items() if result["status"] != OK]
    degraded = [feature for name in down for feature in FEATURES.get(name, ())]
    if REQUIRED.intersection(down):
        return "unavailable", results, degraded
    return ("degraded" if down else "ok"), results, degraded


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests."""
    return JsonResponse({"status": OK})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Whether the dependencies answer, and which features run degraded; 503 only when PostgreSQL
    does not answer."""
    status, checks, degraded = readiness()
    return JsonResponse(
        {"status": status, "degraded": degraded, "checks": checks},
        status=503 if status == "unavailable" else 200,
    )
