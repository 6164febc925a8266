"""The conversation's documents reach the model: newest first, within their share of the context, and
each prompt records which were sent whole, cut or left out."""

from __future__ import annotations

import pytest
from django.utils import timezone

from conversations_app.models import Attachment, Prompt
from conversations_app.services.chat import DOCUMENTS_INTRO, exchange_chat_messages
from tests.conversations_app.factories import AttachmentFactory, ConversationFactory, ExchangeFactory

pytestmark = pytest.mark.django_db

DONE = Attachment.ProcessingStatus.DONE


def document(conversation, name: str, text: str, **extra) -> Attachment:
    return AttachmentFactory(
        conversation=conversation, original_name=name, extracted_text=text, processing_status=DONE, **extra
    )


def send(api_client, conversation, content: str = "What do they say?", **options):
    response = api_client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/",
        {"content": content, "options": options} if options else {"content": content},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def conversation(user, fake_ollama):
    conversation = ConversationFactory(owner=user, system_prompt="Be brief.")
    fake_ollama.add_model(conversation.model_name)
    return conversation


def test_ready_documents_are_sent_newest_first_with_their_names(api_client, conversation, fake_ollama):
    # given: two extracted documents, one still pending, one failed, one deleted
    older = document(conversation, "older.txt", "The older text.")
    newer = document(conversation, "newer.pdf", "The newer text.")
    AttachmentFactory(conversation=conversation, extracted_text="", processing_status="pending")
    AttachmentFactory(conversation=conversation, extracted_text="", processing_status="failed")
    gone = document(conversation, "gone.txt", "Deleted text.")
    Attachment.all_objects.filter(pk=gone.pk).update(deleted_at=timezone.now())

    # when
    body = send(api_client, conversation)

    # then: the system prompt, then one message with both documents, newest first, then the prompt
    messages = fake_ollama.chat_requests[-1]["messages"]
    assert [m["role"] for m in messages] == ["system", "system", "user"]
    assert messages[0]["content"] == "Be brief."
    assert messages[1]["content"] == (
        f"{DOCUMENTS_INTRO}\n\n"
        '<document name="newer.pdf">\nThe newer text.\n</document>\n\n'
        '<document name="older.txt">\nThe older text.\n</document>'
    )
    assert "Deleted text." not in str(messages)
    assert body["prompt"]["documents"] == [
        {"id": str(newer.pk), "name": "newer.pdf", "status": "included"},
        {"id": str(older.pk), "name": "older.txt", "status": "included"},
    ]
    # the history says the same
    history = api_client.get(f"/api/v1/conversations/{conversation.pk}/messages/").json()["results"]
    assert history[-1]["prompt"]["documents"] == body["prompt"]["documents"]


def test_documents_beyond_their_share_are_cut_then_left_out(api_client, conversation, fake_ollama):
    # given: a context of 2,000 tokens: 1,500 after the answer's room, about 745 tokens (2,235 bytes)
    # for documents; the newest fits, the next is cut, the oldest is left out
    oldest = document(conversation, "oldest.txt", "c" * 3000)
    middle = document(conversation, "middle.txt", "b" * 3000)
    newest = document(conversation, "newest.txt", "a" * 600)

    body = send(api_client, conversation, num_ctx=2000)

    assert [(d["id"], d["status"]) for d in body["prompt"]["documents"]] == [
        (str(newest.pk), "included"),
        (str(middle.pk), "cut"),
        (str(oldest.pk), "left_out"),
    ]
    sent = fake_ollama.chat_requests[-1]["messages"][1]["content"]
    assert "a" * 600 in sent
    assert "b" * 1000 in sent
    assert "b" * 3000 not in sent
    assert "The rest of this document did not fit in the context." in sent
    assert "c" * 10 not in sent
    assert len(sent.encode()) <= 2235


def test_documents_take_their_share_and_the_history_the_rest(user, django_assert_num_queries, settings):
    # given: a long branch and a large document, half of the budget for documents
    settings.CHAT_DOCUMENTS_SHARE = 0.5
    conversation = ConversationFactory(owner=user)
    parent = None
    for _ in range(40):
        parent = ExchangeFactory(
            conversation=conversation, parent=parent, prompt__content="q" * 90, response__content="r" * 90
        )
    document(conversation, "big.txt", "x" * 100_000)
    exchange = ExchangeFactory(conversation=conversation, parent=parent, prompt__options={"num_ctx": 2000})

    messages = exchange_chat_messages(exchange=exchange)

    documents_bytes = len(messages[0]["content"].encode())
    history_bytes = sum(len(m["content"].encode()) for m in messages[1:-1])
    budget_bytes = 1500 * 3
    assert documents_bytes <= budget_bytes // 2
    assert 0 < history_bytes <= budget_bytes - documents_bytes
    prompt = Prompt.objects.get(pk=exchange.prompt_id)
    assert prompt.documents[0]["status"] == "cut"
    assert prompt.history_omitted > 0


def test_no_documents_sends_no_documents_message(api_client, conversation, fake_ollama):
    body = send(api_client, conversation)

    assert [m["role"] for m in fake_ollama.chat_requests[-1]["messages"]] == ["system", "user"]
    assert body["prompt"]["documents"] == []


def test_a_huge_document_is_read_only_up_to_the_budget(user, django_assert_num_queries):
    # the query returns the head of the text only, whatever the file's size
    from conversations_app.selectors.attachments import conversation_documents

    conversation = ConversationFactory(owner=user)
    document(conversation, "huge.txt", "é" * 1_000_000)

    with django_assert_num_queries(1):
        (head,) = conversation_documents(conversation_id=conversation.pk, head_chars=1000, limit=5)

    assert head.head == "é" * 1000
    assert head.size == 2_000_000
