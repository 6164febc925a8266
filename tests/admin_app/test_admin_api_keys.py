"""Staff API: API quotas per user and per key, every user's keys, revocation, the API usage report."""

from __future__ import annotations

import pytest
from django.urls import reverse

from admin_app.models import AuditEvent
from auth_app.models import ApiKey
from auth_app.services.api_keys import InvalidApiKey, authenticate_api_key, create_api_key
from auth_app.services.quotas import record_usage
from tests.auth_app.factories import UserFactory

pytestmark = pytest.mark.django_db

KEYS_URL = reverse("admin-api-key-list")
API_USAGE_URL = reverse("admin-usage-api")


def key_url(key, action: str = "detail") -> str:
    return reverse(f"admin-api-key-{action}", args=[key.pk])


def quota_url(user) -> str:
    return reverse("admin-user-api-quota", args=[user.pk])


# --- user quotas -------------------------------------------------------------------------------------


def test_set_a_users_api_quotas_is_recorded_by_the_audit_trail(admin_client_api, admin_user, user):
    response = admin_client_api.put(
        quota_url(user), {"requests_per_minute": 120, "tokens_per_day": 0}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["api_requests_per_minute"] == 120
    assert response.json()["api_tokens_per_day"] == 0
    user.refresh_from_db()
    assert (user.api_requests_per_minute, user.api_tokens_per_day) == (120, 0)
    event = AuditEvent.objects.filter(target_id=str(user.pk), action="updated").latest("created_at")
    assert event.after == {"api_requests_per_minute": 120, "api_tokens_per_day": 0}
    assert event.actor_id == admin_user.pk


def test_null_returns_a_user_to_the_default_and_absent_fields_stay(admin_client_api, user):
    type(user).objects.filter(pk=user.pk).update(api_requests_per_minute=5, api_tokens_per_day=9)

    response = admin_client_api.put(quota_url(user), {"requests_per_minute": None}, format="json")

    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.api_requests_per_minute, user.api_tokens_per_day) == (None, 9)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"requests_per_minute": -1}, "requests_per_minute"),
        ({"requests_per_minute": "5"}, "requests_per_minute"),
        ({"requests_per_minute": 1.5}, "requests_per_minute"),
        ({"requests_per_minute": True}, "requests_per_minute"),
        ({"requests_per_minute": 2**31}, "requests_per_minute"),
        ({"tokens_per_day": 2**63}, "tokens_per_day"),
        ({"rpm": 5}, "rpm"),
    ],
)
def test_bad_quotas_are_400_and_change_nothing(admin_client_api, user, payload, field):
    response = admin_client_api.put(quota_url(user), payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    user.refresh_from_db()
    assert (user.api_requests_per_minute, user.api_tokens_per_day) == (None, None)


def test_quota_endpoints_are_for_admins(api_client, anon_client, user):
    key, _ = create_api_key(user, name="k")

    assert api_client.put(quota_url(user), {"requests_per_minute": 1}, format="json").status_code == 403
    assert anon_client.put(quota_url(user), {"requests_per_minute": 1}, format="json").status_code == 401
    assert api_client.get(KEYS_URL).status_code == 403
    assert api_client.put(key_url(key, "quota"), {"requests_per_minute": 1}, format="json").status_code == 403
    assert anon_client.get(API_USAGE_URL).status_code == 401
    assert ApiKey.objects.get().requests_per_minute is None


def test_unknown_user_or_key_is_404(admin_client_api):
    missing = "0192f0c4-3b7a-7cc1-9a51-3f1e1c9d2a10"

    assert (
        admin_client_api.put(f"/api/v1/admin/users/{missing}/api-quota/", {}, format="json").status_code
        == 404
    )
    assert admin_client_api.get(f"/api/v1/admin/api-keys/{missing}/").status_code == 404


# --- keys ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 20])
def test_key_list_query_count_is_pinned(admin_client_api, page_size, django_assert_num_queries):
    for index in range(4):
        owner = UserFactory()
        key, _ = create_api_key(owner, name=f"k{index}")
        record_usage(owner, key, prompt_tokens=1, eval_tokens=2)

    # the caller, the role check, the count, the page with owners and totals
    with django_assert_num_queries(4):
        response = admin_client_api.get(KEYS_URL, {"page_size": page_size})

    assert response.status_code == 200
    assert response.json()["count"] == 4
    assert len(response.json()["results"]) == min(page_size, 4)
    assert response.json()["results"][0]["usage"] == {"requests": 1, "prompt_tokens": 1, "eval_tokens": 2}


def test_key_list_filters_by_owner_and_revocation(admin_client_api, user, other_user):
    mine, _ = create_api_key(user, name="mine")
    revoked, _ = create_api_key(other_user, name="gone")
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=revoked.created_at)

    by_owner = admin_client_api.get(KEYS_URL, {"user": str(user.pk)}).json()["results"]
    only_revoked = admin_client_api.get(KEYS_URL, {"revoked": "true"}).json()["results"]

    assert [item["id"] for item in by_owner] == [str(mine.pk)]
    assert by_owner[0]["user"] == {"id": str(user.pk), "username": user.username}
    assert [item["id"] for item in only_revoked] == [str(revoked.pk)]
    assert admin_client_api.get(KEYS_URL, {"revoked": "maybe"}).status_code == 400


