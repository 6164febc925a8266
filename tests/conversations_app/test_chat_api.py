"""Chat API without streaming: what is stored and answered, what is sent to Ollama, and refusals."""

from __future__ import annotations

import pytest

from conversations_app.api.views.chat import ChatRateThrottle
from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, Prompt
from tests.conversations_app.factories import ConversationFactory, ExchangeFactory
from tests.fakes.ollama import DEFAULT_REPLY

pytestmark = pytest.mark.django_db

REPLY = "".join(DEFAULT_REPLY)


@pytest.fixture
def conversation(user, fake_ollama):
    conversation = ConversationFactory(owner=user, system_prompt="Be brief.")
    fake_ollama.add_model(conversation.model_name)
    return conversation


def messages_url(conversation_id) -> str:
    return f"/api/v1/conversations/{conversation_id}/messages/"


def exchange_url(conversation_id, exchange_id, action: str) -> str:
    return f"/api/v1/conversations/{conversation_id}/exchanges/{exchange_id}/{action}/"


def send(client, conversation, content: str, **extra):
    return client.post(messages_url(conversation.pk), {"content": content, **extra}, format="json")


def roles_and_contents(body: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in body["messages"]]


def test_send_stores_the_exchange_and_returns_it_complete(api_client, conversation, fake_ollama):
    # when
    response = send(api_client, conversation, "Hi there", options={"temperature": 0.3, "stop": ["\n\n"]})

    # then
    assert response.status_code == 201
    body = response.json()
    assert body["prompt"]["content"] == "Hi there"
    assert body["prompt"]["options"] == {"temperature": 0.3, "stop": ["\n\n"]}
    assert body["response"]["status"] == "complete"
    assert body["response"]["content"] == REPLY
    assert body["response"]["done_reason"] == "stop"
    assert body["response"]["metrics"]["eval_count"] == len(DEFAULT_REPLY)
    assert all(isinstance(v, int) for v in body["response"]["metrics"].values())
    assert body["siblings"] == {"ids": [body["id"]], "index": 0, "count": 1}
    assert body["feedback"] is None
    assert body["note_count"] == 0
    conversation.refresh_from_db()
    assert str(conversation.current_exchange_id) == body["id"]
    assert conversation.completion_tokens == len(DEFAULT_REPLY)
    assert conversation.prompt_tokens == body["response"]["metrics"]["prompt_eval_count"] > 0
    [sent] = fake_ollama.chat_requests
    assert sent["model"] == conversation.model_name
    assert sent["stream"] is True
    assert sent["options"] == {"temperature": 0.3, "stop": ["\n\n"]}
    assert roles_and_contents(sent) == [("system", "Be brief."), ("user", "Hi there")]


def test_options_of_the_conversation_are_defaults_under_the_messages(api_client, user, fake_ollama):
    conversation = ConversationFactory(owner=user, default_options={"temperature": 0.1, "num_ctx": 2048})
    fake_ollama.add_model(conversation.model_name)

    send(api_client, conversation, "Hi", options={"temperature": 0.9})

    assert fake_ollama.chat_requests[0]["options"] == {"temperature": 0.9, "num_ctx": 2048}
    assert Prompt.objects.get().options == {"temperature": 0.9, "num_ctx": 2048}


def test_roles_follow_the_current_branch_through_regenerate_and_branch_switch(
    api_client, conversation, fake_ollama
):
    def say(tokens: list[str]) -> None:
        fake_ollama.reply_tokens = tokens

    say(["A1"])
    q1 = send(api_client, conversation, "Q1").json()
    say(["A2"])
    q2 = send(api_client, conversation, "Q2").json()

    # regenerate the second answer: the model sees the branch above it, not the old answer
    say(["A2b"])
    q2b = api_client.post(exchange_url(conversation.pk, q2["id"], "regenerate"), {}, format="json")
    assert q2b.status_code == 201
    assert roles_and_contents(fake_ollama.chat_requests[-1]) == [
        ("system", "Be brief."),
        ("user", "Q1"),
        ("assistant", "A1"),
        ("user", "Q2"),
    ]
    assert q2b.json()["siblings"] == {"ids": [q2["id"], q2b.json()["id"]], "index": 1, "count": 2}

    say(["A3"])
    send(api_client, conversation, "Q3")
    assert roles_and_contents(fake_ollama.chat_requests[-1])[-3:] == [
        ("user", "Q2"),
        ("assistant", "A2b"),
        ("user", "Q3"),
    ]

    # switch back to the first answer of Q2: the next message continues that branch
    selected = api_client.post(exchange_url(conversation.pk, q2["id"], "select"), format="json")
    assert selected.status_code == 200
    assert selected.json()["id"] == q2["id"]
    say(["A4"])
    send(api_client, conversation, "Q4")
    assert roles_and_contents(fake_ollama.chat_requests[-1]) == [
        ("system", "Be brief."),
        ("user", "Q1"),
        ("assistant", "A1"),
        ("user", "Q2"),
        ("assistant", "A2"),
        ("user", "Q4"),
    ]
    history = api_client.get(messages_url(conversation.pk)).json()["results"]
    assert [(e["prompt"]["content"], e["response"]["content"]) for e in history] == [
        ("Q1", "A1"),
        ("Q2", "A2"),
        ("Q4", "A4"),
    ]
    assert history[0]["id"] == q1["id"]


