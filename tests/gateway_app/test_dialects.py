"""The dialects' mapping, without a server: what OpenAI requests become in Ollama's terms, what Ollama's
objects become in OpenAI's, and the continuation digest."""

from __future__ import annotations

import pytest

from gateway_app.dialects import ollama as ollama_dialect
from gateway_app.dialects import openai as openai_dialect
from gateway_app.errors import GatewayError
from gateway_app.history import history_digest


def test_openai_messages_map_to_ollamas_with_tool_names_and_images():
    body = {
        "model": "m",
        "messages": [
            {"role": "developer", "content": "Rules."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image_url", "image_url": "data:image/png;base64,aGk="},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        ],
        "tool_choice": "none",
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }

    call = openai_dialect.chat_call(body)

    assert call.upstream["messages"] == [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": "Look", "images": ["aGk="]},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}],
        },
        {"role": "tool", "content": "ok", "tool_name": "f"},
    ]
    assert "tools" not in call.upstream  # tool_choice none: Ollama is offered none
    assert call.system == "Rules."
    assert call.prompt == "[tool result] ok"
    assert call.options == {"temperature": 1.0, "top_p": 1.0}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": 3}, "stop"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5}, "max_tokens"),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
                "response_format": {"type": "yaml"},
            },
            "response_format",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "extreme"},
            "reasoning_effort",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}],
                    }
                ],
            },
            "messages[0].content[0]",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{"}}]}
                ],
            },
            "messages[0].tool_calls[0]",
        ),
    ],
)
def test_openai_requests_that_cannot_be_mapped_are_400_naming_the_param(body, param):
    with pytest.raises(GatewayError) as exc_info:
        openai_dialect.chat_call(body)

    assert exc_info.value.status == 400
    assert exc_info.value.param == param
    assert openai_dialect.error_body(exc_info.value)["error"]["type"] == "invalid_request_error"


def test_chat_chunks_split_thinking_content_tool_calls_then_finish_and_usage():
    chunks = openai_dialect.ChatChunks("id", 1, "m", include_usage=True)
    call = {"function": {"name": "f", "arguments": {"a": 1}}}

    out = [
        *chunks.of({"message": {"role": "assistant", "content": "", "thinking": "hmm"}, "done": False}),
        *chunks.of({"message": {"role": "assistant", "content": "Hi"}, "done": False}),
        *chunks.of({"message": {"role": "assistant", "content": "", "tool_calls": [call]}, "done": False}),
        *chunks.of(
            {
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": 3,
                "eval_count": 2,
            }
        ),
    ]

    deltas = [c["choices"][0]["delta"] for c in out if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": "", "reasoning": "hmm"}
    assert deltas[1] == {"content": "Hi"}
    assert deltas[2]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a":1}'}
    assert deltas[3] == {}
    assert [c["choices"][0]["finish_reason"] for c in out if c["choices"]] == [None, None, None, "tool_calls"]
    assert out[-1] == {
        **out[-1],
        "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def test_gathered_chat_and_generate_objects_look_like_ollamas_unstreamed_ones():
    chat, generate = ollama_dialect.Gathered(), ollama_dialect.Gathered()
    for piece in ("Hel", "lo"):
        chat.add({"model": "m", "message": {"role": "assistant", "content": piece}, "done": False})
        generate.add({"model": "m", "response": piece, "done": False})
    final = {"model": "m", "created_at": "t", "done": True, "done_reason": "stop", "eval_count": 2}
    chat.add({**final, "message": {"role": "assistant", "content": ""}})
    generate.add({**final, "response": "", "context": [1, 2]})

    assert chat.chat_response() == {**final, "message": {"role": "assistant", "content": "Hello"}}
    assert generate.generate_response() == {**final, "response": "Hello", "context": [1, 2]}


def test_ollama_requests_are_checked_for_their_shape():
    for body, param in [
        ([], None),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "format": 5}, "format"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
    ]:
        with pytest.raises(GatewayError) as exc_info:
            ollama_dialect.chat_call(body)
        assert exc_info.value.status == 400
        assert exc_info.value.param == param


def test_the_digest_ignores_what_clients_drop_or_rewrite():
    ollama_turns = [
        {"role": "user", "content": "Hi"},
        {
            "role": "assistant",
            "content": "",
            "thinking": "t",
            "tool_calls": [{"function": {"name": "f", "arguments": {"b": 2, "a": 1}}}],
        },
    ]
    openai_turns = [
        {"role": "user", "content": "Hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "x", "function": {"name": "f", "arguments": '{"a": 1, "b": 2}'}}],
        },
    ]

    assert history_digest(ollama_turns) == history_digest(openai_turns)
    assert history_digest(ollama_turns) != history_digest([*ollama_turns, {"role": "user", "content": "Hi"}])
