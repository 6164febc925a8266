"""The history sent to Ollama fits the model's context: the system prompt and the new prompt always,
then the newest earlier turns that fit; what was left out is stored and shown; the cost of building
it follows the budget, not the length of the conversation."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from conversations_app.models import Conversation, ConversationPromptResponse, Prompt
from conversations_app.selectors import history
from conversations_app.services import chat
from conversations_app.services.chat import context_budget, estimated_tokens, exchange_chat_messages
from tests.conversations_app.factories import ConversationFactory, ExchangeFactory

pytestmark = pytest.mark.django_db

# Statements of one message sent and answered whole (see the test that pins it).
SEND_QUERIES = 22
# Each earlier turn: a 90-byte prompt and a 90-byte answer, so 60 tokens by the estimate.
TURN_TEXT = "x" * 90


def branch(conversation, length: int) -> ConversationPromptResponse | None:
    """`length` exchanges, each the child of the one before; returns the last (the current one)."""
    parent = None
    for n in range(length):
        parent = ExchangeFactory(
            conversation=conversation,
            parent=parent,
            prompt__content=f"{n:02d}" + TURN_TEXT[2:],
            response__content=f"{n:02d}" + TURN_TEXT[2:],
        )
    Conversation.objects.filter(pk=conversation.pk).update(current_exchange=parent)
    return parent


def new_prompt(conversation, parent, *, options: dict) -> ConversationPromptResponse:
    return ExchangeFactory(
        conversation=conversation, parent=parent, prompt__content="And now?", prompt__options=options
    )


def test_the_token_estimate_is_three_bytes_a_token_rounded_up():
    assert estimated_tokens("") == 0
    assert estimated_tokens("abc") == 1
    assert estimated_tokens("abcd") == 2
    assert estimated_tokens("日本") == 2  # 6 bytes


def test_the_budget_keeps_room_for_the_answer():
    assert context_budget(options={"num_ctx": 1000}, model_context=None) == 750
    assert context_budget(options={"num_ctx": 1000, "num_predict": 100}, model_context=None) == 900
    assert context_budget(options={"num_ctx": 1000, "num_predict": 900}, model_context=None) == 500
    # without num_ctx: the model's trained context, at most what Ollama uses by default
    assert context_budget(options={}, model_context=2048) == 1536
    assert context_budget(options={}, model_context=131072) == 3072


def test_only_the_newest_turns_that_fit_are_sent_and_the_rest_is_counted(user):
    # given: 20 earlier turns of 60 tokens, a context of 400 tokens (300 for history and prompts)
    conversation = ConversationFactory(owner=user, system_prompt="Be brief.")
    exchange = new_prompt(conversation, branch(conversation, 20), options={"num_ctx": 400})

    # when
    messages = exchange_chat_messages(exchange=exchange)

    # then: system prompt, the 4 newest turns (240 tokens; a fifth would pass 300 - 3 - 3), the prompt
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[-1] == {"role": "user", "content": "And now?"}
    turns = messages[1:-1]
    assert [m["content"][:2] for m in turns[::2]] == ["16", "17", "18", "19"]
    assert [m["role"] for m in turns] == ["user", "assistant"] * 4
    assert Prompt.objects.get(pk=exchange.prompt_id).history_omitted == 16


def test_a_branch_that_fits_is_sent_whole_and_nothing_is_counted_as_left_out(user):
    conversation = ConversationFactory(owner=user)
    exchange = new_prompt(conversation, branch(conversation, 5), options={"num_ctx": 8192})

    messages = exchange_chat_messages(exchange=exchange)

    assert len(messages) == 5 * 2 + 1
    assert Prompt.objects.get(pk=exchange.prompt_id).history_omitted == 0


def test_the_history_says_how_many_exchanges_the_model_was_not_sent(api_client, user, fake_ollama):
    # given: a long branch and a small context
    conversation = ConversationFactory(owner=user)
    fake_ollama.add_model(conversation.model_name)
    branch(conversation, 12)

    # when
    sent = api_client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"content": "And now?", "options": {"num_ctx": 300}},
        format="json",
    )

    # then: the stored exchange and the history say what the model did not see
    assert sent.status_code == 201, sent.content
    assert sent.json()["prompt"]["history_omitted"] == 9
    history = api_client.get(f"/api/v1/conversations/{conversation.pk}/messages/?page_size=200").json()
    assert history["results"][-1]["prompt"]["history_omitted"] == 9
    assert history["results"][0]["prompt"]["history_omitted"] == 0
    assert len(fake_ollama.chat_requests[0]["messages"]) == 3 * 2 + 1


def recursive_walk_rows(exchange, budget_bytes: int) -> int:
    """How many exchanges PostgreSQL walked to gather the turns (EXPLAIN ANALYZE of the query)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + history._TURNS_WITHIN_SQL,
            {"start": exchange.parent_id, "budget": budget_bytes},
        )
        plan = cursor.fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)

    def walk(node):
        if node.get("Node Type") == "Recursive Union":
            return node["Actual Rows"]
        return max((walk(child) for child in node.get("Plans", [])), default=0)

    return walk(plan[0]["Plan"])


