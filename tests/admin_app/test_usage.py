"""Staff API, usage statistics: answers, tokens and generation speed per day by model or by user, and
feedback per model — on a fixture whose figures are computed by hand below."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from conversations_app.models import AIResponse, Feedback
from tests.auth_app.factories import UserFactory
from tests.conftest import client_for
from tests.conversations_app.factories import ExchangeFactory, FeedbackFactory

pytestmark = pytest.mark.django_db

USAGE_URL = reverse("admin-usage")
FEEDBACK_URL = reverse("admin-usage-feedback")
RANGE = {"date_from": "2026-03-01", "date_to": "2026-03-02"}
SECOND = 1_000_000_000


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0, month: int = 3) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, second, tzinfo=datetime.UTC)


def answer(owner, model_name: str, when: datetime.datetime, prompt: int, completion: int, ns: int | None):
    """An exchange whose answer carries these metrics, dated `when`."""
    exchange = ExchangeFactory(
        conversation__owner=owner,
        response__model_name=model_name,
        response__prompt_eval_count=prompt,
        response__eval_count=completion,
        response__eval_duration=ns,
    )
    AIResponse.all_objects.filter(pk=exchange.response_id).update(created_at=when)
    return exchange.response


def rate(response, rating, when: datetime.datetime, **fields) -> Feedback:
    feedback = FeedbackFactory(response=response, rating=rating, **fields)
    Feedback.all_objects.filter(pk=feedback.pk).update(created_at=when)
    return feedback


@pytest.fixture
def usage():
    """Five answers on 1 and 2 March 2026 (UTC), two just outside, and feedback on them:

    | day   | user  | model      | prompt | completion | generation time |
    | 03-01 | alice | llama3.2   |     10 |        100 | 2 s             |
    | 03-01 | alice | llama3.2   |     20 |         50 | 1 s             |
    | 03-01 | bob   | mistral    |      5 |         30 | (none)          |
    | 03-02 | bob   | llama3.2   |      7 |         70 | 0.5 s           |
    | 03-02 | alice | mistral    |      3 |         12 | 0.25 s          |
    | 02-28 23:59:59 and 03-03 00:00:00: 1000 tokens each, outside the range |
    """
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    first = answer(alice, "llama3.2:3b", at(1, 0, 0, 0), 10, 100, 2 * SECOND)
    answer(alice, "llama3.2:3b", at(1, 23, 59, 59), 20, 50, 1 * SECOND)
    third = answer(bob, "mistral:7b", at(1), 5, 30, None)
    fourth = answer(bob, "llama3.2:3b", at(2), 7, 70, SECOND // 2)
    answer(alice, "mistral:7b", at(2, 8), 3, 12, SECOND // 4)
    outside = answer(alice, "llama3.2:3b", at(28, 23, 59, 59, month=2), 1000, 1000, SECOND)
    answer(bob, "mistral:7b", at(3, 0), 1000, 1000, SECOND)
    # feedback: llama3.2 up, up, down; mistral down; one deleted and one outside the range do not count
    rate(first, Feedback.Rating.UP, at(1))
    rate(first, Feedback.Rating.DOWN, at(1), user=bob)
    rate(fourth, Feedback.Rating.UP, at(2))
    rate(third, Feedback.Rating.DOWN, at(2))
    rate(fourth, Feedback.Rating.DOWN, at(2), user=alice, deleted_at=timezone.now())
    rate(outside, Feedback.Rating.UP, at(28, month=2))
    return {"alice": alice, "bob": bob}


# --- who may call it ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [USAGE_URL, FEEDBACK_URL])
def test_only_the_admin_role_may_read_usage(anon_client, api_client, request, url):
    assert anon_client.get(url).status_code == 401
    assert api_client.get(url).status_code == 403
    for role in ("admin_user", "superuser"):
        assert client_for(request.getfixturevalue(role)).get(url).status_code == 200


# --- usage ---------------------------------------------------------------------------------------------


def test_usage_by_model_matches_the_hand_computed_figures(admin_client_api, usage):
    response = admin_client_api.get(USAGE_URL, {**RANGE, "group_by": "model"})

    body = response.json()
    assert (body["date_from"], body["date_to"], body["group_by"], body["count"]) == (
        "2026-03-01",
        "2026-03-02",
        "model",
        4,
    )
    assert [
        (r["day"], r["model"], r["messages"], r["prompt_tokens"], r["completion_tokens"], r["total_tokens"])
        for r in body["results"]
    ] == [
        ("2026-03-01", "llama3.2:3b", 2, 30, 150, 180),
        ("2026-03-01", "mistral:7b", 1, 5, 30, 35),
        ("2026-03-02", "llama3.2:3b", 1, 7, 70, 77),
        ("2026-03-02", "mistral:7b", 1, 3, 12, 15),
    ]
    # tokens over generation time: 150 / 3 s, none timed, 70 / 0.5 s, 12 / 0.25 s
    assert [r["tokens_per_second"] for r in body["results"]] == [50.0, None, 140.0, 48.0]
    assert all(r["user"] is None for r in body["results"])
    # 232 timed tokens in 3.75 s
    assert body["totals"] == {
        "messages": 5,
        "prompt_tokens": 45,
        "completion_tokens": 262,
        "total_tokens": 307,
        "tokens_per_second": 61.87,
        "users": 2,
        "models": 2,
    }


def test_usage_by_user_matches_the_hand_computed_figures(admin_client_api, usage):
    response = admin_client_api.get(USAGE_URL, {**RANGE, "group_by": "user"})

    rows = response.json()["results"]
    assert [
        (
            r["day"],
            r["user"]["username"],
            r["messages"],
            r["prompt_tokens"],
            r["completion_tokens"],
            r["tokens_per_second"],
        )
        for r in rows
    ] == [
        ("2026-03-01", "alice", 2, 30, 150, 50.0),
        ("2026-03-01", "bob", 1, 5, 30, None),
        ("2026-03-02", "alice", 1, 3, 12, 48.0),
        ("2026-03-02", "bob", 1, 7, 70, 140.0),
    ]
    assert rows[0]["user"]["id"] == str(usage["alice"].pk)
    assert rows[0]["model"] is None


def test_answers_in_the_trash_still_count(admin_client_api, usage):
    AIResponse.objects.all().update(deleted_at=timezone.now())

    response = admin_client_api.get(USAGE_URL, RANGE)

    assert response.json()["totals"]["messages"] == 5


def test_without_dates_the_last_30_days_are_reported(admin_client_api, usage):
    answer(usage["bob"], "phi3:mini", timezone.now(), 4, 40, SECOND)
    answer(usage["bob"], "phi3:mini", timezone.now() - datetime.timedelta(days=30), 4, 40, SECOND)

    body = admin_client_api.get(USAGE_URL).json()

    today = timezone.now().date()
    assert (body["date_from"], body["date_to"]) == (str(today - datetime.timedelta(days=29)), str(today))
    assert [(r["model"], r["messages"]) for r in body["results"]] == [("phi3:mini", 1)]


@pytest.mark.parametrize("page_size", [1, 3])
def test_usage_pages_in_constant_queries(admin_client_api, usage, page_size, django_assert_num_queries):
    # authentication, Admin role, totals, count, one page
    with django_assert_num_queries(5):
        response = admin_client_api.get(USAGE_URL, {**RANGE, "page_size": page_size})

    body = response.json()
    assert body["count"] == 4
    assert len(body["results"]) == page_size
    assert body["totals"]["messages"] == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2026-13-01"}, "date_to"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_from"),
        ({"date_from": "2025-02-28", "date_to": "2026-03-01"}, "date_from"),
        ({"group_by": "day"}, "group_by"),
        (
            {"date_from": "9999-12-30", "date_to": "9999-12-31"},
            "date_to",
        ),  # its end, the midnight after, is no date
        ({"date_to": "9999-12-31"}, "date_to"),
    ],
)
def test_bad_ranges_and_groupings_are_a_400(admin_client_api, params, field):
    response = admin_client_api.get(USAGE_URL, params)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize("url", [USAGE_URL, FEEDBACK_URL])
@pytest.mark.parametrize(
    ("params", "start", "end"),
    [
        ({"date_to": "0001-01-05"}, "0001-01-01", "0001-01-05"),  # 30 days back would be before the year 1
        ({"date_from": "0001-01-01", "date_to": "0001-01-01"}, "0001-01-01", "0001-01-01"),
        ({"date_from": "9999-12-30", "date_to": "9999-12-30"}, "9999-12-30", "9999-12-30"),
    ],
)
def test_ranges_at_the_ends_of_the_calendar_are_answered(admin_client_api, url, params, start, end):
    response = admin_client_api.get(url, params)

    assert response.status_code == 200, response.content
    if url == USAGE_URL:
        assert (response.json()["date_from"], response.json()["date_to"]) == (start, end)


def test_a_range_of_366_days_is_allowed(admin_client_api, usage):
    response = admin_client_api.get(USAGE_URL, {"date_from": "2025-03-02", "date_to": "2026-03-02"})

    assert response.status_code == 200
    assert response.json()["totals"]["messages"] == 6


# --- feedback ------------------------------------------------------------------------------------------


def test_feedback_per_model_matches_the_hand_computed_figures(admin_client_api, usage):
    response = admin_client_api.get(FEEDBACK_URL, RANGE)

    body = response.json()
    assert [(r["model"], r["up"], r["down"], r["total"], r["up_ratio"]) for r in body["results"]] == [
        ("llama3.2:3b", 2, 1, 3, 0.6667),
        ("mistral:7b", 0, 1, 1, 0.0),
    ]
    assert body["totals"] == {"up": 2, "down": 2, "total": 4, "up_ratio": 0.5}


def test_feedback_without_any_has_no_ratio(admin_client_api):
    body = admin_client_api.get(FEEDBACK_URL, RANGE).json()

    assert body["results"] == []
    assert body["totals"] == {"up": 0, "down": 0, "total": 0, "up_ratio": None}


@pytest.mark.parametrize("page_size", [1, 2])
def test_feedback_pages_in_constant_queries(admin_client_api, usage, page_size, django_assert_num_queries):
    # authentication, Admin role, totals, count, one page
    with django_assert_num_queries(5):
        response = admin_client_api.get(FEEDBACK_URL, {**RANGE, "page_size": page_size})

    assert response.json()["count"] == 2
    assert len(response.json()["results"]) == page_size


@pytest.mark.parametrize(
    "params", [{"date_from": "soon"}, {"date_from": "2026-03-05", "date_to": "2026-03-01"}]
)
def test_feedback_refuses_bad_ranges(admin_client_api, params):
    assert admin_client_api.get(FEEDBACK_URL, params).status_code == 400
