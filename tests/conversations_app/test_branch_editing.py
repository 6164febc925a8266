"""Editing a prompt (a new sibling, answered) and deleting an exchange with its branch (to the trash
and back)."""

from __future__ import annotations

import pytest

from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, Prompt
from conversations_app.services import trash_purge_expired
from tests.conversations_app.chat_client import post_stream
from tests.conversations_app.factories import ConversationFactory, ExchangeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(user, fake_ollama):
    conversation = ConversationFactory(owner=user, system_prompt="Be brief.")
    fake_ollama.add_model(conversation.model_name)
    return conversation


def messages_url(conversation_id) -> str:
    return f"/api/v1/conversations/{conversation_id}/messages/"


def exchange_url(conversation_id, exchange_id, action: str = "") -> str:
    return f"/api/v1/conversations/{conversation_id}/exchanges/{exchange_id}/" + (
        f"{action}/" if action else ""
    )


def say(client, fake_ollama, conversation, prompt: str, answer: str) -> dict:
    fake_ollama.reply_tokens = [answer]
    response = client.post(messages_url(conversation.pk), {"content": prompt}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def branch_texts(client, conversation) -> list[tuple[str, str]]:
    history = client.get(messages_url(conversation.pk)).json()["results"]
    return [(e["prompt"]["content"], e["response"]["content"]) for e in history]


def test_editing_a_prompt_answers_a_new_sibling_that_becomes_current(api_client, conversation, fake_ollama):
    # given
    say(api_client, fake_ollama, conversation, "Q1", "A1")
    q2 = say(api_client, fake_ollama, conversation, "Q2", "A2")
    say(api_client, fake_ollama, conversation, "Q3", "A3")

    # when: the second prompt is edited
    fake_ollama.reply_tokens = ["A2 edited"]
    edited = api_client.post(
        exchange_url(conversation.pk, q2["id"], "edit"),
        {"content": "Q2, better", "options": {"temperature": 0.1}},
        format="json",
    )

    # then: a sibling with the new text, answered with the branch above it only
    assert edited.status_code == 201, edited.content
    body = edited.json()
    assert body["prompt"]["content"] == "Q2, better"
    assert body["prompt"]["options"] == {"temperature": 0.1}
    assert body["response"]["content"] == "A2 edited"
    assert body["siblings"] == {"ids": [q2["id"], body["id"]], "index": 1, "count": 2}
    assert [(m["role"], m["content"]) for m in fake_ollama.chat_requests[-1]["messages"]] == [
        ("system", "Be brief."),
        ("user", "Q1"),
        ("assistant", "A1"),
        ("user", "Q2, better"),
    ]
    assert branch_texts(api_client, conversation) == [("Q1", "A1"), ("Q2, better", "A2 edited")]
    # the old branch stays reachable through the sibling
    assert api_client.post(exchange_url(conversation.pk, q2["id"], "select")).status_code == 200
    assert branch_texts(api_client, conversation) == [("Q1", "A1"), ("Q2", "A2"), ("Q3", "A3")]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_edit_can_be_streamed(user, conversation, fake_ollama):
    root = ExchangeFactory(conversation=conversation, prompt__content="Q1", response__content="A1")
    Conversation.objects.filter(pk=conversation.pk).update(current_exchange=root)
    fake_ollama.reply_tokens = ["B", "1"]

    result = post_stream(
        exchange_url(conversation.pk, root.pk, "edit"), user, {"content": "Q1b", "stream": True}
    )

    assert result.status_code == 200
    assert result.names() == ["start", "token", "token", "done"]
    assert result.text() == "B1"
    sibling = ConversationPromptResponse.objects.select_related("prompt", "response").get(
        pk=result.events[0].data["exchange_id"]
    )
    assert (sibling.parent_id, sibling.position, sibling.prompt.content) == (None, 0, "Q1b")
    assert (sibling.response.status, sibling.response.content) == ("complete", "B1")


@pytest.mark.parametrize("content", ["", "   ", None])
def test_an_edit_without_text_is_a_400_and_writes_nothing(api_client, conversation, content):
    exchange = ExchangeFactory(conversation=conversation)
    before = Prompt.objects.count()

    response = api_client.post(
        exchange_url(conversation.pk, exchange.pk, "edit"), {"content": content}, format="json"
    )

    assert response.status_code == 400
    assert "content" in response.json()["error"]["fields"]
    assert Prompt.objects.count() == before


def test_another_users_exchange_cannot_be_edited_or_deleted(
    api_client, conversation, other_user, fake_ollama
):
    theirs = ExchangeFactory(conversation=ConversationFactory(owner=other_user))
    mine = ExchangeFactory(conversation=conversation)

    for url in [
        exchange_url(theirs.conversation_id, theirs.pk, "edit"),
        exchange_url(conversation.pk, theirs.pk, "edit"),
        exchange_url(theirs.conversation_id, mine.pk, "edit"),
    ]:
        assert api_client.post(url, {"content": "x"}, format="json").status_code == 404
    for url in [exchange_url(theirs.conversation_id, theirs.pk), exchange_url(conversation.pk, theirs.pk)]:
        assert api_client.delete(url).status_code == 404
    assert ConversationPromptResponse.all_objects.filter(deleted_at__isnull=False).count() == 0
    assert fake_ollama.chat_requests == []


def test_deleting_an_exchange_takes_its_branch_and_follows_the_nearest_sibling(
    api_client, conversation, fake_ollama
):
    # given: Q1 → (Q2 → Q3) and its regenerated sibling Q2' → Q3'
    say(api_client, fake_ollama, conversation, "Q1", "A1")
    q2 = say(api_client, fake_ollama, conversation, "Q2", "A2")
    say(api_client, fake_ollama, conversation, "Q3", "A3")
    fake_ollama.reply_tokens = ["A2'"]
    q2b = api_client.post(exchange_url(conversation.pk, q2["id"], "regenerate"), {}, format="json").json()
    q3b = say(api_client, fake_ollama, conversation, "Q3'", "A3'")
    conversation.refresh_from_db()
    count_before = conversation.message_count

    # when: the current branch's Q2' goes
    response = api_client.delete(exchange_url(conversation.pk, q2b["id"]))

    # then: it and Q3' are in the trash, the conversation follows Q2's branch to its leaf
    assert response.status_code == 204
    gone = ConversationPromptResponse.all_objects.filter(pk__in=[q2b["id"], q3b["id"]])
    assert all(e.deleted_at is not None for e in gone)
    assert len({e.deleted_at for e in gone}) == 1
    assert AIResponse.all_objects.filter(exchange__in=gone, deleted_at__isnull=True).count() == 0
    assert branch_texts(api_client, conversation) == [("Q1", "A1"), ("Q2", "A2"), ("Q3", "A3")]
    conversation.refresh_from_db()
    assert conversation.message_count == count_before - 4
    siblings = api_client.get(messages_url(conversation.pk)).json()["results"][1]["siblings"]
    assert siblings == {"ids": [q2["id"]], "index": 0, "count": 1}

    # and: the trash lists Q2' alone (Q3' went with it), restorable with its branch
    trash = api_client.get("/api/v1/conversations/trash/exchanges/").json()["results"]
    assert [(t["id"], t["prompt"]) for t in trash] == [(q2b["id"], "Q2")]
    restored = api_client.post(f"/api/v1/conversations/trash/exchanges/{q2b['id']}/restore/")
    assert restored.status_code == 200, restored.content
    assert restored.json()["siblings"]["count"] == 2
    conversation.refresh_from_db()
    assert conversation.message_count == count_before
    assert api_client.post(exchange_url(conversation.pk, q2b["id"], "select")).status_code == 200
    assert branch_texts(api_client, conversation)[-1] == ("Q3'", "A3'")


def test_deleting_the_only_child_moves_the_branch_to_the_parent_and_the_first_empties_it(
    api_client, conversation, fake_ollama
):
    q1 = say(api_client, fake_ollama, conversation, "Q1", "A1")
    q2 = say(api_client, fake_ollama, conversation, "Q2", "A2")

    assert api_client.delete(exchange_url(conversation.pk, q2["id"])).status_code == 204
    conversation.refresh_from_db()
    assert str(conversation.current_exchange_id) == q1["id"]

    assert api_client.delete(exchange_url(conversation.pk, q1["id"])).status_code == 204
    conversation.refresh_from_db()
    assert conversation.current_exchange_id is None
    assert conversation.message_count == 0
    assert api_client.get(messages_url(conversation.pk)).json()["results"] == []
    # the next message starts a new tree
    say(api_client, fake_ollama, conversation, "Again", "Yes")
    assert [(m["role"], m["content"]) for m in fake_ollama.chat_requests[-1]["messages"]] == [
        ("system", "Be brief."),
        ("user", "Again"),
    ]


def test_deleting_a_branch_whose_answer_is_streaming_is_a_409(api_client, conversation):
    root = ExchangeFactory(conversation=conversation)
    ExchangeFactory(conversation=conversation, parent=root, response__status=AIResponse.Status.STREAMING)

    response = api_client.delete(exchange_url(conversation.pk, root.pk))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "exchange_streaming"
    assert ConversationPromptResponse.all_objects.filter(deleted_at__isnull=False).count() == 0


def test_a_child_cannot_be_restored_before_its_deleted_parent(api_client, conversation):
    root = ExchangeFactory(conversation=conversation)
    child = ExchangeFactory(conversation=conversation, parent=root)
    Conversation.objects.filter(pk=conversation.pk).update(current_exchange=child)
    assert api_client.delete(exchange_url(conversation.pk, child.pk)).status_code == 204
    assert api_client.delete(exchange_url(conversation.pk, root.pk)).status_code == 204

    # both were deleted on their own: both are in the trash
    trash = api_client.get("/api/v1/conversations/trash/exchanges/").json()["results"]
    assert {t["id"] for t in trash} == {str(root.pk), str(child.pk)}
    refused = api_client.post(f"/api/v1/conversations/trash/exchanges/{child.pk}/restore/")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "restore_parent_deleted"
    # restoring the root brings back only what its own deletion took
    assert api_client.post(f"/api/v1/conversations/trash/exchanges/{root.pk}/restore/").status_code == 200
    assert ConversationPromptResponse.all_objects.get(pk=child.pk).deleted_at is not None


def test_exchanges_in_the_trash_are_purged_for_good(api_client, conversation, django_assert_num_queries):
    root = ExchangeFactory(conversation=conversation)
    child = ExchangeFactory(conversation=conversation, parent=root)
    other = ExchangeFactory(conversation=conversation)
    assert api_client.delete(exchange_url(conversation.pk, root.pk)).status_code == 204
    assert api_client.delete(exchange_url(conversation.pk, other.pk)).status_code == 204

    # one query for the page of the trash, whatever its size (plus authentication)
    with django_assert_num_queries(2):
        assert len(api_client.get("/api/v1/conversations/trash/exchanges/").json()["results"]) == 2

    assert api_client.delete(f"/api/v1/conversations/trash/exchanges/{root.pk}/").status_code == 204
    assert not ConversationPromptResponse.all_objects.filter(pk__in=[root.pk, child.pk]).exists()
    assert not Prompt.all_objects.filter(pk__in=[root.prompt_id, child.prompt_id]).exists()

    # the retention purge takes the rest
    from django.utils import timezone

    counts = trash_purge_expired(deleted_before=timezone.now())
    assert counts["exchanges"] == 1
    assert not ConversationPromptResponse.all_objects.filter(pk=other.pk).exists()
    assert Conversation.objects.filter(pk=conversation.pk).exists()
