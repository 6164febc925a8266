"""Who may use which model: roles limited to models and tags (RoleModelAccess), `usable_models(user)`,
the signed-in model list and detail, chat, and Explore (public, unaffected)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from conversations_app.models import Conversation, ConversationPromptResponse
from core.permissions import USER_ROLE
from models_app.models import RoleModelAccess
from models_app.selectors import usable_models
from tests.auth_app.factories import UserFactory
from tests.conversations_app.factories import ConversationFactory, ExchangeFactory
from tests.models_app.factories import AIModelFactory, TagFactory

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models/"
CONVERSATIONS = "/api/v1/conversations/"


def role(name: str, *, models=(), tags=()) -> Group:
    group = Group.objects.create(name=name)
    RoleModelAccess.objects.bulk_create(
        [RoleModelAccess(role_id=group.pk, model=model) for model in models]
        + [RoleModelAccess(role_id=group.pk, tag=tag) for tag in tags]
    )
    return group


def restrict(group_name: str, *, models=(), tags=()) -> Group:
    """Limit an existing role (e.g. the built-in `User`) to these models and tags."""
    group = Group.objects.get(name=group_name)
    RoleModelAccess.objects.bulk_create(
        [RoleModelAccess(role_id=group.pk, model=model) for model in models]
        + [RoleModelAccess(role_id=group.pk, tag=tag) for tag in tags]
    )
    return group


def holding(*groups: Group):
    user = UserFactory()
    user.groups.set(groups)
    return user


def names(queryset) -> set[str]:
    return set(queryset.values_list("name", flat=True))


@pytest.fixture
def user(db):
    """A user as registration makes them: holding the built-in `User` role."""
    return holding(Group.objects.get(name=USER_ROLE))


@pytest.fixture
def catalogue():
    code = TagFactory(name="code")
    return {
        "chat": AIModelFactory(name="chat:1b"),
        "coder": AIModelFactory(name="coder:7b", tags=[code]),
        "big": AIModelFactory(name="big:70b"),
        "hidden": AIModelFactory(name="hidden:1b", is_active=False),
        "code": code,
    }


# --- the rule ------------------------------------------------------------------------------------------


def test_without_restrictions_everyone_may_use_every_published_model(catalogue):
    everyone = {"chat:1b", "coder:7b", "big:70b"}

    assert names(usable_models(holding(Group.objects.get(name=USER_ROLE)))) == everyone
    assert names(usable_models(holding())) == everyone  # no role at all
    assert names(usable_models(None)) == everyone  # anonymous


def test_a_restricted_role_may_use_the_models_it_names_and_those_with_its_tags(catalogue):
    user = holding(restrict(USER_ROLE, models=[catalogue["chat"]], tags=[catalogue["code"]]))

    assert names(usable_models(user)) == {"chat:1b", "coder:7b"}
    assert names(usable_models(user_id=user.pk)) == {"chat:1b", "coder:7b"}


def test_any_role_allowing_a_model_is_enough(catalogue):
    limited = restrict(USER_ROLE, models=[catalogue["chat"]])
    coders = role("Coders", tags=[catalogue["code"]])
    researchers = role("Researchers")  # no entries: unrestricted

    assert names(usable_models(holding(limited, coders))) == {"chat:1b", "coder:7b"}
    assert names(usable_models(holding(limited, researchers))) == {"chat:1b", "coder:7b", "big:70b"}


def test_a_deleted_tag_grants_nothing_and_unpublished_models_stay_out(catalogue):
    catalogue["code"].deleted_at = timezone.now()
    catalogue["code"].save(update_fields=["deleted_at"])
    user = holding(restrict(USER_ROLE, models=[catalogue["hidden"]], tags=[catalogue["code"]]))

    assert names(usable_models(user)) == set()


def test_the_check_adds_no_query(catalogue, django_assert_num_queries):
    user = holding(restrict(USER_ROLE, tags=[catalogue["code"]]))

    with django_assert_num_queries(1):
        assert list(usable_models(user).values_list("name", flat=True)) == ["coder:7b"]


# --- the signed-in model list and detail ---------------------------------------------------------------


def test_the_model_list_shows_only_the_models_the_caller_may_use(api_client, catalogue):
    restrict(USER_ROLE, models=[catalogue["chat"]])

    response = api_client.get(MODELS)

    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["chat:1b"]
    assert response.json()["count"] == 1


def test_the_model_list_filters_and_orders(api_client, catalogue):
    response = api_client.get(MODELS, {"tag": "code"})
    assert [row["name"] for row in response.json()["results"]] == ["coder:7b"]
    assert response.json()["results"][0]["tags"] == [
        {"id": str(catalogue["code"].pk), "name": "code", "slug": "code"}
    ]

    response = api_client.get(MODELS, {"ordering": "-name"})
    assert [row["name"] for row in response.json()["results"]] == ["coder:7b", "chat:1b", "big:70b"]


@pytest.mark.parametrize("query", [{"ordering": "popularity"}, {"ordering": "x"}, {"installed": "maybe"}])
def test_the_model_list_refuses_bad_parameters(api_client, catalogue, query):
    response = api_client.get(MODELS, query)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_the_model_list_needs_a_signed_in_caller(anon_client):
    assert anon_client.get(MODELS).status_code == 401
    assert anon_client.get(f"{MODELS}chat:1b/").status_code == 401


@pytest.mark.parametrize("page_size", [5, 50])
def test_the_model_list_query_count_does_not_grow_with_page_size(
    api_client, django_assert_num_queries, page_size
):
    tags = TagFactory.create_batch(3)
    models = [AIModelFactory(tags=tags) for _ in range(60)]
    restrict(USER_ROLE, models=models[:30], tags=tags[:1])

    with django_assert_num_queries(4):  # the caller, count, page, tags of the page
        response = api_client.get(MODELS, {"page_size": page_size})

    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size
    assert all(len(row["tags"]) == 3 for row in response.json()["results"])


def test_model_detail_by_id_or_name_is_404_for_a_model_the_caller_may_not_use(
    api_client, catalogue, django_assert_num_queries
):
    restrict(USER_ROLE, tags=[catalogue["code"]])

    with django_assert_num_queries(3):  # the caller, the model, its tags
        allowed = api_client.get(f"{MODELS}coder:7b/")
    by_id = api_client.get(f"{MODELS}{catalogue['coder'].pk}/")
    refused = api_client.get(f"{MODELS}chat:1b/")
    refused_by_id = api_client.get(f"{MODELS}{catalogue['chat'].pk}/")
    unpublished = api_client.get(f"{MODELS}hidden:1b/")

    assert allowed.status_code == by_id.status_code == 200
    assert allowed.json()["name"] == "coder:7b"
    assert refused.status_code == refused_by_id.status_code == unpublished.status_code == 404
    assert refused.json() == unpublished.json()


def test_explore_stays_public_and_shows_every_published_model(anon_client, api_client, catalogue):
    restrict(USER_ROLE, models=[catalogue["chat"]])

    for client in (anon_client, api_client):
        response = client.get("/api/v1/explore/models/")
        assert {row["name"] for row in response.json()["results"]} == {"chat:1b", "coder:7b", "big:70b"}
        assert client.get("/api/v1/explore/models/big:70b/").status_code == 200


# --- chat ----------------------------------------------------------------------------------------------


def test_a_conversation_cannot_pick_a_model_the_owner_may_not_use(api_client, user, catalogue):
    restrict(USER_ROLE, models=[catalogue["chat"]])

    refused = api_client.post(CONVERSATIONS, {"model": "big:70b"}, format="json")
    refused_by_id = api_client.post(CONVERSATIONS, {"model": str(catalogue["big"].pk)}, format="json")
    allowed = api_client.post(CONVERSATIONS, {"model": "chat:1b"}, format="json")

    assert refused.status_code == refused_by_id.status_code == 404
    assert refused.json()["error"]["code"] == "model_not_found"
    assert allowed.status_code == 201
    assert list(Conversation.objects.filter(owner=user).values_list("model_name", flat=True)) == ["chat:1b"]


def test_a_conversation_cannot_switch_to_a_model_the_owner_may_not_use(api_client, user, catalogue):
    restrict(USER_ROLE, models=[catalogue["chat"]])
    conversation = ConversationFactory(owner=user, model=catalogue["chat"], model_name="chat:1b")

    response = api_client.patch(f"{CONVERSATIONS}{conversation.pk}/", {"model": "big:70b"}, format="json")

    assert response.status_code == 404
    conversation.refresh_from_db()
    assert conversation.model_id == catalogue["chat"].pk


def test_sending_to_a_model_the_owner_may_no_longer_use_is_404_and_stores_nothing(
    api_client, user, catalogue, fake_ollama
):
    # given: a conversation begun while the model was allowed
    conversation = ConversationFactory(owner=user, model=catalogue["big"], model_name="big:70b")
    fake_ollama.add_model("big:70b")
    exchange = ExchangeFactory(conversation=conversation)
    restrict(USER_ROLE, models=[catalogue["chat"]])
    before = ConversationPromptResponse.objects.count()

    # when
    sent = api_client.post(f"{CONVERSATIONS}{conversation.pk}/messages/", {"content": "Hello"}, format="json")
    regenerated = api_client.post(
        f"{CONVERSATIONS}{conversation.pk}/exchanges/{exchange.pk}/regenerate/", {}, format="json"
    )

    # then
    assert sent.status_code == regenerated.status_code == 404
    assert sent.json()["error"]["code"] == regenerated.json()["error"]["code"] == "model_not_found"
    assert ConversationPromptResponse.objects.count() == before
    assert fake_ollama.chat_requests == []


def test_sending_to_an_allowed_model_still_works(api_client, user, catalogue, fake_ollama):
    restrict(USER_ROLE, tags=[catalogue["code"]])
    conversation = ConversationFactory(owner=user, model=catalogue["coder"], model_name="coder:7b")
    fake_ollama.add_model("coder:7b")

    response = api_client.post(
        f"{CONVERSATIONS}{conversation.pk}/messages/", {"content": "Hello"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["response"]["status"] == "complete"
