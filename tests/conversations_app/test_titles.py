"""Automatic titles: an untitled conversation is named after its first answer, by its model or
TITLE_MODEL; a user's title is never overwritten; a failure leaves the title empty."""

from __future__ import annotations

import pytest

from conversations_app.models import Conversation
from conversations_app.services.titles import TITLE_INSTRUCTION, clean_title, conversation_title_generate
from tests.conversations_app.factories import ConversationFactory, ExchangeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def untitled(user, fake_ollama):
    conversation = ConversationFactory(owner=user, title="")
    fake_ollama.add_model(conversation.model_name)
    return conversation


def send(api_client, conversation, content: str):
    response = api_client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/", {"content": content}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ("Trip to Rome", "Trip to Rome"),
        ('"Planning a Day in Rome."', "Planning a Day in Rome"),
        ("<think>The user wants…</think>\n\n**Title: Rome on Foot**\nMore text", "Rome on Foot"),
        ("one two three four five six seven eight nine ten", "one two three four five six seven eight"),
        ("# “Pasta”", "Pasta"),
        ("   \n  ", ""),
    ],
)
def test_what_the_model_says_is_cleaned_to_a_title(answer, title):
    assert clean_title(answer) == title


def test_the_first_answer_titles_an_untitled_conversation(
    api_client, untitled, fake_ollama, django_capture_on_commit_callbacks
):
    # given: the model answers the chat, then the title request
    fake_ollama.reply_tokens = ["Rome", " itinerary"]

    # when
    with django_capture_on_commit_callbacks(execute=True):
        send(api_client, untitled, "Plan a day in Rome")

    # then: the second request to Ollama asked for a title, shown the first exchange
    _answer, title_request = fake_ollama.chat_requests
    assert title_request["model"] == untitled.model_name
    assert title_request["stream"] is False
    assert title_request["messages"][0] == {"role": "system", "content": TITLE_INSTRUCTION}
    assert title_request["messages"][1]["content"] == "User: Plan a day in Rome\n\nAssistant: Rome itinerary"
    untitled.refresh_from_db()
    assert untitled.title == "Rome itinerary"
    assert api_client.get(f"/api/v1/conversations/{untitled.pk}/").json()["title"] == "Rome itinerary"

    # and: later answers do not ask again
    with django_capture_on_commit_callbacks(execute=True):
        send(api_client, untitled, "And dinner?")
    assert len(fake_ollama.chat_requests) == 3


def test_title_model_is_used_when_set(
    api_client, untitled, fake_ollama, settings, django_capture_on_commit_callbacks
):
    settings.TITLE_MODEL = "tiny:1b"
    fake_ollama.add_model("tiny:1b")

    with django_capture_on_commit_callbacks(execute=True):
        send(api_client, untitled, "Hello")

    assert fake_ollama.chat_requests[-1]["model"] == "tiny:1b"


def test_a_titled_conversation_is_not_retitled(
    api_client, user, fake_ollama, django_capture_on_commit_callbacks
):
    conversation = ConversationFactory(owner=user, title="Mine")
    fake_ollama.add_model(conversation.model_name)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        send(api_client, conversation, "Hello")

    assert callbacks == []
    assert len(fake_ollama.chat_requests) == 1
    conversation.refresh_from_db()
    assert conversation.title == "Mine"


def test_a_title_set_meanwhile_wins(untitled, fake_ollama):
    exchange = ExchangeFactory(conversation=untitled, prompt__content="Hi", response__content="Hello")
    Conversation.objects.filter(pk=untitled.pk).update(title="Set by the user")

    assert conversation_title_generate(conversation_id=untitled.pk, exchange_id=exchange.pk) == ""
    assert fake_ollama.chat_requests == []
    untitled.refresh_from_db()
    assert untitled.title == "Set by the user"


def test_a_failing_model_leaves_the_title_empty_and_is_logged(untitled, fake_ollama, caplog):
    exchange = ExchangeFactory(conversation=untitled, prompt__content="Hi", response__content="Hello")
    fake_ollama.fail(500, "out of memory")

    assert conversation_title_generate(conversation_id=untitled.pk, exchange_id=exchange.pk) == ""

    untitled.refresh_from_db()
    assert untitled.title == ""
    assert "no title for conversation" in caplog.text
    assert "out of memory" in caplog.text


def test_a_stored_title_bumps_the_version(untitled, fake_ollama):
    exchange = ExchangeFactory(conversation=untitled, prompt__content="Hi", response__content="Hello")
    fake_ollama.reply_tokens = ["Greetings"]
    version = untitled.version

    assert conversation_title_generate(conversation_id=untitled.pk, exchange_id=exchange.pk) == "Greetings"

    untitled.refresh_from_db()
    assert (untitled.title, untitled.version) == ("Greetings", version + 1)


def test_the_title_is_asked_of_a_server_that_holds_the_model(user, fake_pool, settings):
    # given: three servers; only the third holds the title model
    from core.ollama import pool

    first, _second, third = fake_pool
    settings.OLLAMA_URL = first.url
    settings.TITLE_MODEL = "tiny:1b"
    third.add_model("tiny:1b")
    pool.refresh_servers(force=True)
    conversation = ConversationFactory(owner=user, title="")
    exchange = ExchangeFactory(conversation=conversation, prompt__content="Hi", response__content="Hello")
    third.reply_tokens = ["Greetings"]

    # when
    title = conversation_title_generate(conversation_id=conversation.pk, exchange_id=exchange.pk)

    # then
    assert title == "Greetings"
    assert [len(server.chat_requests) for server in fake_pool] == [0, 0, 1]
