"""History: the current branch in order, with feedback, notes and siblings, in constant queries."""

from __future__ import annotations

import pytest
from django.utils import timezone

from conversations_app.models import Conversation
from tests.conversations_app.factories import (
    ConversationFactory,
    ExchangeFactory,
    FeedbackFactory,
    NoteFactory,
    PromptFactory,
)

pytestmark = pytest.mark.django_db

# authentication (the user), the conversation, the page of exchanges
HISTORY_QUERIES = 3


def build_branch(conversation, length: int, *, parent=None) -> list:
    """`length` exchanges, each the child of the previous one; the last becomes current."""
    exchanges = []
    for index in range(length):
        parent = ExchangeFactory(
            conversation=conversation, parent=parent, prompt=PromptFactory(content=f"question {index}")
        )
        exchanges.append(parent)
    Conversation.objects.filter(pk=conversation.pk).update(current_exchange=parent)
    return exchanges


def url(conversation, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/conversations/{conversation.pk}/messages/" + (f"?{query}" if query else "")


@pytest.fixture
def conversation(user):
    return ConversationFactory(owner=user)


def test_history_is_the_current_branch_in_order_with_siblings(api_client, conversation):
    # given a branch of 3 and, at position 1, an older alternative with its own continuation
    main = build_branch(conversation, 3)
    alternative = ExchangeFactory(
        conversation=conversation, parent=main[0], prompt=PromptFactory(content="alt")
    )
    ExchangeFactory(conversation=conversation, parent=alternative)
    Conversation.objects.filter(pk=conversation.pk).update(current_exchange=main[2])

    # when
    response = api_client.get(url(conversation))

    # then
    assert response.status_code == 200
    results = response.json()["results"]
    assert [e["id"] for e in results] == [str(e.pk) for e in main]
    assert [e["position"] for e in results] == [0, 1, 2]
    assert results[1]["parent_id"] == str(main[0].pk)
    assert results[1]["siblings"] == {"ids": [str(main[1].pk), str(alternative.pk)], "index": 0, "count": 2}
    assert results[0]["siblings"]["count"] == 1
    assert results[2]["response"]["status"] == "complete"
    assert results[2]["response"]["metrics"]["eval_count"] == 42


def test_history_shows_the_callers_feedback_and_note_count_only(api_client, conversation, user, other_user):
    [first, second] = build_branch(conversation, 2)
    mine = FeedbackFactory(
        response=first.response, user=user, rating=-1, reason="inaccurate", comment="Wrong year"
    )
    FeedbackFactory(response=second.response, user=other_user)
    NoteFactory(response=first.response, owner=user)
    NoteFactory(response=first.response, owner=user)
    NoteFactory(response=first.response, owner=user, deleted_at=timezone.now())
    NoteFactory(response=second.response, owner=other_user)

    results = api_client.get(url(conversation)).json()["results"]

    assert results[0]["feedback"]["id"] == str(mine.pk)
    assert results[0]["feedback"]["rating"] == -1
    assert results[0]["feedback"]["reason"] == "inaccurate"
    assert results[0]["feedback"]["comment"] == "Wrong year"
    assert results[1]["feedback"] is None
    assert [e["note_count"] for e in results] == [2, 0]


def test_history_pages_with_a_cursor(api_client, conversation):
    exchanges = build_branch(conversation, 5)

    first = api_client.get(url(conversation, page_size=2)).json()
    second = api_client.get(first["next"]).json()
    third = api_client.get(second["next"]).json()

    pages = [first, second, third]
    assert [[e["id"] for e in page["results"]] for page in pages] == [
        [str(e.pk) for e in exchanges[0:2]],
        [str(e.pk) for e in exchanges[2:4]],
        [str(exchanges[4].pk)],
    ]
    assert third["next"] is None


def test_an_empty_conversation_has_an_empty_history(api_client, conversation):
    response = api_client.get(url(conversation))

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize("length", [5, 50])
def test_history_query_count_does_not_grow_with_the_branch(
    api_client, conversation, user, length, django_assert_num_queries
):
    exchanges = build_branch(conversation, length)
    for exchange in exchanges[::2]:
        FeedbackFactory(response=exchange.response, user=user)
        NoteFactory(response=exchange.response, owner=user)
        ExchangeFactory(conversation=conversation, parent=exchange.parent)  # a sibling

    with django_assert_num_queries(HISTORY_QUERIES):
        response = api_client.get(url(conversation, page_size=50))

    assert len(response.json()["results"]) == length


@pytest.mark.parametrize("page_size", [5, 50])
def test_history_query_count_does_not_grow_with_the_page_size(
    api_client, conversation, page_size, django_assert_num_queries
):
    build_branch(conversation, 50)

    with django_assert_num_queries(HISTORY_QUERIES):
        response = api_client.get(url(conversation, page_size=page_size))

    assert len(response.json()["results"]) == page_size


def test_another_users_history_is_404_and_anonymous_401(api_client, anon_client, other_user):
    theirs = ConversationFactory(owner=other_user)
    build_branch(theirs, 2)

    assert api_client.get(url(theirs)).status_code == 404
    assert anon_client.get(url(theirs)).status_code == 401


def test_history_writes_ids_and_instants_as_drf_does(api_client, conversation):
    # given
    [exchange] = build_branch(conversation, 1)
    exchange.refresh_from_db()

    # when
    [row] = api_client.get(url(conversation)).json()["results"]

    # then: ids as canonical strings, UTC instants in ISO 8601 ending in "Z", as every other endpoint
    assert row["id"] == str(exchange.pk)
    assert row["parent_id"] is None
    assert row["siblings"]["ids"] == [str(exchange.pk)]
    expected = exchange.created_at.isoformat().replace("+00:00", "Z")
    assert row["created_at"] == expected
    assert row["response"]["completed_at"].endswith("Z")