def test_key_detail_query_count_and_no_secret(admin_client_api, user, django_assert_num_queries):
    key, secret = create_api_key(user, name="k")

    with django_assert_num_queries(3):
        response = admin_client_api.get(key_url(key))

    assert response.status_code == 200
    assert secret not in response.content.decode()
    assert key.key_hash not in response.content.decode()


def test_a_keys_own_limit_is_set_and_audited(admin_client_api, admin_user, user):
    key, _ = create_api_key(user, name="k")

    response = admin_client_api.put(key_url(key, "quota"), {"requests_per_minute": 10}, format="json")
    reset = admin_client_api.put(key_url(key, "quota"), {"tokens_per_day": 500}, format="json")

    assert response.status_code == 200
    assert response.json()["requests_per_minute"] == 10
    assert reset.json()["tokens_per_day"] == 500
    assert reset.json()["requests_per_minute"] == 10
    events = AuditEvent.objects.filter(action="api_key_quota_changed", target_id=str(key.pk)).order_by(
        "created_at"
    )
    assert [(event.before, event.after) for event in events] == [
        ({"requests_per_minute": None}, {"requests_per_minute": 10}),
        ({"tokens_per_day": None}, {"tokens_per_day": 500}),
    ]
    assert events[0].actor_id == admin_user.pk


def test_staff_revoke_a_key_at_once(admin_client_api, user):
    key, secret = create_api_key(user, name="leaked")

    response = admin_client_api.delete(key_url(key))

    assert response.status_code == 204
    assert ApiKey.objects.get().revoked_at is not None
    with pytest.raises(InvalidApiKey):
        authenticate_api_key(secret)
    assert AuditEvent.objects.filter(action="api_key_revoked", target_id=str(key.pk)).exists()
    assert admin_client_api.delete(key_url(key)).status_code == 404


# --- the API usage report ----------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 20])
def test_api_usage_report_rows_and_totals(
    admin_client_api, user, other_user, page_size, django_assert_num_queries
):
    key, _ = create_api_key(user, name="script")
    record_usage(user, key, prompt_tokens=10, eval_tokens=20)
    record_usage(user, key, prompt_tokens=1, eval_tokens=2)
    record_usage(other_user, None, prompt_tokens=5, eval_tokens=5)

    # the caller, the role check, the totals, the count, the page
    with django_assert_num_queries(5):
        response = admin_client_api.get(API_USAGE_URL, {"page_size": page_size})

    assert response.status_code == 200
    body = response.json()
    assert body["totals"] == {
        "requests": 3,
        "prompt_tokens": 16,
        "eval_tokens": 27,
        "users": 2,
        "api_keys": 1,
    }
    assert body["count"] == 2
    assert len(body["results"]) == min(page_size, 2)
    rows = {row["user"]["username"]: row for row in admin_client_api.get(API_USAGE_URL).json()["results"]}
    assert rows[user.username]["api_key"] == {"id": str(key.pk), "name": "script", "prefix": key.prefix}
    assert rows[user.username]["requests"] == 2
    assert rows[other_user.username]["api_key"] is None


def test_api_usage_report_refuses_bad_ranges(admin_client_api):
    response = admin_client_api.get(API_USAGE_URL, {"date_from": "2026-02-01", "date_to": "2026-01-01"})

    assert response.status_code == 400
    assert "date_from" in response.json()["error"]["fields"]
