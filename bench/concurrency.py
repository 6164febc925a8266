"""Concurrency benchmark: many slow streamed answers at once, end to end over HTTP (SPEC §7).

    .venv/bin/python bench/concurrency.py [--streams 200] [--tokens 40] [--token-delay 0.1]

- Starts a fake Ollama (`tests/fakes/ollama.py`, the real NDJSON protocol) in a process of its own
  on loopback, answering every chat with `--tokens` pieces, `--token-delay` seconds apart (40 x 0.1 s:
  each answer lasts about 4 s, like a small model on a CPU).
- Starts the server the way `make run` does: gunicorn with `--workers` (default 2) uvicorn workers
  serving `config.asgi:application`, the default database pool, `DEBUG` off, with the settings module
  set explicitly (`config.settings.local` when it exists, else `config.settings.base`). It uses a
  database of its own, `bench_ollamanet_concurrency` on the server of DATABASE_URL (dropped, created
  and migrated on each run; the development database is never touched), and Redis database 11 for
  cache, throttles and broker. The chat and user throttles are raised so that they do not take part.
- Seeds one user per 10 streams and one new conversation per stream. After a warm-up (up to 40 answers
  of 2 tokens at once, in the same conversations), opens all the streams at once
  (`POST /api/v1/conversations/{id}/messages/` with `stream: true`, httpx AsyncClient, one connection
  each) and reads every Server-Sent Events stream to its end.
- Runs the same number of concurrent streams against the fake Ollama directly, the floor: what
  Ollama's own time to first token is under the same load.

Reports completed streams (ended with `event: done`) and failed ones (HTTP status other than 200,
`event: error`, or cut), status codes, time to first token and total time (p50/p95/p99), the state of
the stored responses afterwards and the distinct errors in the server log (`.local/bench/`). Time to
first token counts from sending the request to the first piece of text, over the streams that got one.
Every wait has a time limit; both servers are stopped on exit however the run ends.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from _server import (
    LOG_DIR,
    MODEL,
    ROOT,
    FakeOllamaProcess,
    Server,
    configure_environment,
    create_model,
    ms,
    percentile,
    pool_description,
    recreate_database,
    unused_port,
)

BENCH_DATABASE = "bench_ollamanet_concurrency"
BENCH_REDIS_DB = 11
STREAMS_PER_USER = 10
WARMUP_STREAMS = 40  # at once: more than the two workers' pools (2 x 10 connections by default)


# --- seeding -------------------------------------------------------------------------------------------
def seed(conversations: int) -> list[tuple[str, str]]:
    """The model, one user per STREAMS_PER_USER conversations, and `conversations` new conversations.
    Returns (conversation id, access token) pairs."""
    from django.contrib.auth import get_user_model
    from django.db import connections
    from rest_framework_simplejwt.tokens import RefreshToken

    from conversations_app.models import Conversation

    model = create_model()
    users = []
    for i in range((conversations + STREAMS_PER_USER - 1) // STREAMS_PER_USER):
        user = get_user_model()(username=f"bench{i}", email=f"bench{i}@example.com")
        user.set_unusable_password()
        user.save()
        users.append(user)
    tokens = {user.pk: str(RefreshToken.for_user(user).access_token) for user in users}
    created = Conversation.objects.bulk_create(
        Conversation(owner=users[i // STREAMS_PER_USER], model=model, model_name=MODEL, title=f"Stream {i}")
        for i in range(conversations)
    )
    connections.close_all()  # this process holds no connection while the server is measured
    return [(str(c.pk), tokens[c.owner_id]) for c in created]


def stored_response_states() -> Counter[str]:
    from django.db import connections
    from django.db.models import Count

    from conversations_app.models import AIResponse

    rows = AIResponse.objects.values("status").annotate(n=Count("id")).order_by("status")
    states = Counter({row["status"]: row["n"] for row in rows})
    connections.close_all()
    return states


# --- measuring -----------------------------------------------------------------------------------------
@dataclass
class StreamResult:
    status: int | None = None
    outcome: str = "cut"  # done | error | http | cut
    detail: str = ""
    started: float | None = None  # seconds from sending the request to `event: start` (OllamaNet)
    first_token: float | None = None  # seconds from sending the request to the first piece of text
    total: float | None = None


async def ollamanet_stream(client, url: str, token: str, content: str, options: dict | None) -> StreamResult:
    result = StreamResult()
    body: dict = {"content": content, "stream": True}
    if options:
        body["options"] = options
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    started = time.perf_counter()
    try:
        async with client.stream("POST", url, json=body, headers=headers) as response:
            result.status = response.status_code
            if response.status_code != 200:
                result.outcome = "http"
                result.detail = error_code((await response.aread()).decode(errors="replace"))
                return result
            event = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "start":
                        result.started = time.perf_counter() - started
                    elif event == "token" and result.first_token is None:
                        result.first_token = time.perf_counter() - started
                elif line.startswith("data: ") and event in ("done", "error"):
                    result.outcome = event
                    if event == "error":
                        result.detail = error_code(line[6:])
            result.total = time.perf_counter() - started
            if result.outcome == "cut":
                result.detail = "ended without done or error"
    except Exception as exc:  # any failure of one stream is a result, not a crash
        result.outcome, result.detail = "cut", type(exc).__name__
    return result


async def ollama_stream(client, url: str) -> StreamResult:
    result = StreamResult()
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "stream": True}
    started = time.perf_counter()
    try:
        async with client.stream("POST", url, json=body) as response:
            result.status = response.status_code
            if response.status_code != 200:
                result.outcome, result.detail = "http", (await response.aread()).decode()[:80]
                return result
            async for line in response.aiter_lines():
                if not line:
                    continue
                piece = json.loads(line)
                if piece.get("message", {}).get("content") and result.first_token is None:
                    result.first_token = time.perf_counter() - started
                if piece.get("done"):
                    result.outcome = "done"
            result.total = time.perf_counter() - started
    except Exception as exc:
        result.outcome, result.detail = "cut", type(exc).__name__
    return result


def error_code(text: str) -> str:
    try:
        error = json.loads(text).get("error", {})
        return f"{error.get('code')}: {error.get('message')}"[:160]
    except (ValueError, AttributeError):
        return " ".join(text.split())[:80]


async def run_concurrently(make_stream, count: int, limit: float) -> tuple[list[StreamResult], float]:
    """`count` streams at once, each cut off after `limit` seconds; their results and the wall time."""

    async def bounded(index: int) -> StreamResult:
        try:
            async with asyncio.timeout(limit):
                return await make_stream(index)
        except TimeoutError:
            return StreamResult(outcome="cut", detail=f"no end within {limit:.0f} s")

    started = time.perf_counter()
    results = await asyncio.gather(*(bounded(i) for i in range(count)))
    return list(results), time.perf_counter() - started


def http_client(count: int, read_timeout: float):
    import httpx

    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=count + 8, max_keepalive_connections=count + 8),
        timeout=httpx.Timeout(10.0, read=read_timeout),
    )


# --- reporting -----------------------------------------------------------------------------------------
def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def summary_row(label: str, results: list[StreamResult], wall: float) -> str:
    completed = sum(r.outcome == "done" for r in results)
    statuses = Counter(str(r.status) if r.status is not None else "none" for r in results)
    codes = ", ".join(f"{code} x{n}" for code, n in sorted(statuses.items()))
    ttft = [r.first_token for r in results if r.first_token is not None]
    totals = [r.total for r in results if r.outcome == "done" and r.total is not None]
    return (
        f"| {label} | {len(results)} | {completed} | {len(results) - completed} | {codes} "
        f"| {ms(percentile(ttft, 50))} | {ms(percentile(ttft, 95))} | {ms(percentile(ttft, 99))} "
        f"| {seconds(percentile(totals, 50))} | {seconds(percentile(totals, 95))} "
        f"| {seconds(percentile(totals, 99))} | {wall:.1f} |"
    )


def failure_lines(results: list[StreamResult]) -> list[str]:
    reasons = Counter(
        f"{r.outcome} {r.status if r.outcome == 'http' else ''} {r.detail}".replace("  ", " ").strip()
        for r in results
        if r.outcome != "done"
    )
    return [f"- {n} x {reason}" for reason, n in reasons.most_common()]


EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout|Exit)): (.+)$")
LOG_LEVEL_LINE = re.compile(r"\b(ERROR|CRITICAL|WARNING)\s+(\S+)\s+(.*)$")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def server_log_errors(path: Path, limit: int = 8) -> list[str]:
    """Distinct exception lines and error/warning records of the server log, most frequent first."""
    seen: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        line = UUID.sub("{id}", line.strip())
        if match := EXCEPTION_LINE.match(line):
            seen[f"{match.group(1)}: {match.group(2)[:140]}"] += 1
        elif match := LOG_LEVEL_LINE.search(line):
            seen[f"{match.group(1)} {match.group(2)} {match.group(3)[:120]}"] += 1
    return [f"- {n} x `{text}`" for text, n in seen.most_common(limit)]


# --- the run -------------------------------------------------------------------------------------------
async def measure(args, server_url: str, ollama_url: str, pairs: list[tuple[str, str]]):
    limit = args.tokens * args.token_delay * 4 + 30
    async with http_client(args.streams, limit) as client:
        direct, direct_wall = await run_concurrently(
            lambda i: ollama_stream(client, f"{ollama_url}/api/chat"), args.streams, limit
        )

    def to_server(pair: tuple[str, str], options: dict | None):
        conversation, token = pair
        url = f"{server_url}/api/v1/conversations/{conversation}/messages/"
        return ollamanet_stream(client, url, token, "Why is the sky blue?", options)

    async with http_client(args.streams, limit) as client:
        # Short answers (2 tokens) first, in the same conversations: what is measured is a server that
        # has been running, its imports done and its connection pools grown.
        warmup, _ = await run_concurrently(
            lambda i: to_server(pairs[i], {"num_predict": 2}), min(len(pairs), WARMUP_STREAMS), limit
        )
    async with http_client(args.streams, limit) as client:
        through, through_wall = await run_concurrently(lambda i: to_server(pairs[i], None), len(pairs), limit)
    return (direct, direct_wall), warmup, (through, through_wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=200, help="concurrent streams (default 200)")
    parser.add_argument("--tokens", type=int, default=40, help="pieces per answer (default 40)")
    parser.add_argument("--token-delay", type=float, default=0.1, help="seconds before each piece")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, as make run)")
    parser.add_argument("--lifetime", type=float, default=900.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.streams <= 1000:
        parser.error("--streams must be between 1 and 1000")

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    fake = FakeOllamaProcess(
        tokens=args.tokens,
        token_delay=args.token_delay,
        lifetime=args.lifetime,
        log_path=LOG_DIR / "concurrency-ollama.log",
    )
    server = None
    try:
        configure_environment(
            ollama_url=fake.url,
            database=BENCH_DATABASE,
            redis_db=BENCH_REDIS_DB,
            key_prefix="bench_concurrency",
        )
        recreate_database()
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        pairs = seed(args.streams)

        port = unused_port()
        server = Server(workers=args.workers, port=port, log_path=LOG_DIR / "concurrency-server.log")
        server.wait_ready()
        (direct, direct_wall), warmup, (through, through_wall) = asyncio.run(
            measure(args, server.url, fake.url, pairs)
        )
        server.stop()
        states = stored_response_states()
    finally:
        if server is not None:
            server.stop()
        fake.stop()

    print(
        f"{args.streams} concurrent streams of {args.tokens} tokens, {args.token_delay:g} s apart; "
        f"gunicorn -w {args.workers} (uvicorn workers), {os.environ['DJANGO_SETTINGS_MODULE']}, "
        f"{pool_description()}; {os.cpu_count()} CPUs"
    )
    print()
    print(
        "| target | streams | completed | failed | HTTP status | TTFT p50 (ms) | TTFT p95 (ms) "
        "| TTFT p99 (ms) | total p50 (s) | total p95 (s) | total p99 (s) | wall (s) |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    print(summary_row("fake Ollama directly", direct, direct_wall))
    print(summary_row("OllamaNet (`make run`)", through, through_wall))
    floor = percentile([r.first_token for r in direct if r.first_token is not None], 50)
    ours = percentile([r.first_token for r in through if r.first_token is not None], 50)
    if floor is not None and ours is not None:
        print()
        print(f"Time to first token added by OllamaNet at p50: {(ours - floor) * 1000:.1f} ms")
    if starts := [r.started for r in through if r.started is not None]:
        print(
            f"OllamaNet time to `event: start` (prompt stored, Ollama has accepted the request): "
            f"p50 {ms(percentile(starts, 50))} ms, p95 {ms(percentile(starts, 95))} ms, "
            f"p99 {ms(percentile(starts, 99))} ms"
        )
    for label, results in (("fake Ollama directly", direct), ("OllamaNet", through)):
        if lines := failure_lines(results):
            print()
            print(f"Failed streams, {label}:")
            print("\n".join(lines))
    warm_failed = sum(r.outcome != "done" for r in warmup)
    print()
    print(f"Warm-up ({len(warmup)} answers of 2 tokens at once, not counted above): {warm_failed} failed")
    print(
        "Stored responses afterwards (warm-up included): " + ", ".join(f"{s} {n}" for s, n in states.items())
    )
    if errors := server_log_errors(server.log_path):
        print()
        print(f"Server log ({server.log_path.relative_to(ROOT)}), most frequent errors:")
        print("\n".join(errors))


if __name__ == "__main__":
    main()
