"""Usage: tokens and answers by model and day, per conversation and for the caller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from conversations_app import services
from conversations_app.models import AIResponse
from tests.conversations_app.factories import ConversationFactory
from tests.conversations_app.resources import AUTH_QUERIES, BASE, add_exchange, assert_error

pytestmark = pytest.mark.django_db

ME_USAGE = "/api/v1/auth/me/usage/"


def answered(
    conversation, *, day: datetime, model: str, prompt_tokens: int, completion_tokens: int, parent=None
):
    exchange = add_exchange(
        conversation,
        parent=parent,
        model_name=model,
        prompt_eval_count=prompt_tokens,
        eval_count=completion_tokens,
    )
    AIResponse.all_objects.filter(pk=exchange.response_id).update(created_at=day)
    return exchange


DAY1 = datetime(2025, 3, 1, 10, tzinfo=UTC)
DAY2 = datetime(2025, 3, 2, 23, 59, tzinfo=UTC)


def test_conversation_usage_by_model_and_day(api_client, user, django_assert_num_queries):
    # given
    conversation = ConversationFactory(owner=user)
    first = answered(conversation, day=DAY1, model="llama3.2:3b", prompt_tokens=10, completion_tokens=20)
    answered(conversation, day=DAY1, model="llama3.2:3b", prompt_tokens=5, completion_tokens=7, parent=first)
    answered(conversation, day=DAY2, model="qwen2.5:7b", prompt_tokens=1, completion_tokens=2, parent=first)

    # when
    with django_assert_num_queries(AUTH_QUERIES + 2):  # the conversation, then one aggregate
        response = api_client.get(f"{BASE}{conversation.pk}/usage/")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["by_model_and_day"] == [
        {
            "day": "2025-03-01",
            "model": "llama3.2:3b",
            "messages": 2,
            "prompt_tokens": 15,
            "completion_tokens": 27,
            "total_tokens": 42,
        },
        {
            "day": "2025-03-02",
            "model": "qwen2.5:7b",
            "messages": 1,
            "prompt_tokens": 1,
            "completion_tokens": 2,
            "total_tokens": 3,
        },
    ]
    assert body["totals"] == {"messages": 3, "prompt_tokens": 16, "completion_tokens": 29, "total_tokens": 45}


def test_answers_still_streaming_count_with_zero_tokens(api_client, user):
    conversation = ConversationFactory(owner=user)
    exchange = add_exchange(
        conversation, status="streaming", completed_at=None, prompt_eval_count=None, eval_count=None
    )

    body = api_client.get(f"{BASE}{conversation.pk}/usage/").json()

    assert body["totals"] == {"messages": 1, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert exchange.response.status == "streaming"


def test_my_usage_spans_my_conversations_and_the_trash_but_not_other_users(api_client, user, other_user):
    # given
    today = timezone.now()
    kept = ConversationFactory(owner=user)
    answered(kept, day=today, model="llama3.2:3b", prompt_tokens=10, completion_tokens=10)
    trashed = ConversationFactory(owner=user)
    answered(trashed, day=today, model="llama3.2:3b", prompt_tokens=1, completion_tokens=1)
    services.conversation_soft_delete(conversation=trashed)
    answered(
        ConversationFactory(owner=other_user),
        day=today,
        model="llama3.2:3b",
        prompt_tokens=99,
        completion_tokens=99,
    )
    answered(
        kept, day=today - timedelta(days=45), model="llama3.2:3b", prompt_tokens=50, completion_tokens=50
    )

    # when
    response = api_client.get(ME_USAGE)

    # then
    assert response.status_code == 200
    assert response.json()["by_model_and_day"] == [
        {
            "day": today.date().isoformat(),
            "model": "llama3.2:3b",
            "messages": 2,
            "prompt_tokens": 11,
            "completion_tokens": 11,
            "total_tokens": 22,
        }
    ]


def test_my_usage_for_a_date_range_in_one_aggregate_each(api_client, user, django_assert_num_queries):
    conversation = ConversationFactory(owner=user)
    answered(conversation, day=DAY1, model="a:1", prompt_tokens=1, completion_tokens=1)
    answered(conversation, day=DAY2, model="b:1", prompt_tokens=2, completion_tokens=2)
    answered(conversation, day=DAY2 + timedelta(days=1), model="b:1", prompt_tokens=4, completion_tokens=4)

    with django_assert_num_queries(AUTH_QUERIES + 2):  # answers; API use
        response = api_client.get(ME_USAGE, {"date_from": "2025-03-01", "date_to": "2025-03-02"})

    assert [(r["day"], r["model"]) for r in response.json()["by_model_and_day"]] == [
        ("2025-03-01", "a:1"),
        ("2025-03-02", "b:1"),
    ]
    assert response.json()["totals"]["total_tokens"] == 6


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "yesterday"},
        {"date_to": "2025-13-01"},
        {"date_from": "2025-03-02", "date_to": "2025-03-01"},
    ],
)
def test_bad_dates_are_400(api_client, params):
    assert_error(api_client.get(ME_USAGE, params), 400, "invalid")


@pytest.mark.parametrize(
    "params",
    [
        {"date_to": "0001-01-05"},  # 30 days back would be before the year 1
        {"date_from": "0001-01-01", "date_to": "0001-01-01"},
        {"date_to": "9999-12-31"},
        {"date_from": "9999-12-31"},
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_answered(api_client, user, params):
    answered(ConversationFactory(owner=user), day=DAY1, model="a:1", prompt_tokens=1, completion_tokens=1)

    response = api_client.get(ME_USAGE, params)

    assert response.status_code == 200, response.content
    assert response.json()["by_model_and_day"] == []


def test_another_users_conversation_usage_is_404(api_client, other_user):
    theirs = ConversationFactory(owner=other_user)

    assert_error(api_client.get(f"{BASE}{theirs.pk}/usage/"), 404)


def test_anonymous_caller_gets_401(anon_client, user):
    conversation = ConversationFactory(owner=user)

    assert_error(anon_client.get(ME_USAGE), 401)
    assert_error(anon_client.get(f"{BASE}{conversation.pk}/usage/"), 401)


def test_my_usage_shows_api_use_by_key_and_day(api_client, user, other_user):
    from auth_app.services.api_keys import create_api_key
    from auth_app.services.quotas import record_usage

    key, _ = create_api_key(user, name="script")
    record_usage(user, key, prompt_tokens=5, eval_tokens=7)
    record_usage(user, key, prompt_tokens=1, eval_tokens=1)
    record_usage(user, None, prompt_tokens=2, eval_tokens=3)
    record_usage(other_user, None, prompt_tokens=100, eval_tokens=100)

    body = api_client.get(ME_USAGE).json()

    assert body["api_totals"] == {"requests": 3, "prompt_tokens": 8, "eval_tokens": 11}
    rows = {(row["api_key"] or {}).get("name"): row for row in body["api_by_key_and_day"]}
    assert rows["script"]["requests"] == 2
    assert rows["script"]["api_key"]["prefix"] == key.prefix
    assert rows[None]["prompt_tokens"] == 2
