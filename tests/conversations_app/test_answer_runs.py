"""Answers that outlive the tab: re-attaching to an answer's events from another client, stopping it
from another client, and what happens when Redis, which carries both, is down. Run through the ASGI
stack as a server runs it; every request is its own event loop (another web worker)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.conf import settings

from conversations_app.models import AIResponse, ConversationPromptResponse
from conversations_app.services.runs import events_key
from tests.conversations_app.chat_client import SSEEvent, StreamResult, asgi_request, post_stream
from tests.conversations_app.factories import ConversationFactory, ExchangeFactory
from tests.fakes.ollama import DEFAULT_REPLY
from tests.fakes.redis import closed_port, point_cache_at

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

REPLY = "".join(DEFAULT_REPLY)
STREAMED = ["start", *["token"] * len(DEFAULT_REPLY), "done"]


@pytest.fixture
def conversation(user, fake_ollama):
    conversation = ConversationFactory(owner=user)
    fake_ollama.add_model(conversation.model_name)
    return conversation


def messages_url(conversation) -> str:
    return f"/api/v1/conversations/{conversation.pk}/messages/"


def events_url(response_id) -> str:
    return f"/api/v1/conversations/responses/{response_id}/events/"


def stop_url(response_id) -> str:
    return f"/api/v1/conversations/responses/{response_id}/stop/"


def only_exchange() -> ConversationPromptResponse:
    return ConversationPromptResponse.objects.select_related("prompt", "response").get()


def reattach(
    response_id,
    user,
    *,
    last_event_id: int | None = None,
    on_events: Callable[[list[SSEEvent]], None] | None = None,
) -> StreamResult:
    headers = [(b"last-event-id", str(last_event_id).encode())] if last_event_id is not None else []
    return asgi_request(events_url(response_id), user, {}, method="GET", headers=headers, on_events=on_events)


def after_events(count: int) -> tuple[threading.Event, Callable[[list[SSEEvent]], None]]:
    """An event set once a stream has delivered `count` events, and the `on_events` that sets it."""
    reached = threading.Event()

    def on_events(events: list[SSEEvent]) -> None:
        if len(events) >= count:
            reached.set()

    return reached, on_events


def test_reattaching_mid_answer_replays_what_was_generated_then_follows_it_to_the_end(
    user, conversation, fake_ollama
):
    # given an answer streaming to its first client, held after 3 tokens
    fake_ollama.hold_after = 3
    with ThreadPoolExecutor(max_workers=3) as pool:
        original = pool.submit(
            post_stream, messages_url(conversation), user, {"content": "Hi", "stream": True}
        )
        assert fake_ollama.wait_until_held()
        response_id = only_exchange().response_id

        # when a second client re-attaches from the start, and a third after event 2
        replayed, on_replay = after_events(4)
        resumed, on_resume = after_events(2)
        whole = pool.submit(reattach, response_id, user, on_events=on_replay)
        tail = pool.submit(reattach, response_id, user, last_event_id=2, on_events=on_resume)
        assert replayed.wait(10)
        assert resumed.wait(10)
        fake_ollama.release(resume=True)
        first, second, third = original.result(30), whole.result(30), tail.result(30)

    # then the second gets the same events as the first: the replay, then the live tail
    assert first.names() == STREAMED
    assert second.status_code == 200
    assert second.headers["Content-Type"].startswith("text/event-stream")
    assert second.names() == STREAMED
    assert [e.id for e in second.events] == [e.id for e in first.events]
    assert second.text() == REPLY
    assert second.events[-1].data == first.events[-1].data
    assert second.events[-1].data["status"] == "complete"
    # and the third only those after the second event
    assert [e.id for e in third.events] == [str(n) for n in range(3, len(STREAMED) + 1)]
    assert third.text() == "".join(DEFAULT_REPLY[1:])
    assert only_exchange().response.status == AIResponse.Status.COMPLETE


def test_reattaching_to_a_finished_answer_replays_its_stream_while_it_is_kept(user, conversation):
    created = post_stream(messages_url(conversation), user, {"content": "Hi"}).json()

    result = reattach(created["response"]["id"], user)

    assert result.status_code == 200
    assert result.names() == STREAMED
    assert result.text() == REPLY
    assert result.events[-1].data["status"] == "complete"


def test_reattaching_to_a_finished_answer_whose_stream_expired_sends_the_stored_answer_whole(
    user, conversation
):
    # given a finished answer whose events are no longer in Redis
    created = post_stream(messages_url(conversation), user, {"content": "Hi"}).json()
    response_id = created["response"]["id"]
    redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]).delete(events_key(response_id))

    # when
    result = reattach(response_id, user)
    rest = reattach(response_id, user, last_event_id=1)

    # then
    assert result.names() == ["start", "token", "done"]
    assert [e.id for e in result.events] == ["1", "2", "3"]
    assert result.events[1].data == {"content": REPLY}
    done = result.events[-1].data
    assert done["status"] == "complete"
    assert done["response_id"] == response_id
    assert done["exchange_id"] == created["id"]
    assert done["metrics"]["eval_count"] == len(DEFAULT_REPLY)
    assert rest.names() == ["token", "done"]


def test_a_stored_answer_with_reasoning_is_resent_with_it(user, conversation):
    # given a finished answer that thought, whose events are no longer in Redis
    exchange = ExchangeFactory(
        conversation=conversation, response__content="42", response__thinking="Six times seven."
    )

    # when
    result = reattach(exchange.response_id, user)

    # then
    assert result.names() == ["start", "thinking", "token", "done"]
    assert result.events[1].data == {"content": "Six times seven."}
    assert result.events[2].data == {"content": "42"}


def test_stop_from_another_client_interrupts_the_answer_and_ends_every_stream_with_done(
    user, conversation, fake_ollama
):
    # given an answer held after 3 tokens, streamed to its first client and re-attached by a second
    fake_ollama.hold_after = 3
    with ThreadPoolExecutor(max_workers=2) as pool:
        original = pool.submit(
            post_stream, messages_url(conversation), user, {"content": "Hi", "stream": True}
        )
        assert fake_ollama.wait_until_held()
        response_id = only_exchange().response_id
        attached, on_events = after_events(4)
        second = pool.submit(reattach, response_id, user, on_events=on_events)
        assert attached.wait(10)

        # when a third client stops it
        stop = asgi_request(stop_url(response_id), user, {}, accept="application/json")
        first, follower = original.result(30), second.result(30)

    # then Ollama's request is closed and what arrived is kept, interrupted
    assert fake_ollama.wait_until_closed_by_client(5)
    assert stop.status_code == 200
    body = stop.json()
    assert body["response"]["status"] == "interrupted"
    assert body["response"]["content"] == "".join(DEFAULT_REPLY[:3])
    for stream in (first, follower):
        assert stream.names() == ["start", "token", "token", "token", "done"]
        assert stream.events[-1].data["status"] == "interrupted"
        assert stream.events[-1].id == "5"
    response = only_exchange().response
    assert response.status == AIResponse.Status.INTERRUPTED
    assert response.content == "".join(DEFAULT_REPLY[:3])
    assert response.completed_at is not None


def test_stop_on_a_finished_answer_answers_its_final_state(user, conversation):
    created = post_stream(messages_url(conversation), user, {"content": "Hi"}).json()

    stop = asgi_request(stop_url(created["response"]["id"]), user, {}, accept="application/json")

    assert stop.status_code == 200
    assert stop.json()["id"] == created["id"]
    assert stop.json()["response"]["status"] == "complete"
    assert stop.json()["response"]["content"] == REPLY
    assert only_exchange().response.status == AIResponse.Status.COMPLETE


def test_another_users_answer_is_not_found_to_follow_or_stop(user, other_user, conversation):
    created = post_stream(messages_url(conversation), user, {"content": "Hi"}).json()
    response_id = created["response"]["id"]

    follow = reattach(response_id, other_user)
    stop = asgi_request(stop_url(response_id), other_user, {}, accept="application/json")

    assert follow.status_code == 404
    assert follow.json()["error"]["code"] == "not_found"
    assert stop.status_code == 404
    assert stop.json()["error"]["code"] == "not_found"
    assert only_exchange().response.status == AIResponse.Status.COMPLETE


def test_with_redis_down_the_answer_still_streams_to_its_client_and_reattaching_is_503(
    user, conversation, fake_ollama, settings
):
    # given Redis is unreachable and an answer held after 3 tokens
    point_cache_at(settings, closed_port())
    fake_ollama.hold_after = 3
    with ThreadPoolExecutor(max_workers=1) as pool:
        original = pool.submit(
            post_stream, messages_url(conversation), user, {"content": "Hi", "stream": True}
        )
        assert fake_ollama.wait_until_held()
        response_id = only_exchange().response_id

        # when another client tries to re-attach, then the answer goes on
        follow = reattach(response_id, user)
        fake_ollama.release(resume=True)
        first = original.result(30)

    # then
    assert follow.status_code == 503
    assert follow.json()["error"]["code"] == "service_unavailable"
    assert first.names() == STREAMED
    assert first.text() == REPLY
    response = only_exchange().response
    assert response.status == AIResponse.Status.COMPLETE
    assert response.content == REPLY


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
def test_following_a_finished_answer_costs_a_fixed_number_of_queries(
    user, api_client, django_assert_num_queries
):
    # given a finished answer of the caller's, its events long gone from Redis
    exchange = ExchangeFactory(conversation=ConversationFactory(owner=user))

    # when
    with django_assert_num_queries(2):  # the caller; the exchange with its answer
        response = api_client.get(events_url(exchange.response_id), HTTP_LAST_EVENT_ID="1")
        body = b"".join(response)

    # then
    assert response.status_code == 200
    assert body.count(b"event: ") == 2
    assert b"id: 2\nevent: token" in body
    assert exchange.response.content.encode() in body
