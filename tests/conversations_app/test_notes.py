"""Notes on an answer: a highlighted span [from_index, to_index) within the answer's text, CRUD."""

from __future__ import annotations

import pytest

from conversations_app.models import Note
from tests.conversations_app.factories import ConversationFactory, NoteFactory
from tests.conversations_app.resources import AUTH_QUERIES, BASE, add_exchange, assert_error

pytestmark = pytest.mark.django_db

ANSWER = "Paris is the capital of France."  # 31 characters


@pytest.fixture
def answer(user):
    return add_exchange(ConversationFactory(owner=user), answer=ANSWER).response


def notes_url(response) -> str:
    return f"{BASE}responses/{response.pk}/notes/"


def note_url(note) -> str:
    return f"{notes_url(note.response)}{note.pk}/"


def test_annotate_a_span(api_client, user, answer):
    response = api_client.post(
        notes_url(answer), {"content": "Check this", "from_index": 0, "to_index": 5}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["from_index"] == 0
    assert response["ETag"] == '"1"'
    note = Note.objects.get(response=answer)
    assert ANSWER[note.from_index : note.to_index] == "Paris"
    assert note.owner == user


def test_a_span_may_end_at_the_end_of_the_text(api_client, answer):
    response = api_client.post(
        notes_url(answer), {"content": "All of it", "from_index": 0, "to_index": len(ANSWER)}, format="json"
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"content": "x", "from_index": 5, "to_index": 5},
        {"content": "x", "from_index": 6, "to_index": 5},
        {"content": "x", "from_index": 0, "to_index": len(ANSWER) + 1},
        {"content": "x", "from_index": -1, "to_index": 3},
        {"content": "x", "from_index": "a", "to_index": 3},
        {"content": "x", "from_index": 0},
        {"content": "", "from_index": 0, "to_index": 3},
        {"content": "   ", "from_index": 0, "to_index": 3},
        {"content": "x" * 10_001, "from_index": 0, "to_index": 3},
        {"content": "x", "from_index": 0, "to_index": 3, "owner": "someone"},
    ],
)
def test_annotate_with_bad_input_is_400_and_writes_nothing(api_client, answer, payload):
    assert_error(api_client.post(notes_url(answer), payload, format="json"), 400)
    assert not Note.all_objects.exists()


@pytest.mark.parametrize("count", [5, 50])
def test_list_in_text_order_in_constant_queries(api_client, user, answer, count, django_assert_num_queries):
    for n in reversed(range(count)):
        NoteFactory(response=answer, owner=user, from_index=n % 30, to_index=n % 30 + 1)
    NoteFactory(response=answer, owner=user, deleted_at="2024-01-01T00:00:00Z")

    with django_assert_num_queries(AUTH_QUERIES + 2):  # the answer, then the page
        response = api_client.get(notes_url(answer), {"page_size": count})

    results = response.json()["results"]
    assert len(results) == count
    assert [n["from_index"] for n in results] == sorted(n["from_index"] for n in results)


def test_detail_update_and_delete(api_client, user, answer, django_assert_num_queries):
    note = NoteFactory(response=answer, owner=user, content="First", from_index=0, to_index=5)

    with django_assert_num_queries(AUTH_QUERIES + 1):
        read = api_client.get(note_url(note))
    changed = api_client.patch(
        note_url(note), {"content": "Second", "to_index": 9}, format="json", HTTP_IF_MATCH='"1"'
    )
    deleted = api_client.delete(note_url(note), HTTP_IF_MATCH='"2"')

    assert read.json()["content"] == "First"
    assert changed.status_code == 200
    assert (changed.json()["content"], changed.json()["to_index"]) == ("Second", 9)
    assert changed["ETag"] == '"2"'
    assert deleted.status_code == 204
    assert Note.all_objects.get(pk=note.pk).deleted_at is not None
    assert_error(api_client.get(note_url(note)), 404)


@pytest.mark.parametrize(
    "payload",
    [
        {"from_index": 7},
        {"to_index": len(ANSWER) + 1},
        {"from_index": 4, "to_index": 2},
        {"content": ""},
        {"content": "x" * 10_001},
        {"response": "elsewhere"},
    ],
)
def test_update_with_bad_input_is_400_and_changes_nothing(api_client, user, answer, payload):
    note = NoteFactory(response=answer, owner=user, content="Kept", from_index=0, to_index=5)

    assert_error(api_client.patch(note_url(note), payload, format="json"), 400)
    note.refresh_from_db()
    assert (note.content, note.from_index, note.to_index, note.version) == ("Kept", 0, 5, 1)


def test_update_with_a_stale_if_match_is_412(api_client, user, answer):
    note = NoteFactory(response=answer, owner=user, content="Kept")

    assert_error(
        api_client.patch(note_url(note), {"content": "New"}, format="json", HTTP_IF_MATCH='"4"'), 412
    )
    assert_error(api_client.delete(note_url(note), HTTP_IF_MATCH='"4"'), 412)
    note.refresh_from_db()
    assert (note.content, note.deleted_at) == ("Kept", None)


def test_another_users_answer_and_notes_are_404_and_unchanged(api_client, user, answer, other_user):
    theirs = add_exchange(ConversationFactory(owner=other_user), answer=ANSWER).response
    their_note = NoteFactory(response=theirs, owner=other_user, content="Theirs")

    responses = [
        api_client.get(notes_url(theirs)),
        api_client.post(notes_url(theirs), {"content": "x", "from_index": 0, "to_index": 3}, format="json"),
        api_client.get(note_url(their_note)),
        api_client.patch(note_url(their_note), {"content": "Mine"}, format="json"),
        api_client.delete(note_url(their_note)),
        # their note's id under my own answer's path
        api_client.get(f"{notes_url(answer)}{their_note.pk}/"),
        api_client.delete(f"{notes_url(answer)}{their_note.pk}/"),
    ]

    for response in responses:
        assert_error(response, 404)
    their_note.refresh_from_db()
    assert (their_note.content, their_note.deleted_at) == ("Theirs", None)
    assert Note.all_objects.count() == 1


def test_anonymous_caller_gets_401(anon_client, user, answer):
    note = NoteFactory(response=answer, owner=user)

    for response in [
        anon_client.get(notes_url(answer)),
        anon_client.post(notes_url(answer), {"content": "x", "from_index": 0, "to_index": 3}, format="json"),
        anon_client.get(note_url(note)),
        anon_client.patch(note_url(note), {"content": "y"}, format="json"),
        anon_client.delete(note_url(note)),
    ]:
        assert_error(response, 401)
    assert Note.objects.filter(pk=note.pk, content=note.content).exists()
