"""Personal API keys over HTTP: managed with an access token, accepted as a bearer credential on the
REST API, limited by quotas, counted in usage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from admin_app.models import AuditEvent
from auth_app.models import ApiKey
from auth_app.services.api_keys import create_api_key, key_digest
from auth_app.services.quotas import record_usage
from tests.auth_app.factories import UserFactory
from tests.auth_app.helpers import ME_URL
from tests.fakes.redis import closed_port, point_cache_at

pytestmark = pytest.mark.django_db

KEYS_URL = reverse("auth_app:api-key-list")


def detail(key) -> str:
    return reverse("auth_app:api-key-detail", args=[key.pk])


def key_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


# --- creating, listing, revoking ------------------------------------------------------------------------


def test_create_shows_the_secret_once_and_stores_only_its_hmac(api_client, user):
    # when
    response = api_client.post(
        KEYS_URL, {"name": "laptop", "scopes": ["chat"], "record": False}, format="json"
    )

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["key"]
    assert secret.startswith(f"onk_{body['prefix']}_")
    assert body["name"] == "laptop"
    assert body["scopes"] == ["chat"]
    assert body["record"] is False
    assert body["expires_at"] is None
    assert body["usage"] == {"requests": 0, "prompt_tokens": 0, "eval_tokens": 0}
    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.user == user
    assert stored.key_hash == key_digest(secret)
    assert secret not in str(ApiKey.objects.filter(pk=stored.pk).values().get())


def test_list_never_shows_the_secret_and_carries_usage(api_client, user):
    key, secret = create_api_key(user, name="ci")
    record_usage(user, key, prompt_tokens=12, eval_tokens=30)
    record_usage(user, key, prompt_tokens=1, eval_tokens=2)
    create_api_key(UserFactory(), name="someone else's")

    response = api_client.get(KEYS_URL)

    assert response.status_code == 200
    assert secret not in response.content.decode()
    [item] = response.json()["results"]
    assert "key" not in item
    assert item["id"] == str(key.pk)
    assert item["usage"] == {"requests": 2, "prompt_tokens": 13, "eval_tokens": 32}
    assert item["last_used_at"] is None


@pytest.mark.parametrize("page_size", [1, 20])
def test_list_query_count_does_not_grow_with_the_page(api_client, user, page_size, django_assert_num_queries):
    for index in range(5):
        key, _ = create_api_key(user, name=f"key {index}")
        record_usage(user, key, prompt_tokens=1, eval_tokens=1)

    with django_assert_num_queries(2):  # the caller, the page of keys with their totals
        response = api_client.get(KEYS_URL, {"page_size": page_size})

    assert response.status_code == 200
    assert len(response.json()["results"]) == min(page_size, 5)


def test_detail_query_count(api_client, user, django_assert_num_queries):
    key, _ = create_api_key(user, name="one")

    with django_assert_num_queries(2):
        response = api_client.get(detail(key))

    assert response.status_code == 200
    assert response.json()["name"] == "one"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": 12}, "name"),
        ({"name": "k", "scopes": ["chat", "admin"]}, "scopes"),
        ({"name": "k", "scopes": []}, "scopes"),
        ({"name": "k", "scopes": "chat"}, "scopes"),
        ({"name": "k", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "k", "expires_at": 12345}, "expires_at"),
        ({"name": "k", "expires_at": "soon"}, "expires_at"),
        ({"name": "k", "record": "maybe"}, "record"),
        ({"name": "k", "record": 1}, "record"),
        ({"name": "k", "user": "someone"}, "user"),
    ],
)
def test_bad_input_is_400_and_writes_nothing(api_client, payload, field):
    response = api_client.post(KEYS_URL, payload, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["fields"]
    assert not ApiKey.objects.exists()
    assert not AuditEvent.objects.filter(action="api_key_created").exists()


def test_names_are_unique_among_live_keys_case_insensitively(api_client, user):
    first = api_client.post(KEYS_URL, {"name": "Laptop"}, format="json")

    again = api_client.post(KEYS_URL, {"name": "laptop "}, format="json")
    api_client.delete(reverse("auth_app:api-key-detail", args=[first.json()["id"]]))
    after_revocation = api_client.post(KEYS_URL, {"name": "laptop"}, format="json")

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate_name"
    assert after_revocation.status_code == 201
    assert ApiKey.objects.filter(user=user).count() == 2


def test_expiry_in_the_future_is_kept(api_client):
    expires = (timezone.now() + timedelta(days=30)).replace(microsecond=0)

    response = api_client.post(KEYS_URL, {"name": "temp", "expires_at": expires.isoformat()}, format="json")

    assert response.status_code == 201
    assert ApiKey.objects.get().expires_at == expires


def test_revocation_is_immediate_and_audited(api_client, user):
    key, secret = create_api_key(user, name="phone")
    assert key_client(secret).get(ME_URL).status_code == 200

    response = api_client.delete(detail(key))

    assert response.status_code == 204
    refused = key_client(secret).get(ME_URL)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert api_client.get(detail(key)).status_code == 404
    assert api_client.delete(detail(key)).status_code == 404
    revoked = AuditEvent.objects.get(action="api_key_revoked", target_id=str(key.pk))
    assert revoked.actor_id == user.pk
    assert revoked.target_type == "auth_app.apikey"


def test_creation_over_http_is_audited_with_the_caller(api_client, user):
    response = api_client.post(KEYS_URL, {"name": "audited"}, format="json")

    event = AuditEvent.objects.get(action="api_key_created")
    assert event.actor_id == user.pk
    assert event.target_id == response.json()["id"]
    assert response.json()["key"] not in str(event.after)


def test_another_users_key_is_404_and_untouched(other_client, user):
    key, secret = create_api_key(user, name="mine")

    assert other_client.get(detail(key)).status_code == 404
    assert other_client.delete(detail(key)).status_code == 404
    assert key_client(secret).get(ME_URL).status_code == 200


def test_anonymous_callers_get_401(anon_client, user):
    key, _ = create_api_key(user, name="mine")

    assert anon_client.get(KEYS_URL).status_code == 401
    assert anon_client.post(KEYS_URL, {"name": "x"}, format="json").status_code == 401
    assert anon_client.delete(detail(key)).status_code == 401


def test_a_key_cannot_manage_keys(user):
    key, secret = create_api_key(user, name="leaked")
    client = key_client(secret)

    responses = [client.get(KEYS_URL), client.post(KEYS_URL, {"name": "more"}, format="json")]
    responses.append(client.delete(detail(key)))

    assert [response.status_code for response in responses] == [403, 403, 403]
    assert responses[0].json()["error"]["code"] == "api_key_not_allowed"
    assert list(ApiKey.objects.values_list("name", "revoked_at")) == [("leaked", None)]


# --- keys on the REST API ------------------------------------------------------------------------------


def test_a_key_authenticates_its_owner_on_the_rest_api(user):
    _, secret = create_api_key(user, name="script")

    response = key_client(secret).get(ME_URL)

    assert response.status_code == 200
    assert response.json()["username"] == user.username
    assert ApiKey.objects.get().last_used_at is not None


def _expired(user) -> str:
    key, secret = create_api_key(user, name="old", expires_at=timezone.now() + timedelta(minutes=1))
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return secret


def _of_locked_user(user) -> str:
    owner = UserFactory()
    _, secret = create_api_key(owner, name="k")
    type(owner).objects.filter(pk=owner.pk).update(locked_until=timezone.now() + timedelta(minutes=5))
    return secret


def _of_inactive_user(user) -> str:
    owner = UserFactory()
    _, secret = create_api_key(owner, name="k")
    type(owner).objects.filter(pk=owner.pk).update(is_active=False)
    return secret


def _wrong_secret(user) -> str:
    _, secret = create_api_key(user, name="k")
    return secret[:-2] + ("xx" if not secret.endswith("xx") else "yy")


@pytest.mark.parametrize(
    "make_secret",
    [
        _expired,
        _of_locked_user,
        _of_inactive_user,
        _wrong_secret,
        lambda user: "onk_abcdefgh_" + "A" * 43,  # unknown
        lambda user: "onk_",  # malformed
    ],
)
def test_unusable_keys_are_401_in_the_error_shape(user, make_secret):
    response = key_client(make_secret(user)).get(ME_URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response.has_header("WWW-Authenticate")


def test_access_tokens_still_work_beside_keys(api_client, user):
    create_api_key(user, name="k")

    assert api_client.get(ME_URL).status_code == 200
    assert api_client.get(KEYS_URL).status_code == 200


# --- quotas over HTTP ----------------------------------------------------------------------------------


def test_requests_per_minute_over_quota_is_429_with_retry_after(user, settings):
    settings.API_KEY_REQUESTS_PER_MINUTE = 2
    _, secret = create_api_key(user, name="k")
    client = key_client(secret)

    statuses = [client.get(ME_URL).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    refused = client.get(ME_URL)
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_tokens_per_day_over_quota_is_429_until_midnight(user, settings):
    settings.API_KEY_TOKENS_PER_DAY = 50
    key, secret = create_api_key(user, name="k")
    record_usage(user, key, prompt_tokens=20, eval_tokens=30)

    refused = key_client(secret).get(ME_URL)

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert 1 <= int(refused["Retry-After"]) <= 24 * 3600


def test_a_keys_own_limit_beats_the_default_over_http(user, settings):
    settings.API_KEY_REQUESTS_PER_MINUTE = 1
    _, plain_secret = create_api_key(user, name="plain")
    roomy, roomy_secret = create_api_key(user, name="roomy")
    ApiKey.objects.filter(pk=roomy.pk).update(requests_per_minute=3)

    plain = [key_client(plain_secret).get(ME_URL).status_code for _ in range(2)]
    roomy_statuses = [key_client(roomy_secret).get(ME_URL).status_code for _ in range(4)]

    assert plain == [200, 429]
    assert roomy_statuses == [200, 200, 200, 429]


def test_access_token_requests_are_not_counted_against_api_quotas(api_client, settings):
    settings.API_KEY_REQUESTS_PER_MINUTE = 1

    assert [api_client.get(ME_URL).status_code for _ in range(3)] == [200, 200, 200]


def test_quotas_step_aside_while_redis_is_down(user, settings, caplog):
    settings.API_KEY_REQUESTS_PER_MINUTE = 1
    _, secret = create_api_key(user, name="k")
    point_cache_at(settings, closed_port())

    statuses = [key_client(secret).get(ME_URL).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert any("unavailable" in record.getMessage() for record in caplog.records)
