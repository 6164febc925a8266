"""What the gateway records is the key owner's like any conversation: listed (with its source), searched,
exported; nobody else sees it."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.fakes.ollama import DEFAULT_MODEL

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_api_conversations_are_listed_searched_and_exported_by_their_owner_only(
    ollama_client, catalogue_model, user, other_user
):
    ollama_client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Tell me about zebras"}])
    owner, stranger = client_for(user), client_for(other_user)

    listed = owner.get("/api/v1/conversations/").json()["results"]
    found = owner.get("/api/v1/conversations/search/", {"q": "zebras"}).json()["results"]
    exported = owner.get(f"/api/v1/conversations/{listed[0]['id']}/export/", {"format": "json"})

    assert [(c["title"], c["source"]) for c in listed] == [("Tell me about zebras", "api")]
    assert found
    assert exported.status_code == 200
    assert stranger.get("/api/v1/conversations/").json()["results"] == []
    assert stranger.get(f"/api/v1/conversations/{listed[0]['id']}/").status_code == 404


def test_source_is_read_only(api_client, catalogue_model):
    created = api_client.post("/api/v1/conversations/", {"model": DEFAULT_MODEL}, format="json").json()

    refused = api_client.patch(f"/api/v1/conversations/{created['id']}/", {"source": "api"}, format="json")

    assert created["source"] == "app"
    assert refused.status_code == 400
    assert api_client.get(f"/api/v1/conversations/{created['id']}/").json()["source"] == "app"
