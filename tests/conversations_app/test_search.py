"""Full-text search over the caller's prompts and answers: ranked, with safe snippets, own alive
conversations only, in one statement that uses the GIN indexes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, Prompt
from conversations_app.selectors import message_search_statement
from tests.conversations_app.factories import ConversationFactory
from tests.conversations_app.resources import AUTH_QUERIES, BASE, add_exchange, assert_error

pytestmark = pytest.mark.django_db

SEARCH = f"{BASE}search/"


def test_finds_prompts_and_answers_ranked_with_their_place(api_client, user):
    # given
    conversation = ConversationFactory(owner=user, title="Astronomy")
    first = add_exchange(
        conversation,
        prompt="Tell me about telescopes",
        answer="Refracting telescopes use lenses, reflecting ones use mirrors; a telescope gathers light.",
    )
    add_exchange(conversation, parent=first, prompt="And the weather?", answer="Rain tomorrow.")

    # when
    response = api_client.get(SEARCH, {"q": "telescope"})

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "telescope"
    assert [(hit["kind"], hit["message_id"]) for hit in body["results"]] == [
        ("response", str(first.response_id)),
        ("prompt", str(first.prompt_id)),
    ]
    hit = body["results"][0]
    assert hit["exchange_id"] == str(first.pk)
    assert hit["conversation_id"] == str(conversation.pk)
    assert hit["conversation_title"] == "Astronomy"
    assert "<mark>telescopes</mark>" in hit["snippet"]
    assert body["results"][0]["rank"] > body["results"][1]["rank"]
    assert body["next_offset"] is None


def test_matches_word_forms_and_phrases(api_client, user):
    conversation = ConversationFactory(owner=user)
    add_exchange(conversation, prompt="Running shoes for a marathon", answer="Cushioned ones.")

    stemmed = api_client.get(SEARCH, {"q": "runs"}).json()["results"]
    phrase = api_client.get(SEARCH, {"q": '"marathon running"'}).json()["results"]
    excluded = api_client.get(SEARCH, {"q": "marathon -shoes"}).json()["results"]

    assert len(stemmed) == 1
    assert phrase == []
    assert excluded == []


def test_only_the_callers_alive_conversations_are_searched(api_client, user, other_user):
    mine = ConversationFactory(owner=user)
    add_exchange(mine, prompt="quasar basics", answer="Bright galactic nuclei.")
    add_exchange(ConversationFactory(owner=other_user), prompt="quasar secrets", answer="Not yours.")
    add_exchange(
        ConversationFactory(owner=user, deleted_at=timezone.now()), prompt="quasar trash", answer="Gone."
    )

    results = api_client.get(SEARCH, {"q": "quasar"}).json()["results"]

    assert [hit["conversation_id"] for hit in results] == [str(mine.pk)]


def test_snippets_escape_message_markup(api_client, user):
    add_exchange(
        ConversationFactory(owner=user),
        prompt="hello",
        answer='<script>alert(1)</script> the nebula & "friends" <img src=x onerror=alert(2)> nebula',
    )

    snippet = api_client.get(SEARCH, {"q": "nebula"}).json()["results"][0]["snippet"]

    assert "<script" not in snippet
    assert "<img" not in snippet
    assert "&amp; &quot;friends&quot;" in snippet
    assert snippet.count("<mark>nebula</mark>") == 2
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_pages_with_limit_and_offset(api_client, user):
    conversation = ConversationFactory(owner=user)
    for n in range(3):
        add_exchange(conversation, prompt=f"comet question {n}", answer="No match here.", current=False)

    first = api_client.get(SEARCH, {"q": "comet", "limit": 2}).json()
    second = api_client.get(SEARCH, {"q": "comet", "limit": 2, "offset": first["next_offset"]}).json()

    assert (len(first["results"]), first["next_offset"]) == (2, 2)
    assert (len(second["results"]), second["next_offset"]) == (1, None)
    assert {h["message_id"] for h in first["results"]}.isdisjoint(
        {h["message_id"] for h in second["results"]}
    )


@pytest.mark.parametrize("q", ["the", '"', "-", "!!! && ||", "(unbalanced"])
def test_queries_without_searchable_words_find_nothing_quietly(api_client, user, q):
    add_exchange(ConversationFactory(owner=user), prompt="the moon", answer="is round")

    response = api_client.get(SEARCH, {"q": q})

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "x" * 201},
        {"q": "moon", "limit": 0},
        {"q": "moon", "limit": 51},
        {"q": "moon", "offset": -1},
    ],
)
def test_bad_parameters_are_400(api_client, params):
    assert_error(api_client.get(SEARCH, params), 400, "invalid")


@pytest.mark.parametrize("limit", [5, 50])
def test_one_statement_whatever_the_page_size(api_client, user, limit, django_assert_num_queries):
    for n in range(limit + 1):
        add_exchange(
            ConversationFactory(owner=user, title=f"Orbit {n}"),
            prompt=f"orbit question {n}",
            answer="An orbit is a curved path.",
        )

    with django_assert_num_queries(AUTH_QUERIES + 1):
        response = api_client.get(SEARCH, {"q": "orbit", "limit": limit})

    assert len(response.json()["results"]) == limit
    assert response.json()["next_offset"] == limit


def test_the_plan_uses_the_gin_indexes(user, other_user):
    # given a long history in which the searched word is rare, and fresh planner statistics
    conversation = ConversationFactory(owner=user)
    prompts = Prompt.objects.bulk_create(
        Prompt(content="Tell me more about the weather") for _ in range(1000)
    )
    answers = AIResponse.objects.bulk_create(
        AIResponse(content="Cloudy with a chance of rain", model_name="llama3.2:3b") for _ in range(1000)
    )
    ConversationPromptResponse.objects.bulk_create(
        ConversationPromptResponse(conversation=conversation, prompt=p, response=a, position=0)
        for p, a in zip(prompts, answers, strict=True)
    )
    for n in range(5):
        add_exchange(conversation, prompt=f"galaxy {n}", answer=f"Spiral galaxy number {n}", current=False)
    sql, params = message_search_statement(owner=user, query="galaxy", limit=20)

    # when
    with connection.cursor() as cursor:
        for model in (Prompt, AIResponse, ConversationPromptResponse, Conversation):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
        # Fresh rows wait in the GIN pending list until (auto)vacuum merges them; do what it would do.
        for index in ("conv_prompt_owner_search_gin", "conv_response_owner_search_gin"):
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    # then
    assert "Bitmap Index Scan on conv_prompt_owner_search_gin" in plan
    assert "Bitmap Index Scan on conv_response_owner_search_gin" in plan


def test_anonymous_caller_gets_401(anon_client):
    assert_error(anon_client.get(SEARCH, {"q": "moon"}), 401)


def test_the_database_copies_the_conversation_owner_onto_its_messages(user):
    exchange = add_exchange(ConversationFactory(owner=user))

    assert Prompt.objects.get(pk=exchange.prompt_id).owner_id == user.pk
    assert AIResponse.objects.get(pk=exchange.response_id).owner_id == user.pk
