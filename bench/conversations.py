"""Conversation benchmarks (SPEC §7), on a throw-away database beside the configured one.

    .venv/bin/python bench/conversations.py [a] [b]

(a) Reading a conversation's current branch of 200 exchanges through the API (SQL queries counted),
    against the same rows fetched with raw psycopg and JSON-encoded in the same process.
    Targets: at most 4 queries, within 3x of raw.
(b) Appending an exchange (exchange_start + exchange_complete) to a conversation with 10 prior
    exchanges and to one with 5,000. Target: ratio at most 1.5.

Medians of repeated runs; figures on a small machine are noisy, the ratios are what matter.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("TEST_DATABASE_NAME", "bench_ollamanet_conversations")

import django

django.setup()

import psycopg  # noqa: E402
from _floor import BRANCH_SQL  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402

BRANCH_LENGTH = 200
READ_RUNS = 30
APPEND_RUNS = 40
SMALL, LARGE = 10, 5_000

METRICS = {
    "done_reason": "stop",
    "total_duration": 1_500_000_000,
    "load_duration": 20_000_000,
    "prompt_eval_count": 24,
    "prompt_eval_duration": 90_000_000,
    "eval_count": 180,
    "eval_duration": 1_300_000_000,
}


def median_ms(run: Callable[[], object], repeat: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def analyze() -> None:
    """Fresh planner statistics, as autovacuum would have them on a live database."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def seed_branch(conversation, length: int):
    """`length` answered exchanges in one branch (bulk inserts), the last one current."""
    from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, Prompt

    now = timezone.now()
    prompts = [Prompt(content=f"Question number {i}: why is the sky blue at noon?") for i in range(length)]
    responses = [
        AIResponse(
            content="Because of Rayleigh scattering of sunlight by the molecules of the air. " * 4,
            model_name=conversation.model_name,
            status=AIResponse.Status.COMPLETE,
            done_reason="stop",
            completed_at=now,
            eval_count=60,
            prompt_eval_count=20,
        )
        for _ in range(length)
    ]
    Prompt.objects.bulk_create(prompts, batch_size=1000)
    AIResponse.objects.bulk_create(responses, batch_size=1000)
    exchanges, parent = [], None
    for position, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
        parent = ConversationPromptResponse(
            conversation=conversation, prompt=prompt, response=response, parent=parent, position=position
        )
        exchanges.append(parent)
    ConversationPromptResponse.objects.bulk_create(exchanges, batch_size=1000)
    Conversation.objects.filter(pk=conversation.pk).update(current_exchange=parent)
    conversation.refresh_from_db()
    return exchanges


def bench_branch_read() -> dict[str, float]:
    """(a) 200 exchanges through the API vs raw psycopg + json.dumps."""
    from tests.conversations_app.factories import ConversationFactory

    conversation = ConversationFactory()
    seed_branch(conversation, BRANCH_LENGTH)
    analyze()
    user = conversation.owner
    client = Client(headers={"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"})
    url = f"/api/v1/conversations/{conversation.pk}/messages/?page_size={BRANCH_LENGTH}"

    def through_api() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.content
        assert len(response.json()["results"]) == BRANCH_LENGTH

    with CaptureQueriesContext(connection) as queries:
        through_api()
    query_count = len(queries)

    settings_db = connection.settings_dict
    raw = psycopg.connect(
        host=settings_db["HOST"],
        port=settings_db["PORT"],
        user=settings_db["USER"],
        password=settings_db["PASSWORD"],
        dbname=settings_db["NAME"],
        autocommit=True,
        row_factory=dict_row,
    )

    def raw_rows() -> None:
        params = {"leaf": conversation.current_exchange_id, "user": user.pk, "limit": BRANCH_LENGTH + 1}
        rows = raw.execute(BRANCH_SQL, params).fetchall()
        assert len(rows) == BRANCH_LENGTH
        json.dumps(rows, default=str)

    try:
        api_ms = median_ms(through_api, READ_RUNS)
        raw_ms = median_ms(raw_rows, READ_RUNS)
    finally:
        raw.close()
    return {"queries": query_count, "api_ms": api_ms, "raw_ms": raw_ms, "ratio": api_ms / raw_ms}


def bench_append() -> dict[str, float]:
    """(b) exchange_start + exchange_complete at 10 vs 5,000 prior exchanges."""
    from conversations_app.services import exchange_complete, exchange_start
    from tests.conversations_app.factories import ConversationFactory

    def append_to(conversation) -> Callable[[], None]:
        def append() -> None:
            exchange = exchange_start(conversation=conversation, content="And one more question?")
            exchange_complete(exchange=exchange, content="One more answer.", metrics=METRICS)

        return append

    small, large = ConversationFactory(), ConversationFactory()
    seed_branch(small, SMALL)
    seed_branch(large, LARGE)
    analyze()
    small_ms = median_ms(append_to(small), APPEND_RUNS)
    large_ms = median_ms(append_to(large), APPEND_RUNS)
    return {"small_ms": small_ms, "large_ms": large_ms, "ratio": large_ms / small_ms}


PARTS: dict[str, Callable[[], dict[str, float]]] = {"a": bench_branch_read, "b": bench_append}


def report(results: dict[str, dict[str, float]]) -> str:
    lines = []
    if "a" in results:
        a = results["a"]
        lines += [
            f"(a) branch of {BRANCH_LENGTH} exchanges: API {a['api_ms']:.1f} ms in {a['queries']} queries, "
            f"raw psycopg + JSON {a['raw_ms']:.1f} ms, ratio {a['ratio']:.2f} (target <= 3, <= 4 queries)",
        ]
    if "b" in results:
        b = results["b"]
        lines += [
            f"(b) append at {SMALL} prior exchanges {b['small_ms']:.2f} ms, at {LARGE:,} "
            f"{b['large_ms']:.2f} ms, ratio {b['ratio']:.2f} (target <= 1.5)",
        ]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    wanted = argv or list(PARTS)
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        results = {part: PARTS[part]() for part in wanted}
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print(report(results))


if __name__ == "__main__":
    main(sys.argv[1:])
