"""Shared links: a public, frozen snapshot of a conversation's current branch, its owner's list and
revocation, the public read (privacy, expiry, caching, counting) and continuing a shared chat."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest
from django.utils import timezone

from admin_app.models import AuditEvent
from conversations_app import services
from conversations_app.models import (
    AIResponse,
    Conversation,
    ConversationPromptResponse,
    SharedLink,
)
from conversations_app.selectors.shares import token_digest
from tests.auth_app.factories import UserFactory
from tests.conftest import client_for
from tests.conversations_app.factories import ConversationFactory, FeedbackFactory, NoteFactory
from tests.conversations_app.resources import AUTH_QUERIES, BASE, add_exchange, assert_error
from tests.fakes.redis import closed_port, point_cache_at

pytestmark = pytest.mark.django_db

SHARES = "/api/v1/shares/"
PUBLIC = "/api/v1/public/shares/"


def share_url(conversation) -> str:
    return f"{BASE}{conversation.pk}/share/"


def public_url(token: str) -> str:
    return f"{PUBLIC}{token}/"


@pytest.fixture
def conversation(user):
    conversation = ConversationFactory(owner=user, title="Sky questions")
    first = add_exchange(conversation, prompt="Why is the sky blue?", answer="Rayleigh scattering.")
    # A regenerated sibling that is not on the current branch: it must not be shared.
    add_exchange(conversation, prompt="Why is the sky blue?", answer="A discarded answer.", current=False)
    add_exchange(conversation, parent=first, prompt="And sunsets?", answer="Longer path, red light.")
    return conversation


def share(client, conversation, **body):
    response = client.post(share_url(conversation), body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- making a link ----------------------------------------------------------------------------------


def test_sharing_returns_token_url_and_expiry_and_stores_only_the_tokens_hash(api_client, conversation):
    before = timezone.now()

    body = share(api_client, conversation, expires_in=3600)

    assert set(body) >= {"id", "token", "url", "expires_at"}
    assert body["url"] == f"http://testserver{PUBLIC}{body['token']}/"
    link = SharedLink.objects.get(pk=body["id"])
    assert link.token_hash == token_digest(body["token"])
    assert body["token"] not in json.dumps(list(SharedLink.objects.values()), default=str)
    assert before + timedelta(seconds=3600) <= link.expires_at <= timezone.now() + timedelta(seconds=3600)
    assert (link.exchange_count, link.title, link.conversation_id) == (2, "Sky questions", conversation.pk)


def test_tokens_are_unguessable(api_client, conversation):
    tokens = {share(api_client, conversation)["token"] for _ in range(5)}

    assert len(tokens) == 5
    for token in tokens:
        # token_urlsafe(32): 43 characters of the 64-letter URL-safe alphabet, 256 bits.
        assert len(token) >= 43
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        assert len(token) * math.log2(64) >= 128


def test_default_expiry_is_thirty_days(api_client, conversation):
    body = share(api_client, conversation)

    link = SharedLink.objects.get(pk=body["id"])
    assert abs((link.expires_at - link.created_at) - timedelta(days=30)) < timedelta(seconds=5)


@pytest.mark.parametrize(
    "body",
    [
        {"expires_in": 59},
        {"expires_in": 366 * 24 * 3600},
        {"expires_in": "soon"},
        {"expires_in": None},
        {"expires_in": 3600, "public": True},
    ],
)
def test_bad_input_is_400_and_makes_no_link(api_client, conversation, body):
    assert_error(api_client.post(share_url(conversation), body, format="json"), 400, "invalid")
    assert not SharedLink.objects.exists()


def test_an_empty_conversation_cannot_be_shared(api_client, user):
    empty = ConversationFactory(owner=user)

    assert_error(api_client.post(share_url(empty), {}, format="json"), 409, "nothing_to_share")
    assert not SharedLink.objects.exists()


def test_another_users_or_a_deleted_conversation_is_404(api_client, other_client, conversation):
    assert_error(other_client.post(share_url(conversation), {}, format="json"), 404)
    services.conversation_soft_delete(conversation=conversation)
    assert_error(api_client.post(share_url(conversation), {}, format="json"), 404)
    assert not SharedLink.objects.exists()


def test_anonymous_callers_get_401(anon_client, conversation):
    assert_error(anon_client.post(share_url(conversation), {}, format="json"), 401)
    assert_error(anon_client.get(SHARES), 401)
    assert_error(anon_client.post(f"{PUBLIC}whatever/fork/"), 401)


def test_making_and_revoking_a_link_is_audited(api_client, user, conversation):
    body = share(api_client, conversation)
    api_client.delete(f"{SHARES}{body['id']}/")

    events = AuditEvent.objects.filter(target_id=body["id"]).order_by("created_at")
    assert [(e.action, e.actor_id) for e in events] == [
        ("shared_link_created", user.pk),
        ("shared_link_revoked", user.pk),
    ]
    assert body["token"] not in json.dumps(list(events.values("before", "after")))


# --- the public read --------------------------------------------------------------------------------


def test_the_public_snapshot_holds_the_current_branch_and_nothing_of_the_owner(
    api_client, anon_client, user, conversation
):
    # given: the owner's feedback and notes on the answers, and a private system prompt
    for exchange in ConversationPromptResponse.objects.filter(conversation=conversation):
        FeedbackFactory(response=exchange.response, user=user, comment="my private comment")
        NoteFactory(response=exchange.response, owner=user, content="my private note")
    Conversation.objects.filter(pk=conversation.pk).update(system_prompt="my secret system prompt")
    conversation.refresh_from_db()
    token = share(api_client, conversation)["token"]

    # when
    response = anon_client.get(public_url(token))

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Sky questions"
    assert body["model_name"] == conversation.model_name
    assert [(e["prompt"]["content"], e["answer"]["content"]) for e in body["exchanges"]] == [
        ("Why is the sky blue?", "Rayleigh scattering."),
        ("And sunsets?", "Longer path, red light."),
    ]
    assert body["exchanges"][0]["answer"]["status"] == "complete"
    assert {"shared_at", "expires_at", "conversation_created_at"} <= set(body)
    text = response.content.decode()
    for private in (
        user.email,
        user.username,
        str(user.pk),
        "my private comment",
        "my private note",
        "my secret system prompt",
        "A discarded answer.",
        str(conversation.pk),
        "feedback",
        "note",
    ):
        assert private not in text


def test_the_public_read_needs_no_account_and_ignores_a_bad_bearer_token(conversation, api_client):
    token = share(api_client, conversation)["token"]
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")

    assert client.get(public_url(token)).status_code == 200


def test_the_public_read_is_cacheable_with_an_etag(api_client, anon_client, conversation):
    token = share(api_client, conversation)["token"]

    first = anon_client.get(public_url(token))
    again = anon_client.get(public_url(token), HTTP_IF_NONE_MATCH=first["ETag"])

    assert first["Cache-Control"] == "public, max-age=60"
    assert first["ETag"]
    assert again.status_code == 304
    assert again.content == b""


def test_a_link_about_to_expire_is_cached_no_longer_than_it_lives(api_client, anon_client, conversation):
    body = share(api_client, conversation)
    SharedLink.objects.filter(pk=body["id"]).update(expires_at=timezone.now() + timedelta(seconds=20))

    max_age = int(anon_client.get(public_url(body["token"]))["Cache-Control"].split("max-age=")[1])

    assert 0 < max_age <= 20


def test_openings_are_counted_and_shown_to_the_owner(api_client, anon_client, conversation):
    body = share(api_client, conversation)
    for _ in range(3):
        anon_client.get(public_url(body["token"]))

    link = api_client.get(f"{SHARES}{body['id']}/").json()

    assert link["access_count"] == 3
    assert link["last_accessed_at"] is not None
    listed = api_client.get(SHARES).json()["results"]
    assert [(row["id"], row["access_count"]) for row in listed] == [(body["id"], 3)]


def test_a_new_snapshot_after_new_messages_while_the_old_link_shows_the_old_content(
    api_client, anon_client, conversation
):
    old_token = share(api_client, conversation)["token"]
    add_exchange(
        conversation,
        parent=conversation.current_exchange,
        prompt="And at night?",
        answer="No sunlight to scatter.",
    )

    new_token = share(api_client, conversation)["token"]

    old = anon_client.get(public_url(old_token)).json()["exchanges"]
    new = anon_client.get(public_url(new_token)).json()["exchanges"]
    assert [e["prompt"]["content"] for e in old] == ["Why is the sky blue?", "And sunsets?"]
    assert [e["prompt"]["content"] for e in new] == ["Why is the sky blue?", "And sunsets?", "And at night?"]


def test_a_snapshot_keeps_its_text_when_the_conversation_changes(api_client, anon_client, conversation):
    token = share(api_client, conversation)["token"]
    AIResponse.objects.filter(exchange__conversation=conversation).update(content="rewritten")
    Conversation.objects.filter(pk=conversation.pk).update(title="Renamed")

    body = anon_client.get(public_url(token)).json()

    assert body["title"] == "Sky questions"
    assert body["exchanges"][0]["answer"]["content"] == "Rayleigh scattering."


def test_a_revoked_link_is_404(api_client, anon_client, conversation):
    body = share(api_client, conversation)

    assert api_client.delete(f"{SHARES}{body['id']}/").status_code == 204

    assert_error(anon_client.get(public_url(body["token"])), 404)
    assert SharedLink.objects.get(pk=body["id"]).revoked_at is not None
    assert api_client.get(SHARES).json()["results"] == []
    assert_error(api_client.delete(f"{SHARES}{body['id']}/"), 404)


def test_an_expired_link_is_404_and_is_listed_as_expired(api_client, anon_client, conversation):
    body = share(api_client, conversation)
    SharedLink.objects.filter(pk=body["id"]).update(
        created_at=timezone.now() - timedelta(hours=2), expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert_error(anon_client.get(public_url(body["token"])), 404)
    assert api_client.get(f"{SHARES}{body['id']}/").json()["is_expired"] is True
    assert SharedLink.objects.get(pk=body["id"]).access_count == 0


def test_a_deleted_conversations_links_are_404_until_it_is_restored(api_client, anon_client, conversation):
    token = share(api_client, conversation)["token"]

    services.conversation_soft_delete(conversation=conversation)
    assert_error(anon_client.get(public_url(token)), 404)

    services.conversation_restore(conversation=Conversation.all_objects.get(pk=conversation.pk))
    assert anon_client.get(public_url(token)).status_code == 200


def test_a_purged_conversation_takes_its_links_with_it(api_client, conversation):
    share(api_client, conversation)
    services.conversation_soft_delete(conversation=conversation)

    services.conversation_purge(conversation=Conversation.all_objects.get(pk=conversation.pk))

    assert not SharedLink.objects.exists()


def test_a_deactivated_owners_links_are_404(api_client, anon_client, user, conversation):
    token = share(api_client, conversation)["token"]
    type(user).objects.filter(pk=user.pk).update(is_active=False)

    assert_error(anon_client.get(public_url(token)), 404)


@pytest.mark.parametrize("token", ["x", "A" * 43, "A" * 5000, "..%2f", "%E2%9C%93"])
def test_unknown_or_malformed_tokens_are_404(anon_client, token):
    assert_error(anon_client.get(public_url(token)), 404)


def test_the_public_read_costs_two_queries(api_client, anon_client, conversation, django_assert_num_queries):
    token = share(api_client, conversation)["token"]

    # the link with its conditions (one joined query), then the counting UPDATE
    with django_assert_num_queries(2):
        response = anon_client.get(public_url(token))

    assert response.status_code == 200


# --- the owner's list -------------------------------------------------------------------------------


def test_another_users_link_is_404_and_stays_open(api_client, other_client, anon_client, conversation):
    body = share(api_client, conversation)

    assert_error(other_client.get(f"{SHARES}{body['id']}/"), 404)
    assert_error(other_client.delete(f"{SHARES}{body['id']}/"), 404)
    assert other_client.get(SHARES).json()["results"] == []
    assert anon_client.get(public_url(body["token"])).status_code == 200


def test_the_list_never_shows_tokens_or_snapshots(api_client, conversation):
    token = share(api_client, conversation)["token"]

    response = api_client.get(SHARES)

    assert token not in response.content.decode()
    assert set(response.json()["results"][0]) == {
        "id",
        "conversation",
        "title",
        "exchange_count",
        "created_at",
        "expires_at",
        "is_expired",
        "access_count",
        "last_accessed_at",
    }


@pytest.mark.parametrize("page_size", [2, 20])
def test_the_list_costs_constant_queries(
    api_client, user, conversation, django_assert_num_queries, page_size
):
    for _ in range(4):
        services.shared_link_create(owner=user, conversation=conversation)

    with django_assert_num_queries(AUTH_QUERIES + 1):
        response = api_client.get(SHARES, {"page_size": page_size})

    assert len(response.json()["results"]) == min(page_size, 4)


def test_the_detail_costs_constant_queries(api_client, conversation, django_assert_num_queries):
    body = share(api_client, conversation)

    with django_assert_num_queries(AUTH_QUERIES + 1):
        assert api_client.get(f"{SHARES}{body['id']}/").status_code == 200


# --- continuing a shared chat -----------------------------------------------------------------------


def test_forking_makes_an_owned_copy_of_the_branch(api_client, other_user, conversation):
    token = share(api_client, conversation)["token"]
    other = client_for(other_user)

    response = other.post(f"{PUBLIC}{token}/fork/")

    assert response.status_code == 201, response.content
    body = response.json()
    copy = Conversation.objects.get(pk=body["id"])
    assert copy.owner == other_user
    assert (copy.title, copy.model_id, copy.message_count) == ("Sky questions", conversation.model_id, 4)
    assert (copy.prompt_tokens, copy.completion_tokens) == (0, 0)
    exchanges = list(
        ConversationPromptResponse.objects.filter(conversation=copy)
        .select_related("prompt", "response")
        .order_by("position")
    )
    assert [(e.position, e.prompt.content, e.response.content) for e in exchanges] == [
        (0, "Why is the sky blue?", "Rayleigh scattering."),
        (1, "And sunsets?", "Longer path, red light."),
    ]
    assert exchanges[1].parent_id == exchanges[0].pk
    assert copy.current_exchange_id == exchanges[1].pk
    assert (
        {e.prompt.owner_id for e in exchanges} == {e.response.owner_id for e in exchanges} == {other_user.pk}
    )
    assert all(e.response.status == "complete" for e in exchanges)
    # the copy is an ordinary conversation of its new owner: its history reads like any other
    history = other.get(f"{BASE}{copy.pk}/messages/")
    assert history.status_code == 200
    assert [row["prompt"]["content"] for row in history.json()["results"]] == [
        "Why is the sky blue?",
        "And sunsets?",
    ]
    # and the original is untouched
    assert ConversationPromptResponse.objects.filter(conversation=conversation).count() == 3


def test_forking_a_closed_link_is_404_and_creates_nothing(api_client, other_client, conversation):
    body = share(api_client, conversation)
    api_client.delete(f"{SHARES}{body['id']}/")

    assert_error(other_client.post(f"{PUBLIC}{body['token']}/fork/"), 404)
    assert Conversation.objects.count() == 1


def test_forking_when_the_model_is_gone_is_409_and_creates_nothing(api_client, other_client, conversation):
    token = share(api_client, conversation)["token"]
    type(conversation.model).objects.filter(pk=conversation.model_id).update(is_active=False)

    assert_error(other_client.post(f"{PUBLIC}{token}/fork/"), 409, "model_unavailable")
    assert Conversation.objects.count() == 1


def test_a_streaming_answer_is_copied_as_interrupted(api_client, other_user, user):
    conversation = ConversationFactory(owner=user)
    add_exchange(conversation, answer="half an ans", status="streaming", completed_at=None)
    token = share(api_client, conversation)["token"]

    copy = services.conversation_fork_shared(
        user=other_user, link=SharedLink.objects.get(token_hash=token_digest(token))
    )

    response = AIResponse.objects.get(exchange__conversation=copy)
    assert (response.status, response.content) == ("interrupted", "half an ans")


def test_forking_the_own_link_works_too(api_client, user, conversation):
    token = share(api_client, conversation)["token"]

    assert api_client.post(f"{PUBLIC}{token}/fork/").status_code == 201
    assert Conversation.objects.filter(owner=user).count() == 2


def test_a_link_outlives_nothing_of_a_deleted_user(api_client, anon_client, user, conversation):
    token = share(api_client, conversation)["token"]
    UserFactory()  # another account, unrelated

    type(user).objects.filter(pk=user.pk).update(deleted_at=timezone.now())

    assert_error(anon_client.get(public_url(token)), 404)


def test_with_redis_down_shared_links_still_open_and_count(api_client, anon_client, settings, conversation):
    body = share(api_client, conversation)
    point_cache_at(settings, closed_port())

    response = anon_client.get(public_url(body["token"]))

    assert response.status_code == 200
    assert SharedLink.objects.get(pk=body["id"]).access_count == 1
