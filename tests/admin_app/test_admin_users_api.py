"""Staff API, users: list/search/filter, detail, roles, activate/deactivate, lock/unlock, delete/restore,
force logout. Each write leaves exactly one audit event with the right before/after."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from admin_app.models import AuditEvent
from auth_app.models import User
from core.permissions import ADMIN_ROLE, USER_ROLE
from tests.auth_app.factories import UserFactory
from tests.auth_app.helpers import REFRESH_URL, login, signed_in
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin-user-list")


def detail_url(user) -> str:
    return reverse("admin-user-detail", args=[user.pk])


def action_url(user, name: str) -> str:
    return reverse(f"admin-user-{name}", args=[user.pk])


def with_roles(*names: str, **fields) -> User:
    user = UserFactory(**fields)
    user.groups.set(Group.objects.filter(name__in=names))
    return user


class NewEvents:
    """The audit events written since it was made."""

    def __init__(self) -> None:
        self.known = set(AuditEvent.objects.values_list("pk", flat=True))

    def __call__(self) -> list[AuditEvent]:
        return list(AuditEvent.objects.exclude(pk__in=self.known).order_by("created_at", "id"))


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    if code:
        assert error["code"] == code
    return error


# --- who may call it ---------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", lambda u: LIST_URL, None),
    ("get", detail_url, None),
    ("put", lambda u: action_url(u, "roles"), {"roles": [USER_ROLE]}),
    ("post", lambda u: action_url(u, "activate"), None),
    ("post", lambda u: action_url(u, "deactivate"), None),
    ("post", lambda u: action_url(u, "lock"), {"minutes": 5}),
    ("post", lambda u: action_url(u, "unlock"), None),
    ("delete", detail_url, None),
    ("post", lambda u: action_url(u, "logout"), None),
]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_anonymous_callers_get_401_and_plain_users_403(anon_client, api_client, method, url, body):
    target = UserFactory()

    assert getattr(anon_client, method)(url(target), body, format="json").status_code == 401
    assert getattr(api_client, method)(url(target), body, format="json").status_code == 403
    assert User.objects.get(pk=target.pk).is_active
    assert not AuditEvent.objects.exclude(action="created").exists()


@pytest.mark.parametrize("who", ["admin_user", "superuser"])
@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_admins_and_superusers_may_call_every_endpoint(request, who, method, url, body):
    client = client_for(request.getfixturevalue(who))
    target = with_roles(USER_ROLE)

    response = getattr(client, method)(url(target), body, format="json")

    assert response.status_code in (200, 204), response.content


def test_the_restore_endpoint_is_for_admins_only(anon_client, api_client, admin_client_api):
    target = UserFactory(deleted=True)
    url = action_url(target, "restore")

    assert anon_client.post(url).status_code == 401
    assert api_client.post(url).status_code == 403
    assert admin_client_api.post(url).status_code == 200


# --- list --------------------------------------------------------------------------------------------


def usernames(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["username"] for row in response.json()["results"]]


def test_list_searches_usernames_and_emails_in_any_case(admin_client_api):
    UserFactory(username="Ada", email="ada@lovelace.org")
    UserFactory(username="grace", email="grace@NAVY.mil")
    UserFactory(username="alan", email="alan@example.com")

    assert usernames(admin_client_api.get(LIST_URL, {"q": "ADA"})) == ["Ada"]
    assert usernames(admin_client_api.get(LIST_URL, {"q": "navy"})) == ["grace"]
    assert usernames(admin_client_api.get(LIST_URL, {"q": "LoveLace"})) == ["Ada"]
    assert usernames(admin_client_api.get(LIST_URL, {"q": "nobody-here"})) == []


def test_list_filters_by_role_status_lock_and_deletion(admin_client_api, admin_user):
    with_roles("Admin", username="boss")
    UserFactory(username="sleeper", is_active=False)
    UserFactory(username="jailed", locked=True)
    UserFactory(username="expired", locked_until=timezone.now() - timedelta(minutes=1))
    UserFactory(username="gone", deleted=True)

    def names(**params) -> set[str]:
        return set(usernames(admin_client_api.get(LIST_URL, {**params, "page_size": 100})))

    assert names(role="admin") == {"boss", admin_user.username}
    assert names(active="false") == {"sleeper"}
    assert names(locked="true") == {"jailed"}
    assert "expired" in names(locked="false")
    assert "jailed" not in names(locked="false")
    assert names(deleted="true") == {"gone"}
    assert "gone" not in names()
    assert "gone" not in names(deleted="false")


def test_list_has_totals_and_roles(admin_client_api, admin_user):
    UserFactory.create_batch(4)

    body = admin_client_api.get(LIST_URL, {"page_size": 2}).json()

    assert (body["count"], body["total_pages"], body["page"]) == (5, 3, 1)
    mine = admin_client_api.get(LIST_URL, {"q": admin_user.username}).json()["results"][0]
    assert mine["roles"] == [ADMIN_ROLE]
    assert mine["is_staff"] is True
    assert mine["is_locked"] is False


@pytest.mark.parametrize("page_size", [2, 20])
def test_list_costs_the_same_queries_at_any_page_size(
    admin_client_api, admin_user, page_size, django_assert_num_queries
):
    for n in range(25):
        with_roles(USER_ROLE, username=f"member{n:02}")

    # authentication, Admin role, count, one page (roles from a subquery)
    with django_assert_num_queries(4):
        response = admin_client_api.get(LIST_URL, {"page_size": page_size})

    results = response.json()["results"]
    assert len(results) == page_size
    assert all(row["roles"] == [USER_ROLE] for row in results if row["id"] != str(admin_user.pk))


@pytest.mark.parametrize(
    "params",
    [{"active": "maybe"}, {"locked": "yes"}, {"deleted": "2"}, {"q": "x" * 151}, {"role": "r" * 151}],
)
def test_list_refuses_bad_filters(admin_client_api, params):
    response = admin_client_api.get(LIST_URL, params)

    assert set(assert_error(response, 400, "invalid")["fields"]) == set(params)


@pytest.mark.parametrize("page", ["0", "99", "first"])
def test_a_page_that_does_not_exist_is_404(admin_client_api, page):
    assert_error(admin_client_api.get(LIST_URL, {"page": page}), 404)


# --- detail ------------------------------------------------------------------------------------------


def test_detail_shows_deleted_users_and_carries_an_etag(admin_client_api, django_assert_num_queries):
    target = with_roles(USER_ROLE, deleted=True)

    with django_assert_num_queries(3):
        response = admin_client_api.get(detail_url(target))

    assert response.status_code == 200
    assert response.json()["deleted_at"] is not None
    assert response.json()["roles"] == [USER_ROLE]
    assert response["ETag"] == f'"{target.version}"'


@pytest.mark.parametrize("path", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
def test_detail_of_an_unknown_user_is_404(admin_client_api, path):
    response = admin_client_api.get(f"{LIST_URL}{path}/")

    assert response.status_code == 404


# --- roles -------------------------------------------------------------------------------------------


def test_roles_are_replaced_and_the_change_is_one_event(admin_client_api, admin_user):
    target = with_roles(USER_ROLE)
    new = NewEvents()

    response = admin_client_api.put(action_url(target, "roles"), {"roles": ["Admin", "User"]}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["roles"] == ["Admin", "User"]
    assert response.json()["is_staff"] is True
    assert response["ETag"] == f'"{target.version + 1}"'
    (event,) = new()
    assert (event.action, event.target_id, event.actor_id) == ("roles_changed", str(target.pk), admin_user.pk)
    assert event.before == {"roles": ["User"], "is_staff": False}
    assert event.after == {"roles": ["Admin", "User"], "is_staff": True}


def test_the_same_roles_again_change_nothing(admin_client_api):
    target = with_roles(USER_ROLE)
    new = NewEvents()

    response = admin_client_api.put(action_url(target, "roles"), {"roles": ["User"]}, format="json")

    assert response.status_code == 200
    assert new() == []


def test_the_last_admin_keeps_the_admin_role(admin_client_api, admin_user):
    new = NewEvents()

    response = admin_client_api.put(action_url(admin_user, "roles"), {"roles": ["User"]}, format="json")

    assert_error(response, 409, "last_admin")
    assert list(admin_user.groups.values_list("name", flat=True)) == [ADMIN_ROLE]
    assert new() == []


def test_an_admin_may_step_down_while_another_remains(admin_client_api, admin_user):
    with_roles(ADMIN_ROLE)

    response = admin_client_api.put(action_url(admin_user, "roles"), {"roles": ["User"]}, format="json")

    assert response.status_code == 200
    assert admin_client_api.get(LIST_URL).status_code == 403  # the Admin role is checked on every request


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "roles"),
        ({"roles": "Admin"}, "roles"),
        ({"roles": []}, "roles"),
        ({"roles": [None]}, "roles"),
        ({"roles": ["x" * 151]}, "roles"),
        ({"roles": ["User", "Nope"]}, "roles"),
    ],
)
def test_bad_roles_are_refused_and_nothing_changes(admin_client_api, body, field):
    target = with_roles(USER_ROLE)
    new = NewEvents()

    response = admin_client_api.put(action_url(target, "roles"), body, format="json")

    assert field in assert_error(response, 400)["fields"]
    assert list(target.groups.values_list("name", flat=True)) == [USER_ROLE]
    assert new() == []


# --- activate / deactivate ---------------------------------------------------------------------------


def test_deactivation_is_one_event_and_ends_the_users_access(admin_client_api, admin_user):
    target = UserFactory()
    access = signed_in(target)["access"]
    new = NewEvents()

    response = admin_client_api.post(action_url(target, "deactivate"))

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    (event,) = new()
    assert (event.action, event.before, event.after) == ("updated", {"is_active": True}, {"is_active": False})
    assert event.actor_id == admin_user.pk
    assert event.request_id == response["X-Request-ID"]
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert bearer.get(reverse("auth_app:me")).status_code == 401


def test_activation_is_one_event(admin_client_api):
    target = UserFactory(is_active=False)
    new = NewEvents()

    response = admin_client_api.post(action_url(target, "activate"))

    assert response.status_code == 200
    assert response.json()["is_active"] is True
    assert [(e.action, e.after) for e in new()] == [("updated", {"is_active": True})]
    assert login(APIClient(), target.username).status_code == 200


@pytest.mark.parametrize(("name", "body"), [("deactivate", None), ("lock", {"minutes": 5}), ("delete", None)])
def test_admins_cannot_lock_out_themselves(admin_client_api, admin_user, name, body):
    new = NewEvents()

    if name == "delete":
        response = admin_client_api.delete(detail_url(admin_user))
    else:
        response = admin_client_api.post(action_url(admin_user, name), body, format="json")

    assert_error(response, 409, "own_account")
    admin_user.refresh_from_db()
    assert admin_user.can_sign_in
    assert new() == []


def test_a_plain_admin_cannot_touch_a_superuser(admin_client_api, superuser):
    response = admin_client_api.post(action_url(superuser, "deactivate"))

    assert_error(response, 403, "permission_denied")
    assert User.objects.get(pk=superuser.pk).is_active


def test_a_stale_if_match_is_412_and_nothing_changes(admin_client_api):
    target = UserFactory()
    new = NewEvents()

    response = admin_client_api.post(
        action_url(target, "deactivate"), HTTP_IF_MATCH=f'"{target.version + 5}"'
    )

    assert_error(response, 412)
    assert User.objects.get(pk=target.pk).is_active
    assert new() == []


# --- lock / unlock -----------------------------------------------------------------------------------


def test_a_lock_is_one_event_and_keeps_the_user_out(admin_client_api, admin_user):
    target = UserFactory()
    new = NewEvents()

    response = admin_client_api.post(action_url(target, "lock"), {"minutes": 90}, format="json")

    assert response.status_code == 200
    assert response.json()["is_locked"] is True
    (event,) = new()
    assert (event.action, event.actor_id, event.before) == (
        "account_locked_by_admin",
        admin_user.pk,
        {"locked_until": None},
    )
    target.refresh_from_db()
    assert timedelta(minutes=89) < target.locked_until - timezone.now() <= timedelta(minutes=90)
    assert event.after["minutes"] == 90
    assert event.after["locked_until"]
    assert login(APIClient(), target.username).status_code == 401


def test_an_unlock_is_one_event_and_lets_the_user_back_in(admin_client_api):
    target = UserFactory(locked=True, failed_login_count=3)
    new = NewEvents()

    response = admin_client_api.post(action_url(target, "unlock"))

    assert response.status_code == 200
    assert response.json()["is_locked"] is False
    (event,) = new()
    assert event.action == "account_unlocked_by_admin"
    assert event.before["locked_until"]
    assert event.after == {"locked_until": None}
    assert login(APIClient(), target.username).status_code == 200


def test_unlocking_an_unlocked_user_changes_nothing(admin_client_api):
    target = UserFactory()
    new = NewEvents()

    assert admin_client_api.post(action_url(target, "unlock")).status_code == 200
    assert new() == []


@pytest.mark.parametrize("minutes", [0, 43_201, -5, "soon", 1.5, None, True])
def test_lock_durations_outside_1_to_43200_minutes_are_refused(admin_client_api, minutes):
    target = UserFactory()

    response = admin_client_api.post(action_url(target, "lock"), {"minutes": minutes}, format="json")

    assert "minutes" in assert_error(response, 400)["fields"]
    assert User.objects.get(pk=target.pk).locked_until is None


def test_lock_without_a_duration_is_refused(admin_client_api):
    response = admin_client_api.post(action_url(UserFactory(), "lock"), {}, format="json")

    assert "minutes" in assert_error(response, 400)["fields"]


def test_the_longest_lock_is_thirty_days(admin_client_api):
    target = UserFactory()

    response = admin_client_api.post(action_url(target, "lock"), {"minutes": 43_200}, format="json")

    assert response.status_code == 200
    target.refresh_from_db()
    assert target.locked_until - timezone.now() > timedelta(days=29, hours=23)


# --- delete / restore --------------------------------------------------------------------------------


def test_delete_moves_the_user_to_the_trash_with_one_event(admin_client_api, admin_user):
    target = UserFactory()
    new = NewEvents()

    response = admin_client_api.delete(detail_url(target))

    assert response.status_code == 204
    (event,) = new()
    assert (event.action, event.target_id, event.actor_id) == ("soft_deleted", str(target.pk), admin_user.pk)
    assert event.before == {"deleted_at": None}
    assert event.after["deleted_at"]
    assert login(APIClient(), target.username).status_code == 401
    assert target.username not in usernames(admin_client_api.get(LIST_URL, {"page_size": 100}))


def test_deleting_a_deleted_user_is_409(admin_client_api):
    target = UserFactory(deleted=True)

    assert_error(admin_client_api.delete(detail_url(target)), 409, "already_deleted")


def test_restore_brings_the_user_back_with_one_event(admin_client_api):
    target = UserFactory(deleted=True)
    new = NewEvents()

    response = admin_client_api.post(action_url(target, "restore"))

    assert response.status_code == 200
    assert response.json()["deleted_at"] is None
    assert [(e.action, e.after) for e in new()] == [("restored", {"deleted_at": None})]
    assert login(APIClient(), target.username).status_code == 200


def test_restore_refuses_when_the_name_was_taken_meanwhile(admin_client_api):
    target = UserFactory(username="ada", deleted=True)
    UserFactory(username="ADA")
    new = NewEvents()

    response = admin_client_api.post(action_url(target, "restore"))

    assert_error(response, 409, "restore_conflict")
    assert User.all_objects.get(pk=target.pk).deleted_at is not None
    assert new() == []


def test_restoring_an_alive_user_is_409(admin_client_api):
    assert_error(admin_client_api.post(action_url(UserFactory(), "restore")), 409, "not_deleted")


# --- force logout ------------------------------------------------------------------------------------


def test_force_logout_revokes_every_refresh_token_with_one_event(admin_client_api, admin_user):
    target = UserFactory()
    sessions = [signed_in(target)["refresh"] for _ in range(2)]
    new = NewEvents()

    response = admin_client_api.post(action_url(target, "logout"))

    assert response.status_code == 200
    assert response.json() == {"revoked": 2}
    for refresh in sessions:
        assert APIClient().post(REFRESH_URL, {"refresh": refresh}, format="json").status_code == 401
    (event,) = new()
    assert (event.action, event.actor_id, event.after) == ("sessions_revoked", admin_user.pk, {"revoked": 2})
