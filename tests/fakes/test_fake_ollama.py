"""The fake Ollama server is faithful: the official `ollama` client talks to it like to the real one."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import ollama
import pytest

from conversations_app.services.chat import METRIC_FIELDS
from tests.fakes.ollama import DEFAULT_MODEL, DEFAULT_REPLY, DEFAULT_THINKING, EMBEDDING_DIMENSIONS, VERSION


@pytest.fixture
def client(fake_ollama) -> Iterator[ollama.Client]:
    with ollama.Client(host=fake_ollama.url) as official:
        yield official


def test_streamed_chat_arrives_token_by_token_with_integer_metrics(client, fake_ollama):
    # when
    parts = list(
        client.chat(
            model=DEFAULT_MODEL,
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}],
            stream=True,
            options={"temperature": 0.2},
        )
    )

    # then
    assert [p.message.content for p in parts[:-1]] == DEFAULT_REPLY
    assert all(p.message.role == "assistant" and not p.done for p in parts[:-1])
    last = parts[-1]
    assert last.done is True
    assert last.done_reason == "stop"
    assert all(isinstance(getattr(last, name), int) for name in METRIC_FIELDS)
    assert last.eval_count == len(DEFAULT_REPLY)
    [received] = fake_ollama.chat_requests
    assert received["model"] == DEFAULT_MODEL
    assert received["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"},
    ]
    assert received["stream"] is True
    assert received["options"] == {"temperature": 0.2}


def test_unstreamed_chat_returns_the_whole_answer(client):
    answer = client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}], stream=False)

    assert answer.message.content == "".join(DEFAULT_REPLY)
    assert answer.done is True
    assert answer.prompt_eval_count == 1


def test_num_predict_shorter_than_the_reply_stops_with_reason_length(client):
    answer = client.chat(
        model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 2}
    )

    assert answer.message.content == "".join(DEFAULT_REPLY[:2])
    assert answer.done_reason == "length"


def test_chat_with_an_unknown_model_is_a_404_with_ollamas_error(client):
    with pytest.raises(ollama.ResponseError) as exc_info:
        client.chat(model="nope:1b", messages=[{"role": "user", "content": "Hi"}])

    assert exc_info.value.status_code == 404
    assert exc_info.value.error == "model 'nope:1b' not found"


def test_a_scripted_failure_is_an_http_error_with_an_error_body(client, fake_ollama):
    fake_ollama.fail(500, "out of memory")

    with pytest.raises(ollama.ResponseError) as exc_info:
        client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}])

    assert exc_info.value.status_code == 500
    assert exc_info.value.error == "out of memory"


def test_a_cut_stream_breaks_the_official_client_mid_answer(client, fake_ollama):
    fake_ollama.cut_after = 3
    received: list[str] = []

    def read_all() -> None:
        stream = client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}], stream=True)
        received.extend(part.message.content for part in stream)

    with pytest.raises(httpx.RemoteProtocolError):
        read_all()

    assert received == DEFAULT_REPLY[:3]


def test_list_and_show_describe_the_installed_models(client, fake_ollama):
    fake_ollama.add_model("qwen2.5:0.5b")

    listed = client.list()
    shown = client.show("qwen2.5:0.5b")

    assert [m.model for m in listed.models] == [DEFAULT_MODEL, "qwen2.5:0.5b"]
    assert listed.models[0].details.parameter_size == "3.2B"
    assert isinstance(listed.models[0].size, int)
    assert shown.details.family == "qwen"
    assert shown.modelinfo["general.parameter_count"] == 3_212_749_888
    assert shown.modelfile.startswith("# Modelfile")
    with pytest.raises(ollama.ResponseError) as exc_info:
        client.show("missing:7b")
    assert exc_info.value.status_code == 404


def test_pull_streams_progress_then_installs_the_model(client, fake_ollama):
    progress = list(client.pull("mistral:7b", stream=True))

    assert progress[0].status == "pulling manifest"
    layers = [p for p in progress if p.digest]
    assert layers
    assert all(p.status.startswith("pulling ") and p.total == fake_ollama.pull_layer_size for p in layers)
    assert [p.completed for p in layers[:3]] == [
        0,
        fake_ollama.pull_layer_size // 2,
        fake_ollama.pull_layer_size,
    ]
    assert progress[-1].status == "success"
    assert "mistral:7b" in [m.model for m in client.list().models]


def test_delete_removes_a_model_and_404s_an_unknown_one(client, fake_ollama):
    assert client.delete(DEFAULT_MODEL).status == "success"
    assert client.list().models == []

    with pytest.raises(ollama.ResponseError) as exc_info:
        client.delete(DEFAULT_MODEL)
    assert exc_info.value.status_code == 404
    assert exc_info.value.error == f"model '{DEFAULT_MODEL}' not found"


def test_version_and_request_log(fake_ollama):
    response = httpx.get(f"{fake_ollama.url}/api/version")

    assert response.json() == {"version": VERSION}
    assert [(r.method, r.path) for r in fake_ollama.requests] == [("GET", "/api/version")]


def test_async_official_client_streams_too(fake_ollama):
    from asgiref.sync import async_to_sync

    async def collect() -> list[str]:
        client = ollama.AsyncClient(host=fake_ollama.url)
        stream = await client.chat(
            model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        return [part.message.content or "" async for part in stream]

    assert "".join(async_to_sync(collect)()) == "".join(DEFAULT_REPLY)


def test_generate_streams_response_pieces_and_thinking_first(client):
    parts = list(client.generate(model=DEFAULT_MODEL, prompt="Why is the sky blue?", think=True, stream=True))

    thinking = "".join(p.thinking or "" for p in parts)
    assert thinking == "".join(DEFAULT_THINKING)
    assert parts[0].thinking  # thinking comes before the answer
    assert not parts[0].response
    assert "".join(p.response for p in parts) == "".join(DEFAULT_REPLY)
    assert parts[-1].done is True
    assert parts[-1].eval_count == len(DEFAULT_REPLY)


def test_chat_offered_tools_answers_with_the_scripted_tool_calls(client, fake_ollama):
    fake_ollama.tool_calls = [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}

    answer = client.chat(
        model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Weather?"}], tools=[tool], stream=False
    )

    [call] = answer.message.tool_calls
    assert call.function.name == "get_weather"
    assert call.function.arguments == {"city": "Paris"}
    assert fake_ollama.chat_requests[0]["tools"] == [tool]


def test_format_makes_the_answer_a_json_text_of_the_schema(client):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "degrees": {"type": "integer"}},
        "required": ["city", "degrees"],
    }

    shaped = client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}], format=schema)
    plain_json = client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}], format="json")

    assert json.loads(shaped.message.content) == {"city": "".join(DEFAULT_REPLY), "degrees": 42}
    assert json.loads(plain_json.message.content) == {"answer": "".join(DEFAULT_REPLY)}


def test_embed_embeddings_and_ps(client, fake_ollama):
    embedded = client.embed(model=DEFAULT_MODEL, input=["one text", "another one"])
    single = client.embeddings(model=DEFAULT_MODEL, prompt="one text")
    client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Hi"}])

    assert len(embedded.embeddings) == 2
    assert len(embedded.embeddings[0]) == EMBEDDING_DIMENSIONS
    assert embedded.prompt_eval_count == 4
    assert list(single.embedding) == embedded.embeddings[0]
    assert [m.model for m in client.ps().models] == [DEFAULT_MODEL]
    assert client.show(DEFAULT_MODEL).capabilities == ["completion", "tools"]
