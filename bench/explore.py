"""Explore benchmark: the catalogue list, search and detail, served from a warm cache vs a cold one.

    .venv/bin/python bench/explore.py [--models 1000] [--requests 300]

- Uses a database of its own, `bench_ollamanet` on the server of DATABASE_URL (created, migrated and
  seeded with a catalogue on first use; the development database is never touched).
- Uses the Redis of REDIS_URL / CACHE_URL under the key prefix `bench`; nothing is flushed. "Cold"
  means the catalogue namespace was invalidated just before the request (as after any catalogue
  write), so the request computes from PostgreSQL and stores its result; the "warm" request that
  follows it is a hit. Cold and warm requests alternate, so both see the same load on the machine.
- Requests go through the whole Django stack in-process (middleware, DRF, the Redis-backed throttle,
  the cache helper, JSON rendering) with Django's test client; no HTTP server is involved, so the
  numbers show the application's cost rather than a web server's.

Prints medians and p95 of each scenario, throughput, and the warm/cold throughput ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "bench_ollamanet"
DEFAULT_DATABASE_URL = "postgres://ollamanet:ollamanet@127.0.0.1:54329/ollamanet"

FAMILIES = [
    ("llama", ["3.2:1b", "3.2:3b", "3.1:8b", "3.1:70b", "3.3:70b"]),
    ("mistral", [":7b", "-nemo:12b", "-small:22b", "-large:123b"]),
    ("mixtral", [":8x7b", ":8x22b"]),
    ("qwen2.5", [":0.5b", ":1.5b", ":7b", ":14b", ":32b", ":72b", "-coder:7b", "-coder:32b"]),
    ("gemma2", [":2b", ":9b", ":27b"]),
    ("phi3", [":mini", ":medium"]),
    ("deepseek-r1", [":1.5b", ":7b", ":14b", ":32b", ":70b"]),
    ("codellama", [":7b", ":13b", ":34b"]),
    ("llava", [":7b", ":13b", ":34b"]),
    ("nomic-embed-text", [":v1.5"]),
]
WORDS = [
    "fast", "capable", "open", "model", "chat", "code", "reasoning", "vision", "image", "text", "embedding",
    "multilingual", "instruct", "tuned", "small", "large", "efficient", "accurate", "assistant", "summarise",
    "translate", "explain", "write", "program", "math", "context", "window", "tokens", "quantized", "local",
    "private", "research", "general", "purpose", "agent", "tools",
]  # fmt: skip
TAGS = [
    "chat", "code", "vision", "embedding", "reasoning", "multilingual", "tools", "small", "large",
    "instruct", "math", "agents", "long-context", "uncensored", "research", "rag", "summaries",
    "translation", "creative", "education",
]  # fmt: skip


def _configure_environment() -> None:
    base_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    parts = urlsplit(base_url)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}"))
    os.environ["BENCH_ADMIN_DATABASE_URL"] = urlunsplit(parts._replace(path="/postgres"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ["DJANGO_DEBUG"] = "false"  # DEBUG keeps every query in memory
    os.environ["CACHE_KEY_PREFIX"] = "bench"
    # Throttling stays on, as in production; a one-second window keeps its history (one timestamp per
    # request in the window) as short as a real client's instead of growing through the whole run.
    os.environ["THROTTLE_EXPLORE"] = "5000/s"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))


def _ensure_database() -> None:
    import psycopg

    with psycopg.connect(os.environ["BENCH_ADMIN_DATABASE_URL"], autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')


def _seed(models: int) -> None:
    """A deterministic catalogue of `models` published models with tags and conversations."""
    from django.contrib.auth import get_user_model

    from conversations_app.models import Conversation
    from models_app.models import AIModel, ModelTag, Tag
    from models_app.services import refresh_tag_names

    if AIModel.objects.count() >= models:
        return
    rng = random.Random(42)  # noqa: S311 - reproducible demo data, not secrets
    tags = {name: Tag.objects.get_or_create(name=name, defaults={"slug": name})[0] for name in TAGS}
    existing = set(AIModel.all_objects.values_list("name", flat=True))
    rows = []
    i = 0
    while len(existing) < models:
        family, variants = FAMILIES[i % len(FAMILIES)]
        variant = variants[(i // len(FAMILIES)) % len(variants)]
        name = f"{family}{variant}" if i < 40 else f"{family}-ft{i}{variant}"
        i += 1
        if name in existing:
            continue
        existing.add(name)
        rows.append(
            AIModel(
                name=name,
                family=family.split("-")[0].split(".")[0],
                description=" ".join(rng.choices(WORDS, k=rng.randint(12, 40))).capitalize() + ".",
                parameter_size=variant.strip(":-").split(":")[-1].upper(),
                size=rng.randint(300_000_000, 80_000_000_000),
                install_status=rng.choice(["installed", "not_installed"]),
                is_active=True,
            )
        )
    created = AIModel.objects.bulk_create(rows)
    ModelTag.objects.bulk_create(
        [
            ModelTag(model=m, tag=t)
            for m in created
            for t in rng.sample(list(tags.values()), rng.randint(1, 4))
        ]
    )
    refresh_tag_names(AIModel.all_objects.values("pk"))
    owner, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"email": "bench@example.com", "display_name": "Bench"}
    )
    popular = rng.sample(created, min(100, len(created)))
    Conversation.objects.bulk_create(
        Conversation(owner=owner, model=m, model_name=m.name, title="bench")
        for m in popular
        for _ in range(rng.randint(1, 20))
    )


def _measure(client, url: str, *, requests: int) -> tuple[list[float], list[float]]:
    """Latencies of `requests` cold and warm requests, interleaved so both see the same machine load:
    invalidate, request (a miss that computes and stores), request again (a hit)."""
    from models_app.cache import catalogue_cache

    cold: list[float] = []
    warm: list[float] = []
    client.get(url)  # connections, imports, prepared plans
    for _ in range(requests):
        catalogue_cache.invalidate()
        for expected, latencies in (("MISS", cold), ("HIT", warm)):
            started = time.perf_counter()
            response = client.get(url)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200 or response["X-Cache"] != expected:
                raise SystemExit(
                    f"{url}: {response.status_code} {response.get('X-Cache')}, wanted {expected}"
                )
    return cold, warm


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=1000, help="catalogue size (default 1000)")
    parser.add_argument("--requests", type=int, default=300, help="requests per scenario and state")
    args = parser.parse_args()

    _configure_environment()
    _ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from models_app.models import AIModel

    call_command("migrate", verbosity=0)
    _seed(args.models)
    some_model = AIModel.objects.published().order_by("name").values_list("name", flat=True)[0]
    scenarios = [
        ("catalogue list (20 per page)", "/api/v1/explore/models/?page_size=20"),
        ("catalogue by popularity", "/api/v1/explore/models/?ordering=popularity&page_size=20"),
        ("catalogue filtered (tag + installed)", "/api/v1/explore/models/?tag=code&installed=true"),
        ("search `llama`", "/api/v1/explore/models/?q=llama"),
        ("search typo `lama3` (trigram)", "/api/v1/explore/models/?q=lama3"),
        ("model detail", f"/api/v1/explore/models/{some_model}/"),
        ("tags with counts", "/api/v1/explore/tags/?page_size=50"),
    ]
    client = Client()
    pg_version: int = connection.pg_version  # type: ignore[attr-defined]  # PostgreSQL's wrapper has it
    print(
        f"PostgreSQL {pg_version // 10000}, {AIModel.objects.published().count()} published "
        f"models, {args.requests} requests per scenario and state, {os.cpu_count()} CPUs"
    )
    print()
    print(
        "| scenario | cold p50 (ms) | cold p95 (ms) | warm p50 (ms) | warm p95 (ms) "
        "| cold req/s | warm req/s | warm/cold |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, url in scenarios:
        cold, warm = _measure(client, url, requests=args.requests)
        cold_rps, warm_rps = len(cold) / sum(cold), len(warm) / sum(warm)
        print(
            f"| {label} | {statistics.median(cold) * 1000:.2f} | {_p95(cold) * 1000:.2f} "
            f"| {statistics.median(warm) * 1000:.2f} | {_p95(warm) * 1000:.2f} "
            f"| {cold_rps:.0f} | {warm_rps:.0f} | {warm_rps / cold_rps:.1f} x |"
        )


if __name__ == "__main__":
    main()
