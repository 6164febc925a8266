"""The API gateway's overhead over HTTP: each dialect against the fake Ollama called directly.

    .venv/bin/python bench/gateway.py [--rounds 20] [--concurrency 50] [--tokens 50] [--token-delay 0.01]

- Starts a fake Ollama (`tests/fakes/ollama.py`, the real NDJSON protocol) in a process of its own,
  answering every chat with `--tokens` pieces `--token-delay` seconds apart, and the server the way
  `make run` does (gunicorn, `--workers` uvicorn workers, `DEBUG` off) on a database of its own
  (`bench_ollamanet_gateway`, dropped, created and migrated on each run) and Redis database 12.
  Loopback only; both are stopped however the run ends.
- Seeds one user with a recording API key (quotas counted but never reached), and the model in the
  catalogue.
- Measures streamed chats, one connection each (httpx AsyncClient), three ways:
    direct   POST /api/chat on the fake Ollama (the floor)
    ollama   POST /ollama/api/chat through OllamaNet (NDJSON passed through, the chat recorded)
    openai   POST /v1/chat/completions with `stream: true` (SSE chunks, the chat recorded)
  first `--rounds` streams one after the other (the three ways in turn), then `--concurrency` streams
  at once, twice per way. Time to first token: from sending the request to the first piece of text.
  Token rate: pieces after the first ÷ the time from the first piece to the last.
Prints medians per way and concurrency, the time to first token OllamaNet adds over the floor and
its token rate as a share of the floor's, beside the goals (≤ 5 ms added at p50, ≥ 95 % of the rate).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass

from _server import (
    LOG_DIR,
    MODEL,
    FakeOllamaProcess,
    Server,
    configure_environment,
    create_model,
    ms,
    recreate_database,
    unused_port,
)

BENCH_DATABASE = "bench_ollamanet_gateway"
BENCH_REDIS_DB = 12
WAYS = ("direct", "ollama", "openai")
STREAM_LIMIT = 120.0  # seconds for one stream, at most


@dataclass
class Sample:
    ttft: float | None
    rate: float | None  # pieces per second after the first
    ok: bool


def seed() -> str:
    """The model in the catalogue and a user with a recording key; returns the raw key."""
    from django.contrib.auth import get_user_model

    from auth_app.services.api_keys import create_api_key

    create_model()
    user = get_user_model()(username="gateway", email="gateway@example.com")
    user.set_unusable_password()
    user.save()
    _key, raw = create_api_key(user, name="bench")
    return raw


def request_for(way: str, server: str, ollama: str, key: str, n: int) -> tuple[str, dict, dict]:
    messages = [{"role": "user", "content": f"Tell me a story, number {n}"}]
    if way == "direct":
        return f"{ollama}/api/chat", {"model": MODEL, "messages": messages, "stream": True}, {}
    headers = {"Authorization": f"Bearer {key}"}
    if way == "ollama":
        return f"{server}/ollama/api/chat", {"model": MODEL, "messages": messages, "stream": True}, headers
    return f"{server}/v1/chat/completions", {"model": MODEL, "messages": messages, "stream": True}, headers


def piece_of(way: str, line: str) -> tuple[str, bool]:
    """(text of the line, whether the stream ended) for a line of the way's body."""
    if way == "openai":
        if not line.startswith("data: "):
            return "", False
        data = line[6:]
        if data == "[DONE]":
            return "", True
        chunk = json.loads(data)
        choices = chunk.get("choices") or []
        return (choices[0].get("delta", {}).get("content") or "") if choices else "", False
    if not line.strip():
        return "", False
    obj = json.loads(line)
    return (obj.get("message") or {}).get("content") or "", bool(obj.get("done"))


async def one_stream(client, way: str, server: str, ollama: str, key: str, n: int) -> Sample:
    url, body, headers = request_for(way, server, ollama, key, n)
    started = time.perf_counter()
    first = last = None
    pieces = 0
    ended = False
    try:
        async with client.stream("POST", url, json=body, headers=headers, timeout=STREAM_LIMIT) as response:
            if response.status_code != 200:
                return Sample(None, None, False)
            async for line in response.aiter_lines():
                text, done = piece_of(way, line)
                if text:
                    now = time.perf_counter()
                    first = first or now
                    last = now
                    pieces += 1
                if done:
                    ended = True
    except Exception:  # a failed stream is counted, not raised
        return Sample(None, None, False)
    rate = (pieces - 1) / (last - first) if first and last and last > first and pieces > 1 else None
    return Sample(None if first is None else first - started, rate, ended)


