"""The chat loop under concurrency, with real threads, real concurrent transactions and the pool:
no connection held during a stream, concurrent sends forming one chain, one lock order (no deadlock
between deleting a folder and finishing an answer), and answers never left `streaming`."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from conversations_app import services
from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, Folder
from conversations_app.services import chat
from conversations_app.tasks import interrupt_stale_answers
from core.db import released
from core.services import lock_for_update
from tests.conversations_app.chat_client import asgi_post_then_disconnect, post_stream
from tests.conversations_app.factories import ConversationFactory, ExchangeFactory, FolderFactory
from tests.fakes.ollama import DEFAULT_REPLY

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

REPLY = "".join(DEFAULT_REPLY)


def messages_url(conversation) -> str:
    return f"/api/v1/conversations/{conversation.pk}/messages/"


@contextmanager
def small_pool(max_size: int, timeout: float):
    """The connection pool rebuilt with `max_size` connections (and `timeout` to get one)."""
    options = connection.settings_dict["OPTIONS"]["pool"]
    saved = dict(options)
    connections.close_all()
    connection.close_pool()  # type: ignore[attr-defined]  # the stubs lack the pool
    options.update(min_size=1, max_size=max_size, timeout=timeout)
    try:
        yield connection.pool  # type: ignore[attr-defined]
    finally:
        connections.close_all()
        connection.close_pool()  # type: ignore[attr-defined]  # the stubs lack the pool
        options.clear()
        options.update(saved)


def waiting_for_a_lock(count: int, timeout: float = 10) -> None:
    """Block until `count` other sessions of the test database wait for a row lock."""
    deadline = time.monotonic() + timeout

    @released
    def waiting() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            return cursor.fetchone()[0]

    while waiting() < count:
        assert time.monotonic() < deadline, f"fewer than {count} sessions ever waited for a lock"
        time.sleep(0.02)


def test_concurrent_slow_streams_hold_no_connection_while_ollama_answers(user, fake_ollama):
    # given: six conversations, a pool of two connections, and a model answering slowly
    conversations = [ConversationFactory(owner=user) for _ in range(6)]
    fake_ollama.add_model(conversations[0].model_name)
    for conversation in conversations:
        fake_ollama.add_model(conversation.model_name)
    fake_ollama.token_delay = 0.15  # about 1.2 s an answer, longer than the pool's timeout

    with small_pool(max_size=2, timeout=1.0), ThreadPoolExecutor(max_workers=6) as pool:
        # when: all six stream at once
        results = list(
            pool.map(
                lambda conversation: post_stream(
                    messages_url(conversation), user, {"content": "Hi", "stream": True}
                ),
                conversations,
            )
        )

    # then: every one ends with `done`, and every answer is stored whole
    assert [result.status_code for result in results] == [200] * 6
    assert [result.names()[-1] for result in results] == ["done"] * 6
    assert all(result.text() == REPLY for result in results)
    assert list(AIResponse.objects.values_list("status", flat=True).distinct()) == ["complete"]


def test_concurrent_sends_to_one_conversation_form_one_chain(user):
    # given: a conversation with one exchange, its row locked by another transaction
    conversation = ConversationFactory(owner=user)
    first = ExchangeFactory(conversation=conversation, position=0)
    Conversation.objects.filter(pk=conversation.pk).update(current_exchange=first)
    locked, release = threading.Event(), threading.Event()

    @released
    def hold_the_conversation() -> None:
        with transaction.atomic():
            lock_for_update(Conversation, conversation.pk)
            locked.set()
            release.wait(10)

    @released
    def send(text: str) -> None:
        services.exchange_start(conversation=conversation, content=text)

    with ThreadPoolExecutor(max_workers=5) as pool:
        holder = pool.submit(hold_the_conversation)
        assert locked.wait(10)
        # when: four messages are sent at once and all wait for the lock
        sends = [pool.submit(send, f"message {n}") for n in range(4)]
        waiting_for_a_lock(4)
        release.set()
        holder.result()
        for future in sends:
            future.result()

    # then: they form one chain below the first exchange, each the child of the one before
    chain = list(ConversationPromptResponse.objects.filter(conversation=conversation).order_by("position"))
    assert [exchange.position for exchange in chain] == [0, 1, 2, 3, 4]
    assert [exchange.parent_id for exchange in chain] == [None, *[e.pk for e in chain[:-1]]]
    conversation.refresh_from_db()
    assert conversation.current_exchange_id == chain[-1].pk


def test_deleting_a_folder_while_an_answer_finishes_does_not_deadlock(user, monkeypatch):
    # given: an answer streaming in a conversation of a folder
    folder = FolderFactory(owner=user)
    conversation = ConversationFactory(owner=user, folder=folder)
    exchange = ExchangeFactory(conversation=conversation, response__status=AIResponse.Status.STREAMING)
    finisher_has_the_conversation, deleter_waits = threading.Event(), threading.Event()
    real_lock = chat.lock_for_update

    def lock_then_pause(model, pk):
        row = real_lock(model, pk)
        finisher_has_the_conversation.set()
        deleter_waits.wait(10)
        return row

    monkeypatch.setattr(chat, "lock_for_update", lock_then_pause)

    finish = released(lambda: services.exchange_complete(exchange=exchange, content="The answer"))
    delete = released(lambda: services.folder_soft_delete(folder=folder))

    with ThreadPoolExecutor(max_workers=2) as pool:
        # when: the answer's end has locked the conversation, and the folder's deletion starts
        finished = pool.submit(finish)
        assert finisher_has_the_conversation.wait(10)
        deleted = pool.submit(delete)
        waiting_for_a_lock(1)
        deleter_waits.set()
        # then: both complete (one waits for the other; neither is chosen as a deadlock victim)
        finished.result(timeout=20)
        deleted.result(timeout=20)

    response = AIResponse.all_objects.get(pk=exchange.response_id)
    assert (response.status, response.content) == ("complete", "The answer")
    assert response.deleted_at is not None
    assert Folder.all_objects.get(pk=folder.pk).deleted_at == response.deleted_at


def test_an_answer_whose_outcome_cannot_be_stored_is_stored_when_the_database_is_back(
    user, fake_ollama, monkeypatch
):
    # given: PostgreSQL refuses the first two attempts to store the finished answer
    conversation = ConversationFactory(owner=user)
    fake_ollama.add_model(conversation.model_name)
    real_complete = chat.exchange_complete
    attempts = []

    def flaky_complete(**kwargs):
        attempts.append(1)
        if len(attempts) <= 2:
            raise OperationalError("connection failed: server closed the connection unexpectedly")
        return real_complete(**kwargs)

    monkeypatch.setattr(chat, "exchange_complete", flaky_complete)

    # when
    result = post_stream(messages_url(conversation), user, {"content": "Hi", "stream": True})

    # then: the client is told at once, and the text that arrived is stored once the database answers
    assert result.names()[-1] == "error"
    assert result.events[-1].data["code"] == "database_unavailable"
    assert result.events[-1].data["status"] == "pending"
    assert result.text() == REPLY
    response = AIResponse.objects.get()
    assert (response.status, response.content) == ("complete", REPLY)
    assert len(attempts) == 3


def test_answers_left_streaming_by_a_dead_process_are_swept_as_interrupted(user, settings):
    # given: one answer silent for longer than the read timeout and the margin, one still alive
    settings.OLLAMA_READ_TIMEOUT = 60
    settings.CHAT_STALE_MARGIN_SECONDS = 30
    conversation = ConversationFactory(owner=user)
    stale = ExchangeFactory(
        conversation=conversation, response__status="streaming", response__content="Half an ans"
    )
    alive = ExchangeFactory(conversation=conversation, response__status="streaming")
    AIResponse.objects.filter(pk=stale.response_id).update(updated_at=timezone.now() - timedelta(seconds=91))
    AIResponse.objects.filter(pk=alive.response_id).update(updated_at=timezone.now() - timedelta(seconds=80))

    # when
    swept = interrupt_stale_answers.delay().get()

    # then: the dead one is interrupted with what it had, the living one is left to finish
    assert swept == 1
    stale_response = AIResponse.objects.get(pk=stale.response_id)
    assert stale_response.status == "interrupted"
    assert stale_response.content == "Half an ans"
    assert stale_response.error == chat.STALE_ERROR
    assert stale_response.completed_at is not None
    assert AIResponse.objects.get(pk=alive.response_id).status == "streaming"


def test_a_streaming_answer_shows_it_is_alive_so_the_sweep_leaves_it(user, fake_ollama, settings):
    # given: a heartbeat after every piece, and a model that stops sending after three
    settings.CHAT_HEARTBEAT_SECONDS = 0
    conversation = ConversationFactory(owner=user)
    fake_ollama.add_model(conversation.model_name)
    fake_ollama.hold_after = 3
    seen = {}

    @released
    def look_while_the_model_is_silent() -> bool:
        assert fake_ollama.wait_until_held()
        time.sleep(0.3)
        response = AIResponse.objects.get()
        seen.update(status=response.status, moved=response.updated_at > response.created_at)
        fake_ollama.release()
        return True

    # when
    asgi_post_then_disconnect(
        messages_url(conversation), user, {"content": "Hi"}, wait_for=look_while_the_model_is_silent
    )

    # then: while it streamed, its `updated_at` moved past its creation
    assert seen == {"status": "streaming", "moved": True}


def test_stream_events_carry_ids_and_keep_alive_comments_while_the_model_is_silent(
    user, fake_ollama, settings
):
    # given: a model slower than the keep-alive interval
    settings.SSE_KEEPALIVE_SECONDS = 0.05
    conversation = ConversationFactory(owner=user)
    fake_ollama.add_model(conversation.model_name)
    fake_ollama.token_delay = 0.12

    # when
    result = post_stream(messages_url(conversation), user, {"content": "Hi", "stream": True})

    # then
    assert result.names()[-1] == "done"
    assert [event.id for event in result.events] == [str(n) for n in range(1, len(result.events) + 1)]
    assert b": keep-alive\n\n" in result.body
