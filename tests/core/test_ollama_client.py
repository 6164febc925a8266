"""The Ollama client against the fake server: calls, streaming, and how failures are reported."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from core.exceptions import BadGateway, Conflict, ServiceUnavailable
from core.ollama import AsyncOllamaClient, OllamaClient, open_chat_stream
from tests.fakes.ollama import DEFAULT_MODEL, DEFAULT_REPLY, VERSION

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def client(fake_ollama):
    with OllamaClient() as ollama:
        yield ollama


def test_admin_calls_read_what_ollama_has(client, fake_ollama):
    assert [m["name"] for m in client.tags()] == [DEFAULT_MODEL]
    shown = client.show(DEFAULT_MODEL)
    assert shown["details"]["family"] == "llama"
    assert shown["model_info"]["general.parameter_count"] == 3_212_749_888


def test_pull_yields_progress_until_success_and_delete_removes(client, fake_ollama):
    progress = list(client.pull("mistral:7b"))

    assert progress[0] == {"status": "pulling manifest"}
    assert any(p.get("total") and p.get("completed") == p["total"] for p in progress)
    assert progress[-1] == {"status": "success"}
    client.delete("mistral:7b")
    assert "mistral:7b" not in [m["name"] for m in client.tags()]


@pytest.mark.parametrize("call", ["show", "delete"])
def test_a_model_ollama_does_not_have_is_a_conflict_with_a_clear_message(client, call):
    with pytest.raises(Conflict) as exc_info:
        getattr(client, call)("ghost:1b")

    assert exc_info.value.status_code == 409
    assert exc_info.value.code == "model_not_installed"
    assert "'ghost:1b'" in exc_info.value.message
    assert "not installed" in exc_info.value.message


def _collect_async(received: list[dict] | None = None, **kwargs) -> list[str]:
    """The pieces of one streamed answer; every object read lands in `received` too."""
    chunks = [] if received is None else received

    async def run() -> list[str]:
        stream = await open_chat_stream(**kwargs)
        try:
            async for chunk in stream:
                chunks.append(chunk)
        finally:
            await stream.aclose()
        return [chunk["message"]["content"] for chunk in chunks]

    return async_to_sync(run)()


def test_an_ollama_server_error_is_a_bad_gateway_and_is_not_retried(fake_ollama):
    fake_ollama.fail(500, "CUDA out of memory")

    with pytest.raises(BadGateway) as exc_info:
        _collect_async(model=DEFAULT_MODEL, messages=HELLO)

    assert exc_info.value.status_code == 502
    assert "CUDA out of memory" in exc_info.value.message
    assert len(fake_ollama.chat_requests) == 1


def test_a_stream_cut_mid_answer_is_a_bad_gateway_after_the_pieces_that_arrived(fake_ollama):
    fake_ollama.cut_after = 2
    received: list[dict] = []

    with pytest.raises(BadGateway) as exc_info:
        _collect_async(received, model=DEFAULT_MODEL, messages=HELLO)

    assert [chunk["message"]["content"] for chunk in received] == DEFAULT_REPLY[:2]
    assert exc_info.value.code == "ollama_stream"
    assert len(fake_ollama.chat_requests) == 1


def test_an_unreachable_ollama_is_service_unavailable(ollama_down):
    with OllamaClient() as client, pytest.raises(ServiceUnavailable) as exc_info:
        client.tags()

    assert exc_info.value.status_code == 503
    assert "not reachable" in exc_info.value.message


def test_a_silent_ollama_hits_the_read_timeout(fake_ollama, settings):
    settings.OLLAMA_READ_TIMEOUT = 0.05
    fake_ollama.token_delay = 0.5

    with pytest.raises(BadGateway) as exc_info:
        _collect_async(model=DEFAULT_MODEL, messages=HELLO)

    assert exc_info.value.code == "ollama_timeout"


def test_async_stream_reads_ndjson_to_the_final_object(fake_ollama):
    received: list[dict] = []
    pieces = _collect_async(received, model=DEFAULT_MODEL, messages=HELLO, options={"seed": 7})

    assert "".join(pieces) == "".join(DEFAULT_REPLY)
    assert received[-1]["done"] is True
    assert isinstance(received[-1]["eval_duration"], int)
    assert fake_ollama.chat_requests == [
        {"model": DEFAULT_MODEL, "messages": HELLO, "stream": True, "options": {"seed": 7}}
    ]


def test_async_stream_open_reports_errors_before_the_first_byte(ollama_down):
    with pytest.raises(ServiceUnavailable):
        _collect_async(model=DEFAULT_MODEL, messages=HELLO)


def test_async_stream_unknown_model_and_cut(fake_ollama):
    with pytest.raises(Conflict):
        _collect_async(model="ghost:1b", messages=HELLO)

    fake_ollama.cut_after = 1
    with pytest.raises(BadGateway):
        _collect_async(model=DEFAULT_MODEL, messages=HELLO)


def test_async_version(fake_ollama):
    async def run() -> str:
        async with AsyncOllamaClient() as client:
            return await client.version()

    assert async_to_sync(run)() == VERSION
