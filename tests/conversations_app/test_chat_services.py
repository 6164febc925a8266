"""Chat services: the rows an exchange leaves at each step, branches, and the history sent to Ollama."""

from __future__ import annotations

import pytest

from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, Prompt
from conversations_app.services import (
    conversation_switch_branch,
    exchange_chat_messages,
    exchange_complete,
    exchange_fail,
    exchange_interrupt,
    exchange_regenerate,
    exchange_start,
)
from core.exceptions import Conflict, NotFound, ValidationFailed
from tests.admin_app.factories import SystemMessageFactory
from tests.conversations_app.factories import ConversationFactory

pytestmark = pytest.mark.django_db

METRICS = {
    "done": True,
    "done_reason": "stop",
    "total_duration": 2_000_000_000,
    "load_duration": 10_000_000,
    "prompt_eval_count": 12,
    "prompt_eval_duration": 100_000_000,
    "eval_count": 30,
    "eval_duration": 1_800_000_000,
}


@pytest.fixture
def conversation(user):
    return ConversationFactory(owner=user, default_options={"temperature": 0.5, "num_ctx": 4096})


def answered(conversation, prompt: str, answer: str) -> ConversationPromptResponse:
    conversation.refresh_from_db()
    exchange = exchange_start(conversation=conversation, content=prompt)
    return exchange_complete(exchange=exchange, content=answer, metrics=METRICS)


def test_start_stores_prompt_exchange_and_streaming_response_and_moves_the_conversation(conversation):
    before = conversation.last_message_at

    first = exchange_start(conversation=conversation, content="Hi", options={"temperature": 1.2})
    conversation.refresh_from_db()
    second = exchange_start(conversation=conversation, content="More")

    conversation.refresh_from_db()
    assert (first.parent_id, first.position) == (None, 0)
    assert (second.parent_id, second.position) == (first.pk, 1)
    assert conversation.current_exchange_id == second.pk
    assert conversation.last_message_at > before
    assert conversation.message_count == 2
    first.prompt.refresh_from_db()
    assert first.prompt.options == {"temperature": 1.2, "num_ctx": 4096}
    assert second.response.status == AIResponse.Status.STREAMING
    assert second.response.model_name == conversation.model_name
    assert second.response.completed_at is None


def test_start_refuses_a_blank_prompt_and_writes_nothing(conversation):
    with pytest.raises(ValidationFailed):
        exchange_start(conversation=conversation, content="  \n ")

    assert not Prompt.objects.exists()
    assert not ConversationPromptResponse.objects.exists()


def test_start_refuses_a_model_no_longer_offered(conversation):
    conversation.model.is_active = False
    conversation.model.save(update_fields=["is_active"])

    with pytest.raises(Conflict) as exc_info:
        exchange_start(conversation=conversation, content="Hi")

    assert exc_info.value.code == "model_unavailable"
    assert not ConversationPromptResponse.objects.exists()


def test_start_with_a_system_prompt_replaces_the_conversations(conversation):
    conversation.system_message = SystemMessageFactory()
    conversation.save(update_fields=["system_message"])
    version = conversation.version

    exchange = exchange_start(conversation=conversation, content="Hi", system_prompt="Answer in French.")

    conversation.refresh_from_db()
    assert conversation.system_prompt == "Answer in French."
    assert conversation.system_message is None
    assert conversation.version == version + 1
    assert exchange_chat_messages(exchange=exchange)[0] == {"role": "system", "content": "Answer in French."}


def test_complete_stores_content_metrics_and_adds_tokens_to_the_conversation(conversation):
    exchange = answered(conversation, "Hi", "Hello!")
    answered(conversation, "Again", "Hello again!")

    response = AIResponse.objects.get(pk=exchange.response_id)
    assert response.status == AIResponse.Status.COMPLETE
    assert response.content == "Hello!"
    assert response.done_reason == "stop"
    assert response.eval_duration == 1_800_000_000
    assert response.completed_at is not None
    assert Prompt.objects.get(pk=exchange.prompt_id).token_count == 12
    conversation.refresh_from_db()
    assert (conversation.prompt_tokens, conversation.completion_tokens) == (24, 60)
    assert conversation.message_count == 4


