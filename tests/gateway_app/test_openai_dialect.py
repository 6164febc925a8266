"""The OpenAI dialect at /v1/, driven by the official `openai` SDK."""

from __future__ import annotations

import base64
import json
import struct

import openai
import pytest

from auth_app.models import ApiUsage
from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse
from tests.fakes.ollama import DEFAULT_MODEL, DEFAULT_REPLY

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
REPLY = "".join(DEFAULT_REPLY)


def test_models_lists_the_published_catalogue(openai_client, catalogue_model):
    models = openai_client.models.list()

    assert [m.id for m in models.data] == [DEFAULT_MODEL]
    assert models.data[0].object == "model"
    assert openai_client.models.retrieve(DEFAULT_MODEL).id == DEFAULT_MODEL
    with pytest.raises(openai.NotFoundError):
        openai_client.models.retrieve("nope:1b")


def test_chat_completion_maps_options_and_usage_and_is_recorded(
    openai_client, catalogue_model, fake_ollama, user
):
    completion = openai_client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}],
        temperature=0.3,
        top_p=0.9,
        max_tokens=50,
        stop=["\n\n"],
        seed=7,
    )

    assert completion.choices[0].message.content == REPLY
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == len(DEFAULT_REPLY)
    assert completion.usage.prompt_tokens == 4
    sent = fake_ollama.chat_requests[0]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"},
    ]
    assert sent["options"] == {
        "temperature": 0.3,
        "top_p": 0.9,
        "num_predict": 50,
        "stop": ["\n\n"],
        "seed": 7,
    }
    conversation = Conversation.objects.get()
    assert conversation.owner == user
    assert conversation.source == "api"
    assert AIResponse.objects.get().content == REPLY


def test_streamed_chat_ends_with_one_finish_reason_usage_and_done(openai_client, catalogue_model):
    stream = openai_client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasons = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert content == REPLY
    assert chunks[0].choices[0].delta.role == "assistant"
    assert reasons == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == len(DEFAULT_REPLY)
    assert AIResponse.objects.get().status == AIResponse.Status.COMPLETE


def test_tools_round_trip_with_finish_reason_tool_calls(openai_client, catalogue_model, fake_ollama):
    fake_ollama.tool_calls = [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    question = {"role": "user", "content": "Weather in Paris?"}

    # when: the model calls the tool (streamed and not)
    completion = openai_client.chat.completions.create(model=DEFAULT_MODEL, messages=[question], tools=tools)
    streamed = list(
        openai_client.chat.completions.create(
            model=DEFAULT_MODEL, messages=[question], tools=tools, stream=True
        )
    )

    # then
    [call] = completion.choices[0].message.tool_calls
    assert completion.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    streamed_calls = [tc for c in streamed for tc in (c.choices[0].delta.tool_calls or []) if c.choices]
    assert [tc.function.name for tc in streamed_calls] == ["get_weather"]
    assert [c.choices[0].finish_reason for c in streamed if c.choices and c.choices[0].finish_reason] == [
        "tool_calls"
    ]

    # when: the client answers with the tool's result
    fake_ollama.tool_calls = None
    openai_client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[
            question,
            completion.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "18 degrees"},
        ],
        tools=tools,
    )

    # then: Ollama got the call back with object arguments and the tool's name, and the conversation went on
    sent = fake_ollama.chat_requests[-1]["messages"]
    assert sent[1]["tool_calls"] == [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]
    assert sent[2] == {"role": "tool", "content": "18 degrees", "tool_name": "get_weather"}
    # (the streamed call, with the same turns, is the latest such conversation: that one goes on)
    _first, latest = Conversation.objects.order_by("created_at")
    prompts = [e.prompt.content for e in latest.exchanges.order_by("position").select_related("prompt")]
    assert prompts == ["Weather in Paris?", "[tool result] 18 degrees"]