def test_ollama_down_is_a_503_and_keeps_the_prompt_with_a_failed_response(
    api_client, conversation, ollama_down
):
    response = send(api_client, conversation, "Anyone there?")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "ollama_unavailable"
    exchange = ConversationPromptResponse.objects.select_related("prompt", "response").get()
    assert exchange.prompt.content == "Anyone there?"
    assert exchange.response.status == AIResponse.Status.FAILED
    assert "not reachable" in exchange.response.error
    assert exchange.response.content == ""
    conversation.refresh_from_db()
    assert conversation.current_exchange_id == exchange.pk
    assert (conversation.prompt_tokens, conversation.completion_tokens) == (0, 0)


def test_a_model_ollama_does_not_have_is_a_409_with_a_failed_response(api_client, user, fake_ollama):
    conversation = ConversationFactory(owner=user)  # not added to the fake server

    response = send(api_client, conversation, "Hi")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "model_not_installed"
    assert conversation.model_name in error["message"]
    assert AIResponse.objects.get().status == AIResponse.Status.FAILED
    assert Prompt.objects.get().content == "Hi"


def test_an_ollama_error_is_a_502_with_a_failed_response(api_client, conversation, fake_ollama):
    fake_ollama.fail(500, "model runner crashed")

    response = send(api_client, conversation, "Hi")

    assert response.status_code == 502
    assert "model runner crashed" in response.json()["error"]["message"]
    assert AIResponse.objects.get().error.endswith("model runner crashed")


def test_a_stream_cut_mid_answer_is_a_502_keeping_what_had_arrived(api_client, conversation, fake_ollama):
    fake_ollama.cut_after = 3

    response = send(api_client, conversation, "Hi")

    assert response.status_code == 502
    stored = AIResponse.objects.get()
    assert stored.status == AIResponse.Status.FAILED
    assert stored.content == "".join(DEFAULT_REPLY[:3])
    assert stored.error


