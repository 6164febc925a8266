"""The leaderboard: ratings from thumbs and kept regenerations, worked out by hand on small examples,
the cap on one account's weight, the period and tag filters, staff refreshes, caching and query counts.

The numbers below come from the definitions in explore_app/rating.py:
- thumbs only, against PAR (rated 1000, strength 1) with the virtual draw: wins w = ups + 0.5,
  losses l = downs + 0.5, so the Bradley-Terry strength is p = w / l and elo = 1000 + 400·log10(p);
- two models A and B with no votes, A kept over B 3 times and B over A once: by symmetry
  p_B = 1 / p_A = 1 / x, and the likelihood equation of A, 3.5 = 4·x²/(x² + 1) + x/(x + 1), has the root
  x = 1.6071195 (bisection), so elo(A) = 1000 + 400·log10(x) = 1082.42 and elo(B) = 917.58;
- win rate 3/4 = 0.75; its 95 % Wilson interval with n = 4, z = 1.96: centre (0.75 + z²/8)/(1 + z²/4)
  = 0.62753, half-width z·sqrt(0.75·0.25/4 + z²/64)/(1 + z²/4) = 0.32689, so [0.3006, 0.9544].
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from admin_app.models import AuditEvent
from conversations_app import services as conversation_services
from conversations_app.models import AIResponse, ConversationPromptResponse
from explore_app import rating
from explore_app.models import LeaderboardEntry
from explore_app.services import leaderboard_refresh
from explore_app.tasks import refresh_leaderboard
from tests.auth_app.factories import UserFactory
from tests.conftest import client_for
from tests.conversations_app.factories import ConversationFactory, FeedbackFactory
from tests.conversations_app.resources import add_exchange
from tests.fakes.redis import closed_port, point_cache_at
from tests.models_app.factories import AIModelFactory, TagFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/explore/leaderboard/"
REFRESH = "/api/v1/explore/leaderboard/refresh/"


@pytest.fixture
def alpha():
    return AIModelFactory(name="alpha:7b")


@pytest.fixture
def beta():
    return AIModelFactory(name="beta:7b")


def compare(user, kept, other, *, days_ago: int = 0) -> ConversationPromptResponse:
    """`user` regenerated an answer of `other` with `kept` and kept the new one (the current branch)."""
    conversation = ConversationFactory(owner=user, model=kept)
    first = add_exchange(conversation, answer=f"by {other.name}", model_name=other.name, current=False)
    second = add_exchange(conversation, answer=f"by {kept.name}", model_name=kept.name)
    if days_ago:
        when = timezone.now() - timedelta(days=days_ago)
        ConversationPromptResponse.objects.filter(pk__in=[first.pk, second.pk]).update(created_at=when)
    return second


def vote(user, model, rating_value: int, *, days_ago: int = 0) -> None:
    conversation = ConversationFactory(owner=user, model=model)
    exchange = add_exchange(conversation, model_name=model.name)
    feedback = FeedbackFactory(response=exchange.response, user=user, rating=rating_value)
    if days_ago:
        type(feedback).objects.filter(pk=feedback.pk).update(
            created_at=timezone.now() - timedelta(days=days_ago)
        )


def rows(client, **params) -> list[dict]:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def by_name(results: list[dict]) -> dict[str, dict]:
    return {row["model"]["name"]: row for row in results}


# --- the numbers, by hand ---------------------------------------------------------------------------


def test_thumbs_only(anon_client, alpha):
    for _ in range(3):
        vote(UserFactory(), alpha, 1)
    vote(UserFactory(), alpha, -1)
    leaderboard_refresh()

    [row] = rows(anon_client)

    # p = 3.5 / 1.5; 1000 + 400·log10(7/3) = 1147.19
    assert row["elo"] == 1147.2
    assert (row["thumbs_up"], row["thumbs_down"], row["comparisons"]) == (3, 1, 0)
    assert row["win_rate"] is row["confidence"] is row["consistency"] is None
    assert row["rank"] == 1


def test_kept_regenerations_between_two_models(anon_client, alpha, beta):
    for _ in range(3):
        compare(UserFactory(), alpha, beta)
    compare(UserFactory(), beta, alpha)
    leaderboard_refresh()

    results = rows(anon_client)

    assert [row["model"]["name"] for row in results] == ["alpha:7b", "beta:7b"]
    alpha_row, beta_row = results
    assert (alpha_row["elo"], beta_row["elo"]) == (1082.4, 917.6)
    assert (alpha_row["win_rate"], beta_row["win_rate"]) == (0.75, 0.25)
    assert alpha_row["confidence"] == {"low": 0.3006, "high": 0.9544}
    assert beta_row["confidence"] == {"low": 0.0456, "high": 0.6994}
    assert (alpha_row["comparisons"], beta_row["comparisons"]) == (4, 4)
    assert (alpha_row["rank"], beta_row["rank"]) == (1, 2)


def test_one_account_weighs_at_most_three_comparisons_per_pair_and_three_votes_per_model(
    anon_client, alpha, beta
):
    # given: one account keeps alpha over beta 8 times and rates alpha's answers up 6 times; another
    # keeps beta over alpha once
    stuffer = UserFactory()
    for _ in range(8):
        compare(stuffer, alpha, beta)
    compare(UserFactory(), beta, alpha)
    gamma = AIModelFactory(name="gamma:7b")
    for _ in range(6):
        vote(stuffer, gamma, 1)
    leaderboard_refresh()

    found = by_name(rows(anon_client))

    # then: the 8 comparisons weigh 3, which gives the numbers of 3 accounts against 1 (see above) ...
    assert (found["alpha:7b"]["elo"], found["beta:7b"]["elo"]) == (1082.4, 917.6)
    assert found["alpha:7b"]["win_rate"] == 0.75
    assert found["alpha:7b"]["comparisons"] == 9
    # ... and the 6 votes weigh 3: p = 3.5 / 0.5 = 7, 1000 + 400·log10(7) = 1338.04
    assert found["gamma:7b"]["elo"] == 1338.0
    assert found["gamma:7b"]["thumbs_up"] == 6


def test_a_user_split_between_two_sides_keeps_the_split_when_capped():
    records = rating.tally(
        comparisons=[("u", "a", "b", False)] * 4 + [("u", "b", "a", False)] * 2,
        votes=[("u", "c", 4, 2)],
    )

    # 6 comparisons scaled to 3: 2 wins for a, 1 for b; 6 votes scaled to 3: 2 up, 1 down
    assert (records["a"].wins, records["a"].losses) == pytest.approx((2.0, 1.0))
    assert (records["c"].up_weight, records["c"].down_weight) == pytest.approx((2.0, 1.0))


def test_regenerations_by_the_same_model_count_only_towards_its_consistency(anon_client, alpha):
    compare(UserFactory(), alpha, alpha)  # the retry was kept
    kept = compare(UserFactory(), alpha, alpha)
    # the other user went back to the first answer
    first = (
        ConversationPromptResponse.objects.filter(conversation=kept.conversation).exclude(pk=kept.pk).get()
    )
    conversation_services.conversation_switch_branch(conversation=kept.conversation, exchange=first)
    leaderboard_refresh()

    [row] = rows(anon_client)

    assert (row["self_comparisons"], row["consistency"]) == (2, 0.5)
    assert (row["elo"], row["comparisons"], row["win_rate"]) == (1000.0, 0, None)


def test_failed_or_deleted_answers_and_deleted_conversations_do_not_count(anon_client, alpha, beta):
    failed = compare(UserFactory(), alpha, beta)
    AIResponse.objects.filter(exchange__conversation=failed.conversation, model_name="beta:7b").update(
        status="failed"
    )
    deleted = compare(UserFactory(), alpha, beta)
    conversation_services.conversation_soft_delete(conversation=deleted.conversation)
    leaderboard_refresh()

    assert rows(anon_client) == []


def test_the_fit_does_not_depend_on_the_order_of_the_games():
    games = [
        ("u1", "a", "b", False),
        ("u2", "b", "c", False),
        ("u3", "c", "a", True),
        ("u4", "a", "c", False),
    ]
    votes = [("u1", "a", 1, 0), ("u2", "c", 0, 2)]
    expected = rating.fit_ratings(rating.tally(comparisons=games, votes=votes))

    for order in itertools.permutations(games):
        fitted = rating.fit_ratings(rating.tally(comparisons=list(order), votes=list(reversed(votes))))
        assert fitted == pytest.approx(expected, abs=1e-6)
    assert sum(expected.values()) != 3000  # real differences, not a flat field


def test_the_wilson_interval():
    assert rating.wilson_interval(3, 4) == pytest.approx((0.30064, 0.95441), abs=1e-5)
    assert rating.wilson_interval(0, 0) is None
    assert rating.wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-5)


# --- filters ----------------------------------------------------------------------------------------


def test_periods(anon_client, alpha, beta):
    compare(UserFactory(), alpha, beta, days_ago=10)
    vote(UserFactory(), beta, 1, days_ago=40)
    leaderboard_refresh()

    assert rows(anon_client, period="7d") == []
    assert [row["model"]["name"] for row in rows(anon_client, period="30d")] == ["alpha:7b", "beta:7b"]
    assert by_name(rows(anon_client, period="30d"))["beta:7b"]["thumbs_up"] == 0
    assert by_name(rows(anon_client, period="all"))["beta:7b"]["thumbs_up"] == 1
    assert anon_client.get(URL).json()["period"] == "all"


def test_tag_filter_keeps_the_overall_rank(anon_client, alpha, beta):
    code = TagFactory(name="code", slug="code")
    beta_tagged = AIModelFactory(name="beta2:7b", tags=[code])
    compare(UserFactory(), alpha, beta_tagged)
    compare(UserFactory(), alpha, beta_tagged)
    compare(UserFactory(), alpha, beta)
    leaderboard_refresh()

    results = rows(anon_client, tag="code")

    assert [(row["model"]["name"], row["rank"]) for row in results] == [("beta2:7b", 3)]
    assert rows(anon_client, tag="nothing-like-it") == []


def test_unpublished_models_are_not_shown(anon_client, alpha, beta):
    compare(UserFactory(), alpha, beta)
    leaderboard_refresh()
    type(beta).objects.filter(pk=beta.pk).update(is_active=False)
    leaderboard_refresh()  # the refresh invalidates the cache

    assert [row["model"]["name"] for row in rows(anon_client)] == ["alpha:7b"]


@pytest.mark.parametrize("params", [{"period": "1y"}, {"page_size": "x"}, {"page": 0}, {"tag": "not a slug"}])
def test_bad_parameters_are_400(anon_client, params):
    response = anon_client.get(URL, params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_before_the_first_computation_the_leaderboard_is_empty(anon_client):
    body = anon_client.get(URL).json()

    assert (body["results"], body["computed_at"], body["count"]) == ([], None, 0)


# --- reading ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 20])
def test_read_in_constant_queries_and_from_the_cache(
    anon_client, alpha, beta, page_size, django_assert_num_queries
):
    compare(UserFactory(), alpha, beta)
    for index in range(3):
        compare(UserFactory(), AIModelFactory(name=f"m{index}:1b"), beta)
    leaderboard_refresh()

    # a cold cache: the count and the page of rows with their models
    with django_assert_num_queries(2):
        first = anon_client.get(URL, {"page_size": page_size})
    with django_assert_num_queries(0):
        again = anon_client.get(URL, {"page_size": page_size}, HTTP_IF_NONE_MATCH=first["ETag"])

    assert len(first.json()["results"]) == min(page_size, 5)
    assert first.json()["computed_at"] is not None
    assert first["X-Cache"] == "MISS"
    assert again.status_code == 304


def test_refreshing_is_idempotent(alpha, beta):
    compare(UserFactory(), alpha, beta)
    now = timezone.now()

    leaderboard_refresh(now=now)
    first = list(LeaderboardEntry.objects.order_by("period", "rank").values("period", "model", "elo", "rank"))
    refresh_leaderboard.delay()
    leaderboard_refresh(now=now)

    assert (
        list(LeaderboardEntry.objects.order_by("period", "rank").values("period", "model", "elo", "rank"))
        == first
    )
    assert len(first) == 6  # two models in each of the three periods


# --- staff refresh ----------------------------------------------------------------------------------


def test_staff_can_recompute_on_demand_and_it_is_audited(
    admin_client_api, admin_user, anon_client, alpha, beta
):
    compare(UserFactory(), alpha, beta)

    response = admin_client_api.post(REFRESH)

    assert response.status_code == 202
    assert [row["model"]["name"] for row in rows(anon_client)] == ["alpha:7b", "beta:7b"]
    event = AuditEvent.objects.get(action="leaderboard_refresh_requested")
    assert event.actor_id == admin_user.pk


def test_only_staff_may_recompute(api_client, anon_client):
    assert api_client.post(REFRESH).status_code == 403
    assert anon_client.post(REFRESH).status_code == 401
    assert not LeaderboardEntry.objects.exists()
    assert not AuditEvent.objects.filter(action="leaderboard_refresh_requested").exists()


def test_signed_in_callers_see_the_same_leaderboard(anon_client, user, alpha, beta):
    compare(UserFactory(), alpha, beta)
    leaderboard_refresh()

    assert client_for(user).get(URL).json() == anon_client.get(URL).json()


def test_with_redis_down_the_leaderboard_is_read_from_postgresql(anon_client, settings, alpha, beta):
    compare(UserFactory(), alpha, beta)
    leaderboard_refresh()
    expected = anon_client.get(URL).json()
    point_cache_at(settings, closed_port())

    response = anon_client.get(URL)

    assert response.status_code == 200
    assert response["X-Cache"] == "MISS"
    assert response.json() == expected
