"""The Ollama dialect at /ollama/, driven by the official `ollama` client."""

from __future__ import annotations

import json

import ollama
import pytest

from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse
from tests.fakes.ollama import DEFAULT_MODEL, DEFAULT_REPLY

pytestmark = pytest.mark.django_db(transaction=True)
REPLY = "".join(DEFAULT_REPLY)


def test_tags_lists_the_published_catalogue_in_ollamas_shape(ollama_client, catalogue_model):
    listed = ollama_client.list()

    [model] = listed.models
    assert model.model == DEFAULT_MODEL
    assert model.details.family == "llama"
    assert model.details.parameter_size == "3.2B"


def test_streamed_chat_passes_through_and_is_recorded(
    ollama_client, catalogue_model, fake_ollama, user, api_key
):
    # when
    parts = list(
        ollama_client.chat(
            model=DEFAULT_MODEL,
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}],
            options={"temperature": 0.2},
            keep_alive="5m",
            stream=True,
        )
    )

    # then: Ollama's pieces, then the final object with the metrics
    assert "".join(p.message.content for p in parts) == REPLY
    assert parts[-1].done is True
    assert parts[-1].eval_count == len(DEFAULT_REPLY)
    [sent] = fake_ollama.chat_requests
    assert sent["options"] == {"temperature": 0.2}
    assert sent["keep_alive"] == "5m"
    # and: recorded as the key owner's conversation
    conversation = Conversation.objects.get()
    assert conversation.owner == user
    assert conversation.source == "api"
    assert conversation.api_key == api_key[0]
    assert conversation.title == "Hi there"
    assert conversation.system_prompt == "Be brief."
    exchange = ConversationPromptResponse.objects.select_related("prompt", "response").get()
    assert exchange.prompt.content == "Hi there"
    assert exchange.response.content == REPLY
    assert exchange.response.status == AIResponse.Status.COMPLETE
    assert exchange.response.eval_count == len(DEFAULT_REPLY)


def test_unstreamed_chat_is_one_object(ollama_client, catalogue_model):
    answer = ollama_client.chat(
        model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}], stream=False
    )

    assert answer.message.content == REPLY
    assert answer.done is True
    assert answer.prompt_eval_count == 1


def test_unknown_or_unpublished_model_is_ollamas_404(ollama_client, catalogue_model, fake_ollama):
    from tests.models_app.factories import AIModelFactory

    AIModelFactory(name="hidden:1b", is_active=False)
    fake_ollama.add_model("hidden:1b")

    for name in ("nope:1b", "hidden:1b"):
        with pytest.raises(ollama.ResponseError) as exc_info:
            ollama_client.chat(model=name, messages=[{"role": "user", "content": "Hi"}])
        assert exc_info.value.status_code == 404
        assert exc_info.value.error == f"model '{name}' not found"
    assert fake_ollama.chat_requests == []
    assert not Conversation.objects.exists()


def test_generate_streams_and_records(ollama_client, catalogue_model, fake_ollama):
    parts = list(
        ollama_client.generate(
            model=DEFAULT_MODEL, prompt="Why is the sky blue?", system="Be short.", stream=True
        )
    )

    assert "".join(p.response for p in parts) == REPLY
    assert fake_ollama.bodies("/api/generate")[0]["system"] == "Be short."
    exchange = ConversationPromptResponse.objects.select_related("prompt", "response").get()
    assert exchange.prompt.content == "Why is the sky blue?"
    assert exchange.response.content == REPLY


def test_json_schema_format_and_thinking_pass_through(ollama_client, catalogue_model, fake_ollama):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

    answer = ollama_client.chat(
        model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Where?"}], format=schema, think=True
    )

    assert json.loads(answer.message.content) == {"city": REPLY}
    assert answer.message.thinking == "Let me think."
    sent = fake_ollama.chat_requests[0]
    assert sent["format"] == schema
    assert sent["think"] is True
