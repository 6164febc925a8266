"""The system messages users may pick: listed to any signed-in user without staff fields; a
conversation takes one by id."""

from __future__ import annotations

import pytest

from admin_app.models import SystemMessage
from tests.admin_app.factories import SystemMessageFactory
from tests.models_app.factories import AIModelFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/system-messages/"


def test_users_see_the_published_system_messages_by_name_without_staff_fields(
    api_client, django_assert_num_queries
):
    # given
    SystemMessageFactory(name="Pirate", content="Talk like a pirate.", description="Arr")
    SystemMessageFactory(name="Coder", content="You write Python.")
    for n in range(5):
        SystemMessageFactory(name=f"Extra {n}")
    SystemMessageFactory(name="Draft", is_active=False)
    gone = SystemMessageFactory(name="Gone")
    SystemMessage.all_objects.filter(pk=gone.pk).update(deleted_at="2026-01-01T00:00:00Z")

    # when: authentication and one query for the page, whatever its size
    with django_assert_num_queries(2):
        response = api_client.get(URL)

    # then
    assert response.status_code == 200
    results = response.json()["results"]
    assert [m["name"] for m in results] == ["Coder", *[f"Extra {n}" for n in range(5)], "Pirate"]
    assert set(results[-1]) == {"id", "name", "description", "content"}
    assert results[-1]["content"] == "Talk like a pirate."


def test_one_system_message_and_unpublished_ones_are_404(api_client):
    published = SystemMessageFactory(name="Pirate")
    draft = SystemMessageFactory(name="Draft", is_active=False)

    assert api_client.get(f"{URL}{published.pk}/").json()["name"] == "Pirate"
    assert api_client.get(f"{URL}{draft.pk}/").status_code == 404


def test_anonymous_callers_get_401_and_writes_are_refused(anon_client, api_client):
    assert anon_client.get(URL).status_code == 401
    assert api_client.post(URL, {"name": "x", "content": "y"}, format="json").status_code == 405


def test_a_conversation_takes_a_published_system_message(api_client, user, fake_ollama):
    message = SystemMessageFactory(name="Pirate", content="Talk like a pirate.")
    model = AIModelFactory()
    fake_ollama.add_model(model.name)

    created = api_client.post(
        "/api/v1/conversations/", {"model": str(model.pk), "system_message": str(message.pk)}, format="json"
    )
    assert created.status_code == 201, created.content
    sent = api_client.post(
        f"/api/v1/conversations/{created.json()['id']}/messages/", {"content": "Hi"}, format="json"
    )

    assert sent.status_code == 201
    assert fake_ollama.chat_requests[-1]["messages"][0] == {
        "role": "system",
        "content": "Talk like a pirate.",
    }
