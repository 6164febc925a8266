"""The Ollama dialect at /ollama/, driven by the official `ollama` client."""

from __future__ import annotations

import json

import ollama
import pytest

from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse
from tests.fakes.ollama import DEFAULT_MODEL, DEFAULT_REPLY

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
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


def test_a_model_the_owners_roles_do_not_allow_is_unknown(ollama_client, catalogue_model, user, fake_ollama):
    from django.contrib.auth.models import Group

    from models_app.models import RoleModelAccess
    from tests.models_app.factories import AIModelFactory

    # given: the user's only role allows another model
    allowed = AIModelFactory(name="allowed:1b", is_active=True)
    role = Group.objects.create(name="Interns")
    RoleModelAccess.objects.create(role_id=role.pk, model=allowed)
    user.groups.set([role])

    # then: the catalogue model is neither listed nor answered
    assert [m.model for m in ollama_client.list().models] == ["allowed:1b"]
    with pytest.raises(ollama.ResponseError) as exc_info:
        ollama_client.chat(model=catalogue_model.name, messages=[{"role": "user", "content": "Hi"}])
    assert exc_info.value.status_code == 404
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


def test_tools_and_images_pass_through_and_tool_calls_come_back(ollama_client, catalogue_model, fake_ollama):
    fake_ollama.tool_calls = [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}

    answer = ollama_client.chat(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "Weather here?", "images": ["aGVsbG8="]}],
        tools=[tool],
    )

    [call] = answer.message.tool_calls
    assert call.function.name == "get_weather"
    assert call.function.arguments == {"city": "Paris"}
    sent = fake_ollama.chat_requests[0]
    assert sent["tools"] == [tool]
    assert sent["messages"][0]["images"] == ["aGVsbG8="]
    assert AIResponse.objects.get().content == '[tool call] get_weather({"city": "Paris"})'


def test_a_call_continuing_a_recorded_one_continues_its_conversation(ollama_client, catalogue_model):
    first = [{"role": "user", "content": "Hi"}]
    answer = ollama_client.chat(model=DEFAULT_MODEL, messages=first)

    # when: the client sends the conversation so far plus a new turn
    ollama_client.chat(
        model=DEFAULT_MODEL,
        messages=[
            *first,
            {"role": "assistant", "content": answer.message.content},
            {"role": "user", "content": "More"},
        ],
    )
    # and: an unrelated chat
    ollama_client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Other"}])

    # then
    continued, other = Conversation.objects.order_by("created_at")
    assert [e.prompt.content for e in continued.exchanges.order_by("position").select_related("prompt")] == [
        "Hi",
        "More",
    ]
    assert continued.message_count == 4
    assert other.title == "Other"


def test_a_key_that_does_not_record_stores_usage_only(gateway_server, catalogue_model, user):
    from auth_app.models import ApiUsage
    from auth_app.services.api_keys import create_api_key

    _key, raw = create_api_key(user, name="private", record=False)
    with ollama.Client(
        host=f"{gateway_server.url}/ollama", headers={"Authorization": f"Bearer {raw}"}
    ) as client:
        answer = client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Secret"}])

    assert answer.message.content == REPLY
    assert not Conversation.objects.exists()
    usage = ApiUsage.objects.get()
    assert usage.eval_tokens == len(DEFAULT_REPLY)
    assert usage.prompt_tokens == 1


def test_missing_bad_and_revoked_keys_are_401(gateway_server, catalogue_model, api_key, fake_ollama):
    from auth_app.services.api_keys import revoke_api_key

    url = f"{gateway_server.url}/ollama"
    revoke_api_key(api_key=api_key[0])
    for headers in ({}, {"Authorization": "Bearer onk_nothing"}, {"Authorization": f"Bearer {api_key[1]}"}):
        with (
            ollama.Client(host=url, headers=headers) as client,
            pytest.raises(ollama.ResponseError) as exc_info,
        ):
            client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}])
        assert exc_info.value.status_code == 401
        assert isinstance(exc_info.value.error, str)
        assert exc_info.value.error
    assert fake_ollama.chat_requests == []


def test_over_quota_is_429_with_retry_after(
    ollama_client, gateway_server, catalogue_model, api_key, settings
):
    import httpx

    settings.API_KEY_REQUESTS_PER_MINUTE = 1
    ollama_client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}])

    response = httpx.post(
        f"{gateway_server.url}/ollama/api/chat",
        json={"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": "Again"}]},
        headers={"Authorization": f"Bearer {api_key[1]}"},
    )

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "error" in response.json()
    assert Conversation.objects.count() == 1


def test_model_management_is_refused_and_audited(ollama_client, catalogue_model, fake_ollama):
    from admin_app.models import AuditEvent

    for attempt in (lambda: ollama_client.pull("mistral:7b"), lambda: ollama_client.delete(DEFAULT_MODEL)):
        with pytest.raises(ollama.ResponseError) as exc_info:
            attempt()
        assert exc_info.value.status_code == 403
    assert [r.path for r in fake_ollama.requests] == []
    assert AuditEvent.objects.filter(action="api_model_management_refused").count() == 2


def test_embed_embeddings_show_ps_and_version(ollama_client, catalogue_model, fake_ollama):
    from auth_app.models import ApiUsage

    embedded = ollama_client.embed(model=DEFAULT_MODEL, input=["one text", "two texts"])
    single = ollama_client.embeddings(model=DEFAULT_MODEL, prompt="one text")
    shown = ollama_client.show(DEFAULT_MODEL)
    ollama_client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}])
    loaded = ollama_client.ps()

    assert len(embedded.embeddings) == 2
    assert list(single.embedding) == embedded.embeddings[0]
    assert "tools" in shown.capabilities
    assert [m.model for m in loaded.models] == [DEFAULT_MODEL]
    assert Conversation.objects.count() == 1  # embeddings are not conversations
    assert ApiUsage.objects.get().prompt_tokens >= 4 + 1


def test_a_hang_up_keeps_what_arrived(gateway_server, catalogue_model, api_key, fake_ollama):
    import httpx

    fake_ollama.hold_after = 3
    with httpx.stream(
        "POST",
        f"{gateway_server.url}/ollama/api/chat",
        json={"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": "Hi"}]},
        headers={"Authorization": f"Bearer {api_key[1]}"},
    ) as response:
        lines = response.iter_lines()
        pieces = [json.loads(next(lines))["message"]["content"] for _ in range(3)]
    # the client has gone while Ollama is still answering: the server notices and records it (only then
    # is Ollama's held answer let go, so that its end cannot be taken for the reason)
    try:
        response_row = _wait_for_outcome()
    finally:
        fake_ollama.release()
    assert pieces == DEFAULT_REPLY[:3]
    assert response_row.status == AIResponse.Status.INTERRUPTED, response_row.error
    assert response_row.content == "".join(DEFAULT_REPLY[:3])


def _wait_for_outcome() -> AIResponse:
    import time

    deadline = time.monotonic() + 10
    while True:
        row = AIResponse.objects.get()
        if row.status != AIResponse.Status.STREAMING or time.monotonic() > deadline:
            return row
        time.sleep(0.05)