def test_the_first_outcome_wins(conversation):
    exchange = exchange_start(conversation=conversation, content="Hi")
    exchange_interrupt(exchange=exchange, content="Hel")

    exchange_complete(exchange=exchange, content="Hello!", metrics=METRICS)
    exchange_fail(exchange=exchange, error="late")

    response = AIResponse.objects.get(pk=exchange.response_id)
    assert (response.status, response.content, response.error) == ("interrupted", "Hel", "")
    conversation.refresh_from_db()
    assert conversation.completion_tokens == 0


def test_fail_keeps_partial_content_and_error_without_tokens(conversation):
    exchange = exchange_start(conversation=conversation, content="Hi")

    exchange_fail(exchange=exchange, error="Ollama failed", content="Hel")

    response = AIResponse.objects.get(pk=exchange.response_id)
    assert (response.status, response.content, response.error) == ("failed", "Hel", "Ollama failed")
    assert response.eval_count is None
    assert response.completed_at is not None


def test_regenerate_makes_a_current_sibling_with_the_same_prompt_text(conversation):
    first = answered(conversation, "Hi", "Hello!")
    second = answered(conversation, "Tell me a joke", "Knock knock")

    again = exchange_regenerate(exchange=second, options={"temperature": 1.5})

    conversation.refresh_from_db()
    assert (again.parent_id, again.position) == (first.pk, 1)
    assert again.prompt.content == "Tell me a joke"
    assert again.prompt_id != second.prompt_id
    assert again.prompt.options == {"temperature": 1.5, "num_ctx": 4096}
    assert again.response.status == AIResponse.Status.STREAMING
    assert conversation.current_exchange_id == again.pk
    assert exchange_regenerate(exchange=first).prompt.options == first.prompt.options


def test_switch_branch_follows_the_latest_child_down_to_a_leaf(conversation):
    # given  q1 ─ q2 ─ q3        (then q2 regenerated as q2b, q2b continued with q3b)
    q1 = answered(conversation, "q1", "a1")
    q2 = answered(conversation, "q2", "a2")
    q3 = answered(conversation, "q3", "a3")
    q2b = exchange_complete(exchange=exchange_regenerate(exchange=q2), content="a2b", metrics=METRICS)
    q3b = answered(conversation, "q3b", "a3b")

    # when / then
    assert conversation_switch_branch(conversation=conversation, exchange=q2).pk == q3.pk
    conversation.refresh_from_db()
    assert conversation.current_exchange_id == q3.pk
    assert conversation_switch_branch(conversation=conversation, exchange=q2b).pk == q3b.pk
    assert conversation_switch_branch(conversation=conversation, exchange=q1).pk == q3b.pk
    assert conversation_switch_branch(conversation=conversation, exchange=q3).pk == q3.pk


def test_switch_branch_refuses_an_exchange_of_another_conversation(conversation, user):
    elsewhere = answered(ConversationFactory(owner=user), "x", "y")
    mine = answered(conversation, "q", "a")

    with pytest.raises(NotFound):
        conversation_switch_branch(conversation=conversation, exchange=elsewhere)

    assert Conversation.objects.get(pk=conversation.pk).current_exchange_id == mine.pk


def test_chat_messages_are_system_then_the_branch_as_turns_then_the_prompt(conversation):
    conversation.system_message = SystemMessageFactory(content="You are terse.")
    conversation.save(update_fields=["system_message"])
    answered(conversation, "q1", "a1")
    failed = exchange_start(conversation=conversation, content="lost question")
    exchange_fail(exchange=failed, error="down")
    conversation.refresh_from_db()
    answered(conversation, "q2", "a2")
    conversation.refresh_from_db()

    exchange = exchange_start(conversation=conversation, content="q3")

    assert exchange_chat_messages(exchange=exchange) == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2"},
        {"role": "user", "content": "q3"},
    ]


def test_own_system_prompt_wins_over_the_system_message_and_none_means_no_system_turn(conversation):
    exchange = exchange_start(conversation=conversation, content="Hi")
    assert exchange_chat_messages(exchange=exchange) == [{"role": "user", "content": "Hi"}]

    Conversation.objects.filter(pk=conversation.pk).update(
        system_prompt="Own words.", system_message=SystemMessageFactory()
    )
    assert exchange_chat_messages(exchange=exchange)[0] == {"role": "system", "content": "Own words."}
