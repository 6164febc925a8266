"""JSON responses are gzipped for clients that accept it; event streams, small bodies and the auth
endpoints never are."""

from __future__ import annotations

import gzip
import json

import pytest

from conversations_app.models import Conversation
from tests.conversations_app.chat_client import asgi_request
from tests.conversations_app.factories import ConversationFactory, ExchangeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def long_history(user):
    conversation = ConversationFactory(owner=user)
    parent = None
    for _ in range(30):
        parent = ExchangeFactory(conversation=conversation, parent=parent)
    Conversation.objects.filter(pk=conversation.pk).update(current_exchange=parent)
    return f"/api/v1/conversations/{conversation.pk}/messages/?page_size=100"


def test_a_large_json_response_is_gzipped_when_the_client_accepts_it(api_client, long_history):
    plain = api_client.get(long_history)
    compressed = api_client.get(long_history, HTTP_ACCEPT_ENCODING="gzip, deflate")

    assert plain.status_code == compressed.status_code == 200
    assert "Content-Encoding" not in plain
    assert plain["Vary"].count("Accept-Encoding") == 1
    assert compressed["Content-Encoding"] == "gzip"
    assert int(compressed["Content-Length"]) == len(compressed.content) < len(plain.content) / 4
    assert json.loads(gzip.decompress(compressed.content)) == plain.json()


def test_small_bodies_and_the_auth_endpoints_are_sent_as_they_are(api_client, user):
    small = api_client.get("/api/v1/conversations/folders/", HTTP_ACCEPT_ENCODING="gzip")
    me = api_client.get("/api/v1/auth/me/", HTTP_ACCEPT_ENCODING="gzip")

    assert small.status_code == 200
    assert "Content-Encoding" not in small
    assert me.status_code == 200
    assert "Content-Encoding" not in me


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_event_stream_is_never_compressed(user, fake_ollama):
    conversation = ConversationFactory(owner=user)
    fake_ollama.add_model(conversation.model_name)
    fake_ollama.reply_tokens = ["word "] * 400

    result = asgi_request(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        user,
        {"content": "Hi", "stream": True},
        headers=[(b"accept-encoding", b"gzip")],
    )

    assert result.status_code == 200
    assert "Content-Encoding" not in result.headers
    assert result.names()[-1] == "done"
