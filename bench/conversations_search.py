"""Conversation search benchmark (SPEC §7), on a throw-away database.

    .venv/bin/python bench/conversations_search.py [--messages 100000]

Seeds one user's history of 100,000 messages (50,000 prompts and 50,000 answers in 1,000
conversations) plus 20,000 messages of other users, written from a Zipf-distributed vocabulary so
that some words are rare and some are in a good share of all messages. Then it times
`GET /api/v1/conversations/search/?q=` (authentication, SQL, ranking, snippets, JSON) for a mix of
rare, medium and common words, two-word queries, phrases and exclusions, and prints p50/p95 and the
query plan of a common word. Target: p50 <= 30 ms, p95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("TEST_DATABASE_NAME", "bench_ollamanet_search")

import django

django.setup()

from _text import QUERIES, sentence, zipf_weights  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402

EXCHANGES_PER_CONVERSATION = 50
OTHER_USERS = 4
RUNS_PER_QUERY = 25
PAGE = 20


def seed(*, owner, model, messages: int, rng: random.Random) -> None:
    """`messages` messages (half prompts, half answers) in branches of EXCHANGES_PER_CONVERSATION."""
    from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, Prompt

    weights = zipf_weights()
    exchanges = messages // 2
    now = timezone.now()
    for start in range(0, exchanges, EXCHANGES_PER_CONVERSATION):
        conversation = Conversation.objects.create(
            owner=owner, model=model, model_name=model.name, title=sentence(rng, weights, 6)[:60]
        )
        count = min(EXCHANGES_PER_CONVERSATION, exchanges - start)
        prompts = Prompt.objects.bulk_create(
            Prompt(content=sentence(rng, weights, rng.randint(8, 30))) for _ in range(count)
        )
        responses = AIResponse.objects.bulk_create(
            AIResponse(
                content=" ".join(
                    sentence(rng, weights, rng.randint(10, 25)) for _ in range(rng.randint(2, 6))
                ),
                model_name=model.name,
                status=AIResponse.Status.COMPLETE,
                completed_at=now,
                eval_count=120,
                prompt_eval_count=30,
            )
            for _ in range(count)
        )
        parent, rows = None, []
        for position, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
            parent = ConversationPromptResponse(
                conversation=conversation, prompt=prompt, response=response, parent=parent, position=position
            )
            rows.append(parent)
        ConversationPromptResponse.objects.bulk_create(rows)
        Conversation.objects.filter(pk=conversation.pk).update(current_exchange=parent, message_count=count)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(messages: int) -> None:
    from conversations_app.selectors import message_search_statement
    from tests.auth_app.factories import UserFactory
    from tests.models_app.factories import AIModelFactory

    rng = random.Random(20240517)  # noqa: S311 - reproducible test data, not secrets
    model = AIModelFactory(name="llama3.2:3b")
    user = UserFactory()
    started = time.perf_counter()
    seed(owner=user, model=model, messages=messages, rng=rng)
    for _ in range(OTHER_USERS):
        seed(owner=UserFactory(), model=model, messages=messages // (5 * OTHER_USERS), rng=rng)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"seeded {messages:,} messages of the searching user (+{messages // 5:,} of others) "
        f"in {time.perf_counter() - started:.0f} s"
    )

    client = Client(headers={"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"})
    samples: list[float] = []
    by_kind: dict[str, list[float]] = {}
    for kind, query in QUERIES:
        client.get("/api/v1/conversations/search/", {"q": query, "limit": str(PAGE)})  # warm up
        for _ in range(RUNS_PER_QUERY):
            t0 = time.perf_counter()
            response = client.get("/api/v1/conversations/search/", {"q": query, "limit": str(PAGE)})
            elapsed = (time.perf_counter() - t0) * 1000
            assert response.status_code == 200, response.content
            samples.append(elapsed)
            by_kind.setdefault(kind, []).append(elapsed)

    with connection.cursor() as cursor:
        counts = {}
        sql, params = message_search_statement(owner=user, query="python", limit=PAGE)
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        for _, query in QUERIES:
            cursor.execute(
                "SELECT (SELECT count(*) FROM conversations_app_prompt WHERE search_vector @@ q)"
                " + (SELECT count(*) FROM conversations_app_airesponse WHERE search_vector @@ q)"
                " FROM websearch_to_tsquery('english', %s) q",
                [query],
            )
            counts[query] = cursor.fetchone()[0]

    print(f"search over {messages:,} messages, {len(samples)} requests through the API, page of {PAGE}:")
    print(
        f"  p50 {statistics.median(samples):.1f} ms, p95 {percentile(samples, 0.95):.1f} ms "
        "(target p50 <= 30 ms, p95 <= 100 ms)"
    )
    for kind, kind_samples in by_kind.items():
        p50, p95 = statistics.median(kind_samples), percentile(kind_samples, 0.95)
        print(f"  {kind:<12} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    print("  matching messages per query: " + ", ".join(f"{q} {n:,}" for q, n in counts.items()))
    print("plan of a common word:\n" + plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="leave the benchmark database for inspection")
    args = parser.parse_args()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args.messages)
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
