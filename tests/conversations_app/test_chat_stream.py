"""Streamed chat (Server-Sent Events) through the ASGI stack, run as a server runs it (its own event
loop and worker threads, the connection pool): success, Ollama failing, the client leaving."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, Prompt
from tests.conversations_app.chat_client import asgi_post_then_disconnect, post_stream
from tests.conversations_app.factories import ConversationFactory
from tests.fakes.ollama import DEFAULT_REPLY

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

REPLY = "".join(DEFAULT_REPLY)


@pytest.fixture
def conversation(user, fake_ollama):
    conversation = ConversationFactory(owner=user)
    fake_ollama.add_model(conversation.model_name)
    return conversation


def messages_url(conversation) -> str:
    return f"/api/v1/conversations/{conversation.pk}/messages/"


def only_exchange() -> ConversationPromptResponse:
    return ConversationPromptResponse.objects.select_related("prompt", "response").get()


def test_stream_sends_start_tokens_and_done_and_stores_the_complete_answer(user, conversation, fake_ollama):
    # when
    result = post_stream(messages_url(conversation), user, {"content": "Hi", "stream": True})

    # then
    assert result.status_code == 200
    assert result.headers["Content-Type"].startswith("text/event-stream")
    assert result.headers["Cache-Control"] == "no-cache"
    assert result.headers["X-Accel-Buffering"] == "no"
    assert "Content-Encoding" not in result.headers
    assert result.names() == ["start", *["token"] * len(DEFAULT_REPLY), "done"]
    assert result.text() == REPLY
    exchange = only_exchange()
    start, done = result.events[0].data, result.events[-1].data
    assert start["exchange_id"] == str(exchange.pk)
    assert start["prompt_id"] == str(exchange.prompt_id)
    assert start["response_id"] == str(exchange.response_id)
    assert (start["parent_id"], start["position"]) == (None, 0)
    assert done["exchange_id"] == str(exchange.pk)
    assert done["status"] == "complete"
    assert done["done_reason"] == "stop"
    assert done["metrics"]["eval_count"] == len(DEFAULT_REPLY)
    assert all(isinstance(v, int) for v in done["metrics"].values())
    assert exchange.response.status == AIResponse.Status.COMPLETE
    assert exchange.response.content == REPLY
    assert exchange.response.eval_duration == done["metrics"]["eval_duration"]
    assert exchange.prompt.token_count == done["metrics"]["prompt_eval_count"]
    conversation.refresh_from_db()
    assert conversation.current_exchange_id == exchange.pk
    assert conversation.completion_tokens == len(DEFAULT_REPLY)
    assert conversation.message_count == 2


def test_accept_event_stream_asks_for_a_stream_too(user, conversation):
    result = post_stream(messages_url(conversation), user, {"content": "Hi"}, accept="text/event-stream")

    assert result.names()[0] == "start"
    assert result.names()[-1] == "done"


def test_regenerate_streams_like_chat(user, conversation, fake_ollama):
    first = post_stream(messages_url(conversation), user, {"content": "Hi"}).json()
    fake_ollama.reply_tokens = ["Another", " answer"]

    result = post_stream(
        f"/api/v1/conversations/{conversation.pk}/exchanges/{first['id']}/regenerate/", user, {"stream": True}
    )

    assert result.text() == "Another answer"
    sibling = ConversationPromptResponse.objects.get(pk=result.events[0].data["exchange_id"])
    assert sibling.parent_id is None
    assert sibling.position == 0
    assert sibling.response.content == "Another answer"
    conversation.refresh_from_db()
    assert conversation.current_exchange_id == sibling.pk


def test_ollama_cut_mid_stream_ends_with_an_error_event_and_a_failed_partial_answer(
    user, conversation, fake_ollama
):
    fake_ollama.cut_after = 3

    result = post_stream(messages_url(conversation), user, {"content": "Hi", "stream": True})

    assert result.status_code == 200
    assert result.names() == ["start", "token", "token", "token", "error"]
    error = result.events[-1].data
    assert error["code"] == "ollama_stream"
    assert error["status"] == "failed"
    exchange = only_exchange()
    assert error["exchange_id"] == str(exchange.pk)
    assert exchange.response.status == AIResponse.Status.FAILED
    assert exchange.response.content == "".join(DEFAULT_REPLY[:3])
    assert exchange.response.error == error["message"]
    assert exchange.response.completed_at is not None


def test_ollama_down_answers_503_json_before_any_event(user, conversation, ollama_down):
    result = post_stream(messages_url(conversation), user, {"content": "Hi", "stream": True})

    assert result.status_code == 503
    assert result.json()["error"]["code"] == "ollama_unavailable"
    exchange = only_exchange()
    assert exchange.prompt.content == "Hi"
    assert exchange.response.status == AIResponse.Status.FAILED


def test_unknown_model_answers_409_json_before_any_event(user, fake_ollama):
    conversation = ConversationFactory(owner=user)

    result = post_stream(messages_url(conversation), user, {"content": "Hi"}, accept="text/event-stream")

    assert result.status_code == 409
    assert result.json()["error"]["code"] == "model_not_installed"
    assert only_exchange().response.status == AIResponse.Status.FAILED


def test_bad_input_with_accept_event_stream_is_a_json_400(user, conversation):
    result = post_stream(messages_url(conversation), user, {"content": ""}, accept="text/event-stream")

    assert result.status_code == 400
    assert "content" in result.json()["error"]["fields"]
    assert not Prompt.objects.exists()


def test_prompt_and_streaming_response_are_stored_while_ollama_answers(user, conversation, fake_ollama):
    fake_ollama.hold_after = 2
    seen: dict = {}

    def look_at_the_database() -> None:
        exchange = only_exchange()
        seen["status"] = exchange.response.status
        seen["prompt"] = exchange.prompt.content
        seen["current"] = Conversation.objects.get(pk=conversation.pk).current_exchange_id == exchange.pk

    asgi_post_then_disconnect(
        messages_url(conversation),
        user,
        {"content": "Hold on", "stream": True},
        wait_for=fake_ollama.wait_until_held,
        while_connected=look_at_the_database,
    )

    assert seen == {"status": "streaming", "prompt": "Hold on", "current": True}


def _release_when_gone(fake_ollama) -> Callable[[], None]:
    """An `on_disconnect` that lets the held answer go on once the client has left."""

    def release() -> None:
        threading.Timer(0.1, fake_ollama.release, kwargs={"resume": True}).start()

    return release


def test_client_disconnect_mid_stream_leaves_the_answer_to_complete_with_the_whole_text(
    user, conversation, fake_ollama
):
    """A client that hangs up no longer stops its answer (it used to be stored `interrupted`): the
    answer is produced and stored to the end, to be read or re-attached to later."""
    # given Ollama sends 3 tokens, then goes quiet until the client has left
    fake_ollama.hold_after = 3

    # when the client leaves after the start event and the 3 tokens
    status, events = asgi_post_then_disconnect(
        messages_url(conversation),
        user,
        {"content": "Hi", "stream": True},
        disconnect_after_events=4,
        on_disconnect=_release_when_gone(fake_ollama),
    )

    # then
    assert status == 200
    assert [e.event for e in events] == ["start", "token", "token", "token"]
    exchange = only_exchange()
    assert exchange.response.status == AIResponse.Status.COMPLETE
    assert exchange.response.content == REPLY
    assert exchange.response.completed_at is not None
    assert exchange.response.error == ""
    conversation.refresh_from_db()
    assert conversation.current_exchange_id == exchange.pk
    assert conversation.completion_tokens == len(DEFAULT_REPLY)


def test_client_disconnect_while_waiting_for_a_whole_answer_leaves_it_to_complete_too(
    user, conversation, fake_ollama
):
    """Without streaming as well, a client that hangs up no longer interrupts the answer."""
    fake_ollama.hold_after = 2

    status, events = asgi_post_then_disconnect(
        messages_url(conversation),
        user,
        {"content": "Hi"},
        accept="application/json",
        wait_for=fake_ollama.wait_until_held,
        on_disconnect=_release_when_gone(fake_ollama),
    )

    assert status is None
    assert events == []
    response = only_exchange().response
    assert response.status == AIResponse.Status.COMPLETE
    assert response.content == REPLY