@pytest.mark.parametrize("length", [10, 120])
def test_building_the_history_costs_the_same_at_any_length(user, length, django_assert_num_queries):
    # given: a conversation of `length` exchanges, a context that holds 4 turns
    conversation = ConversationFactory(owner=user)
    exchange = new_prompt(conversation, branch(conversation, length), options={"num_ctx": 400})

    # when: the conversation with its system prompt, its documents, the turns within the budget, the
    # omitted count
    with django_assert_num_queries(4):
        messages = exchange_chat_messages(exchange=exchange)

    # then: the same turns are sent, and the walk up the branch stopped after the budget (4 turns
    # and the one that did not fit), however long the conversation is
    assert len(messages) == 4 * 2 + 1
    budget = (context_budget(options={"num_ctx": 400}, model_context=None) - 3) * chat.BYTES_PER_TOKEN
    assert recursive_walk_rows(exchange, budget) == 5


def message_writes() -> dict[str, tuple[int, int]]:
    """Rows inserted and updated in prompts and responses so far in this transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables "
            "WHERE relname IN ('conversations_app_prompt', 'conversations_app_airesponse')"
        )
        return {name: (inserted, updated) for name, inserted, updated in cursor.fetchall()}


def test_a_new_message_is_written_once_with_its_owner(user):
    # given
    conversation = ConversationFactory(owner=user)
    before = message_writes()

    # when
    exchange = chat.exchange_start(conversation=conversation, content="Hello")

    # then: the prompt and the response were inserted with their owner, never updated afterwards
    after = message_writes()
    for table in ("conversations_app_prompt", "conversations_app_airesponse"):
        inserted, updated = (a - b for a, b in zip(after[table], before.get(table, (0, 0)), strict=True))
        assert (table, inserted, updated) == (table, 1, 0)
    assert Prompt.objects.get(pk=exchange.prompt_id).owner_id == user.pk


@pytest.mark.parametrize("length", [3, 60])
def test_sending_a_message_costs_the_same_statements_at_any_length(
    api_client, user, fake_ollama, length, django_assert_num_queries
):
    # given: a conversation of `length` exchanges, all of which fit in the context
    conversation = ConversationFactory(owner=user, system_prompt="Be brief.")
    fake_ollama.add_model(conversation.model_name)
    branch(conversation, length)

    # when: authentication; the conversation (owner check), locked with its model and system
    # message, the current exchange, the prompt, response and exchange, the conversation's update;
    # the documents, the turns; the answer's end (locks, response, prompt's token count,
    # conversation's totals); the stored exchange as a row, plus the transactions' savepoints
    with django_assert_num_queries(SEND_QUERIES) as context:
        sent = api_client.post(
            f"/api/v1/conversations/{conversation.pk}/messages/",
            {"content": "And now?", "options": {"num_ctx": 65536}},
            format="json",
        )

    # then
    assert sent.status_code == 201, sent.content
    assert len(fake_ollama.chat_requests[0]["messages"]) == 1 + length * 2 + 1
    # the conversation is read for the owner check, locked to append, locked to finish: the history is
    # built from the row locked to append, not read again
    reads = [q for q in context.captured_queries if 'FROM "conversations_app_conversation"' in q["sql"]]
    assert len(reads) == 3