def test_response_format_images_and_reasoning(openai_client, catalogue_model, fake_ollama):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    image = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()

    completion = openai_client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Where is this?"},
                    {"type": "image_url", "image_url": {"url": image}},
                ],
            }
        ],
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema}},
        reasoning_effort="high",
    )

    assert json.loads(completion.choices[0].message.content) == {"city": REPLY}
    assert completion.choices[0].message.model_extra["reasoning"] == "Let me think."
    sent = fake_ollama.chat_requests[0]
    assert sent["format"] == schema
    assert sent["think"] == "high"
    assert sent["messages"] == [
        {"role": "user", "content": "Where is this?", "images": [base64.b64encode(b"\x89PNG fake").decode()]}
    ]
    openai_client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "JSON"}],
        response_format={"type": "json_object"},
    )
    assert fake_ollama.chat_requests[1]["format"] == "json"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "http://x/a.png"}}],
                    }
                ]
            },
            None,
        ),
        ({"messages": []}, "messages"),
        ({"temperature": "hot"}, "temperature"),
    ],
)
def test_bad_requests_are_400_in_openais_shape_and_nothing_is_stored(
    openai_client, catalogue_model, fake_ollama, extra, param
):
    body = {"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": "Hi"}], **extra}

    with pytest.raises(openai.BadRequestError) as exc_info:
        openai_client.chat.completions.create(**body)

    error = exc_info.value.body
    assert exc_info.value.status_code == 400
    assert error["type"] == "invalid_request_error"
    if param:
        assert error["param"] == param
    assert fake_ollama.chat_requests == []
    assert not Conversation.objects.exists()


def test_errors_401_404_429_in_openais_shape(
    gateway_server, openai_client, catalogue_model, api_key, settings
):
    stranger = openai.OpenAI(base_url=f"{gateway_server.url}/v1", api_key="onk_wrong", max_retries=0)
    with stranger, pytest.raises(openai.AuthenticationError) as unauthenticated:
        stranger.chat.completions.create(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(openai.NotFoundError) as missing:
        openai_client.chat.completions.create(model="nope:1b", messages=[{"role": "user", "content": "Hi"}])
    settings.API_KEY_REQUESTS_PER_MINUTE = 1
    openai_client.completions.create(model=DEFAULT_MODEL, prompt="Hi")
    with pytest.raises(openai.RateLimitError) as limited:
        openai_client.completions.create(model=DEFAULT_MODEL, prompt="Again")

    assert unauthenticated.value.body["code"] == "invalid_api_key"
    assert missing.value.body["message"] == "model 'nope:1b' not found"
    assert limited.value.response.headers["Retry-After"]
    assert set(limited.value.body) == {"message", "type", "param", "code"}


def test_completions_stream_and_not(openai_client, catalogue_model, fake_ollama):
    whole = openai_client.completions.create(model=DEFAULT_MODEL, prompt="Once upon", max_tokens=3)
    streamed = list(
        openai_client.completions.create(
            model=DEFAULT_MODEL, prompt="Once upon", stream=True, stream_options={"include_usage": True}
        )
    )

    assert whole.choices[0].text == "".join(DEFAULT_REPLY[:3])
    assert whole.choices[0].finish_reason == "length"
    assert fake_ollama.bodies("/api/generate")[0]["options"]["num_predict"] == 3
    assert "".join(c.choices[0].text for c in streamed if c.choices) == REPLY
    assert streamed[-1].usage.completion_tokens == len(DEFAULT_REPLY)
    assert ConversationPromptResponse.objects.count() == 2


def test_embeddings_float_and_base64_count_usage(openai_client, catalogue_model):
    floats = openai_client.embeddings.create(model=DEFAULT_MODEL, input=["one text", "two"])
    packed = openai_client.embeddings.create(model=DEFAULT_MODEL, input="one text", encoding_format="base64")

    assert len(floats.data) == 2
    assert floats.usage.prompt_tokens == 3
    raw = base64.b64decode(packed.data[0].embedding) if isinstance(packed.data[0].embedding, str) else None
    vector = floats.data[0].embedding
    if raw is not None:
        assert list(struct.unpack(f"<{len(vector)}f", raw)) == pytest.approx(vector)
    assert not Conversation.objects.exists()
    assert ApiUsage.objects.get().prompt_tokens == 3 + 2


def test_a_key_without_the_chat_scope_is_403(gateway_server, catalogue_model, user):
    from auth_app.services.api_keys import create_api_key

    _key, raw = create_api_key(user, name="embed only", scopes=["embeddings"])
    with openai.OpenAI(base_url=f"{gateway_server.url}/v1", api_key=raw, max_retries=0) as client:
        with pytest.raises(openai.PermissionDeniedError):
            client.chat.completions.create(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}])
        assert client.embeddings.create(model=DEFAULT_MODEL, input="ok").data