async def measure(args, server: str, ollama: str, key: str) -> dict[tuple[str, int], list[Sample]]:
    import httpx

    limits = httpx.Limits(max_connections=args.concurrency * 2, max_keepalive_connections=0)
    results: dict[tuple[str, int], list[Sample]] = {
        (way, c): [] for way in WAYS for c in (1, args.concurrency)
    }
    counter = 0
    async with httpx.AsyncClient(limits=limits) as client:
        for _ in range(3):  # warm-up: connections, the workers' first requests
            for way in WAYS:
                counter += 1
                await one_stream(client, way, server, ollama, key, counter)
        for _ in range(args.rounds):
            for way in WAYS:
                counter += 1
                results[(way, 1)].append(await one_stream(client, way, server, ollama, key, counter))
        for _ in range(2):
            for way in WAYS:
                batch = []
                for _ in range(args.concurrency):
                    counter += 1
                    batch.append(one_stream(client, way, server, ollama, key, counter))
                results[(way, args.concurrency)].extend(await asyncio.gather(*batch))
    return results


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def report(args, results: dict[tuple[str, int], list[Sample]]) -> None:
    import os

    print(
        f"gunicorn -w {args.workers} (uvicorn workers), {os.environ['DJANGO_SETTINGS_MODULE']}, DEBUG off; "
        f"fake Ollama: {args.tokens} pieces, {args.token_delay * 1000:.0f} ms apart; "
        f"{args.rounds} streams one at a time per way, 2 x {args.concurrency} at once"
    )
    print()
    print(
        "| way | streams at once | ok | TTFT p50 (ms) | added TTFT p50 (ms) | pieces/s p50 "
        "| share of the floor's rate |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for concurrency in (1, args.concurrency):
        floor = results[("direct", concurrency)]
        floor_ttft = median([s.ttft for s in floor if s.ttft is not None])
        floor_rate = median([s.rate for s in floor if s.rate is not None])
        for way in WAYS:
            samples = results[(way, concurrency)]
            ttft = median([s.ttft for s in samples if s.ttft is not None])
            rate = median([s.rate for s in samples if s.rate is not None])
            ok = sum(s.ok for s in samples)
            added = "" if way == "direct" or ttft is None or floor_ttft is None else ms(ttft - floor_ttft)
            share = "" if way == "direct" or not rate or not floor_rate else f"{rate / floor_rate:.1%}"
            label = "fake Ollama directly" if way == "direct" else f"OllamaNet, {way} dialect"
            print(
                f"| {label} | {concurrency} | {ok}/{len(samples)} | {ms(ttft)} | {added} | "
                f"{'-' if rate is None else f'{rate:.0f}'} | {share} |"
            )
    print()
    print("Goals: ≤ 5 ms added to the time to first token at p50, ≥ 95 % of the direct token rate.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="streams one at a time, per way")
    parser.add_argument("--concurrency", type=int, default=50, help="streams at once (default 50)")
    parser.add_argument("--tokens", type=int, default=50, help="pieces per answer (default 50)")
    parser.add_argument("--token-delay", type=float, default=0.01, help="seconds before each piece")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, as make run)")
    parser.add_argument("--lifetime", type=float, default=900.0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    fake = FakeOllamaProcess(
        tokens=args.tokens,
        token_delay=args.token_delay,
        lifetime=args.lifetime,
        log_path=LOG_DIR / "gateway-ollama.log",
    )
    server = None
    try:
        configure_environment(
            ollama_url=fake.url, database=BENCH_DATABASE, redis_db=BENCH_REDIS_DB, key_prefix="bench_gateway"
        )
        import os

        # Limits never reached, so both quotas are counted as in production (0 would skip them).
        os.environ["API_KEY_REQUESTS_PER_MINUTE"] = "1000000000"
        os.environ["API_KEY_TOKENS_PER_DAY"] = "1000000000000"
        recreate_database()
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        key = seed()
        server = Server(workers=args.workers, port=unused_port(), log_path=LOG_DIR / "gateway-server.log")
        server.wait_ready()
        results = asyncio.run(measure(args, server.url, fake.url, key))
    finally:
        if server is not None:
            server.stop()
        fake.stop()
    report(args, results)


if __name__ == "__main__":
    main()