def test_num_predict_reaches_ollama_and_done_reason_is_stored(api_client, conversation, fake_ollama):
    response = send(api_client, conversation, "Hi", options={"num_predict": 2})

    assert response.json()["response"]["done_reason"] == "length"
    assert response.json()["response"]["content"] == "".join(DEFAULT_REPLY[:2])


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "content"),
        ({"content": ""}, "content"),
        ({"content": "  \n\t "}, "content"),
        ({"content": ["a list"]}, "content"),
        ({"content": "x" * 100_001}, "content"),
        ({"content": "Hi", "options": "hot"}, "options"),
        ({"content": "Hi", "options": {"temperature": 2.5}}, "options"),
        ({"content": "Hi", "options": {"temperature": -0.1}}, "options"),
        ({"content": "Hi", "options": {"temperature": "warm"}}, "options"),
        ({"content": "Hi", "options": {"temperature": True}}, "options"),
        ({"content": "Hi", "options": {"temperature": "nan"}}, "options"),
        ({"content": "Hi", "options": {"top_p": "NaN"}}, "options"),
        ({"content": "Hi", "options": {"mirostat_tau": "inf"}}, "options"),
        ({"content": "Hi", "options": {"top_p": 1.5}}, "options"),
        ({"content": "Hi", "options": {"top_k": 0}}, "options"),
        ({"content": "Hi", "options": {"num_predict": 0}}, "options"),
        ({"content": "Hi", "options": {"num_predict": -2}}, "options"),
        ({"content": "Hi", "options": {"num_ctx": 0}}, "options"),
        ({"content": "Hi", "options": {"seed": "lucky"}}, "options"),
        ({"content": "Hi", "options": {"stop": "END"}}, "options"),
        ({"content": "Hi", "options": {"stop": ["x"] * 17}}, "options"),
        ({"content": "Hi", "options": {"repeat_penalty": 3}}, "options"),
        ({"content": "Hi", "options": {"mirostat": 3}}, "options"),
        ({"content": "Hi", "options": {"temprature": 0.5}}, "options"),
        ({"content": "Hi", "stream": "maybe"}, "stream"),
        ({"content": "Hi", "system_prompt": "s" * 20_001}, "system_prompt"),
        ({"content": "Hi", "model": "other:7b"}, "model"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    api_client, conversation, fake_ollama, payload, field
):
    response = api_client.post(messages_url(conversation.pk), payload, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert not Prompt.objects.exists()
    assert not ConversationPromptResponse.objects.exists()
    assert fake_ollama.chat_requests == []
    conversation.refresh_from_db()
    assert (conversation.current_exchange_id, conversation.message_count) == (None, 0)


def test_an_unknown_option_is_named_in_the_error(api_client, conversation):
    response = send(api_client, conversation, "Hi", options={"temperature": 0.5, "top_q": 1})

    assert response.json()["error"]["fields"] == {"options": {"top_q": ["Unknown field."]}}


def test_a_json_body_that_is_not_an_object_is_a_400(api_client, conversation):
    response = api_client.post(messages_url(conversation.pk), ["Hi"], format="json")

    assert response.status_code == 400
    assert not Prompt.objects.exists()


@pytest.fixture
def others_exchange(other_user):
    return ExchangeFactory(conversation=ConversationFactory(owner=other_user))


def test_another_users_conversation_and_exchanges_are_404_and_nothing_changes(
    api_client, conversation, others_exchange, fake_ollama
):
    theirs = others_exchange.conversation
    mine = ExchangeFactory(conversation=conversation)
    calls = [
        ("get", messages_url(theirs.pk), None),
        ("post", messages_url(theirs.pk), {"content": "Hi"}),
        ("post", exchange_url(theirs.pk, others_exchange.pk, "regenerate"), {}),
        ("post", exchange_url(theirs.pk, others_exchange.pk, "select"), {}),
        # their exchange under my conversation, my exchange under theirs
        ("post", exchange_url(conversation.pk, others_exchange.pk, "regenerate"), {}),
        ("post", exchange_url(conversation.pk, others_exchange.pk, "select"), {}),
        ("post", exchange_url(theirs.pk, mine.pk, "regenerate"), {}),
        ("post", exchange_url(theirs.pk, mine.pk, "select"), {}),
    ]
    exchanges_before = ConversationPromptResponse.objects.count()

    for method, url, payload in calls:
        response = getattr(api_client, method)(url, payload, format="json")
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"

    assert ConversationPromptResponse.objects.count() == exchanges_before
    assert fake_ollama.chat_requests == []
    assert Conversation.objects.get(pk=theirs.pk).current_exchange_id is None
    assert Conversation.objects.get(pk=conversation.pk).current_exchange_id is None


def test_a_deleted_conversation_is_404(api_client, conversation, fake_ollama):
    from conversations_app.services import conversation_soft_delete

    conversation_soft_delete(conversation=conversation)

    assert send(api_client, conversation, "Hi").status_code == 404
    assert api_client.get(messages_url(conversation.pk)).status_code == 404
    assert not Prompt.objects.exists()


def test_anonymous_callers_get_401_on_every_chat_endpoint(anon_client, conversation):
    exchange = ExchangeFactory(conversation=conversation)
    for method, url in [
        ("get", messages_url(conversation.pk)),
        ("post", messages_url(conversation.pk)),
        ("post", exchange_url(conversation.pk, exchange.pk, "regenerate")),
        ("post", exchange_url(conversation.pk, exchange.pk, "select")),
    ]:
        response = getattr(anon_client, method)(url, {"content": "Hi"}, format="json")
        assert response.status_code == 401, url
        assert response.json()["error"]["code"] == "not_authenticated"
    assert ConversationPromptResponse.objects.count() == 1


def test_chat_is_throttled_per_user_with_retry_after(
    api_client, other_client, user, other_user, fake_ollama, monkeypatch
):
    monkeypatch.setattr(ChatRateThrottle, "rate", "2/min", raising=False)
    conversation = ConversationFactory(owner=user)
    theirs = ConversationFactory(owner=other_user)
    fake_ollama.add_model(conversation.model_name)
    fake_ollama.add_model(theirs.model_name)

    assert send(api_client, conversation, "1").status_code == 201
    assert send(api_client, conversation, "2").status_code == 201
    throttled = send(api_client, conversation, "3")

    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert throttled.json()["error"]["code"] == "throttled"
    assert Prompt.objects.filter(content="3").count() == 0
    # reading is not a chat message, and other users have their own budget
    assert api_client.get(messages_url(conversation.pk)).status_code == 200
    assert send(other_client, theirs, "mine").status_code == 201


def test_a_message_sent_with_an_api_key_counts_its_tokens_as_that_keys_use(user, conversation, fake_ollama):
    from rest_framework.test import APIClient

    from auth_app.models import ApiUsage
    from auth_app.services.api_keys import create_api_key

    key, secret = create_api_key(user, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    response = send(client, conversation, "Hi")

    assert response.status_code == 201, response.content
    metrics = response.json()["response"]["metrics"]
    usage = ApiUsage.objects.get(api_key=key)
    assert (usage.requests, usage.prompt_tokens, usage.eval_tokens) == (
        1,
        metrics["prompt_eval_count"],
        metrics["eval_count"],
    )


def test_a_message_signed_in_with_a_token_counts_no_api_use(api_client, conversation, fake_ollama):
    from auth_app.models import ApiUsage

    assert send(api_client, conversation, "Hi").status_code == 201
    assert not ApiUsage.objects.exists()
