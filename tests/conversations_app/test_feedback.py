"""Feedback on an answer: one alive thumbs up/down per user and answer, changed with If-Match,
withdrawn and given again; only on the caller's own answers."""

from __future__ import annotations

import pytest
from django.utils import timezone

from conversations_app.models import Feedback
from tests.conversations_app.factories import ConversationFactory, FeedbackFactory
from tests.conversations_app.resources import AUTH_QUERIES, BASE, add_exchange, assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def answer(user):
    return add_exchange(ConversationFactory(owner=user)).response


def url(response) -> str:
    return f"{BASE}responses/{response.pk}/feedback/"


def test_rate_an_answer(api_client, user, answer):
    response = api_client.post(
        url(answer), {"rating": -1, "reason": "inaccurate", "comment": "Wrong year."}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["rating"] == -1
    assert response.json()["reason"] == "inaccurate"
    assert response["ETag"] == '"1"'
    feedback = Feedback.objects.get(response=answer, user=user)
    assert (feedback.rating, feedback.comment) == (-1, "Wrong year.")


def test_rating_twice_is_409_and_keeps_the_first(api_client, user, answer):
    api_client.post(url(answer), {"rating": 1}, format="json")

    response = api_client.post(url(answer), {"rating": -1}, format="json")

    assert_error(response, 409, "feedback_exists")
    assert list(Feedback.objects.filter(response=answer).values_list("rating", flat=True)) == [1]


def test_read_own_feedback_in_constant_queries(api_client, user, answer, django_assert_num_queries):
    FeedbackFactory(response=answer, user=user, rating=1, reason="helpful")

    with django_assert_num_queries(AUTH_QUERIES + 1):
        response = api_client.get(url(answer))

    assert response.status_code == 200
    assert response.json()["reason"] == "helpful"
    assert response["ETag"] == '"1"'


def test_no_feedback_yet_is_404(api_client, answer):
    assert_error(api_client.get(url(answer)), 404)


def test_change_with_if_match(api_client, user, answer):
    FeedbackFactory(response=answer, user=user, rating=1)

    changed = api_client.patch(
        url(answer), {"rating": -1, "comment": "On reflection, no."}, format="json", HTTP_IF_MATCH='"1"'
    )
    stale = api_client.patch(url(answer), {"rating": 1}, format="json", HTTP_IF_MATCH='"1"')

    assert changed.status_code == 200
    assert changed["ETag"] == '"2"'
    assert_error(stale, 412)
    feedback = Feedback.objects.get(response=answer)
    assert (feedback.rating, feedback.comment, feedback.version) == (-1, "On reflection, no.", 2)


def test_withdraw_then_rate_again(api_client, user, answer):
    FeedbackFactory(response=answer, user=user, rating=1)

    withdrawn = api_client.delete(url(answer))
    again = api_client.post(url(answer), {"rating": -1}, format="json")

    assert withdrawn.status_code == 204
    assert again.status_code == 201
    assert Feedback.all_objects.filter(response=answer).count() == 2
    assert Feedback.objects.get(response=answer).rating == -1


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"rating": 0},
        {"rating": 2},
        {"rating": "up"},
        {"rating": None},
        {"rating": 1, "reason": "boring"},
        {"rating": 1, "comment": "x" * 2001},
        {"rating": 1, "comment": ["a"]},
        {"rating": 1, "user": "someone"},
    ],
)
def test_rate_with_bad_input_is_400_and_writes_nothing(api_client, answer, payload):
    assert_error(api_client.post(url(answer), payload, format="json"), 400)
    assert not Feedback.all_objects.filter(response=answer).exists()


@pytest.mark.parametrize("payload", [{"rating": 5}, {"reason": "meh"}, {"comment": "x" * 2001}, {"extra": 1}])
def test_change_with_bad_input_is_400_and_changes_nothing(api_client, user, answer, payload):
    FeedbackFactory(response=answer, user=user, rating=1, comment="Kept")

    assert_error(api_client.patch(url(answer), payload, format="json"), 400)
    feedback = Feedback.objects.get(response=answer)
    assert (feedback.rating, feedback.comment, feedback.version) == (1, "Kept", 1)


def test_unknown_or_deleted_answer_is_404(api_client, user):
    gone = add_exchange(ConversationFactory(owner=user, deleted_at=timezone.now())).response

    assert_error(api_client.post(url(gone), {"rating": 1}, format="json"), 404)
    assert_error(
        api_client.post(f"{BASE}responses/00000000-0000-0000-0000-000000000000/feedback/", {"rating": 1}),
        404,
    )
    assert not Feedback.all_objects.exists()


def test_another_users_answer_is_404_for_every_method_and_unchanged(api_client, other_user):
    theirs = add_exchange(ConversationFactory(owner=other_user)).response
    FeedbackFactory(response=theirs, user=other_user, rating=1, comment="Theirs")

    responses = [
        api_client.get(url(theirs)),
        api_client.post(url(theirs), {"rating": -1}, format="json"),
        api_client.patch(url(theirs), {"rating": -1}, format="json"),
        api_client.delete(url(theirs)),
    ]

    for response in responses:
        assert_error(response, 404)
    feedback = Feedback.all_objects.get(response=theirs)
    assert (feedback.rating, feedback.comment, feedback.deleted_at) == (1, "Theirs", None)
    assert Feedback.all_objects.count() == 1


def test_anonymous_caller_gets_401(anon_client, user, answer):
    FeedbackFactory(response=answer, user=user)

    for response in [
        anon_client.get(url(answer)),
        anon_client.post(url(answer), {"rating": 1}, format="json"),
        anon_client.patch(url(answer), {"rating": -1}, format="json"),
        anon_client.delete(url(answer)),
    ]:
        assert_error(response, 401)
    assert Feedback.objects.get(response=answer).rating == 1
