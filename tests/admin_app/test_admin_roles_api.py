"""Staff API, roles: list with member counts, create with name rules, delete unless built in or held."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from admin_app.models import AuditEvent
from core.permissions import ADMIN_ROLE, USER_ROLE
from tests.auth_app.factories import UserFactory
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin-role-list")


def detail_url(role: Group) -> str:
    return reverse("admin-role-detail", args=[role.pk])


def holding(role: Group, count: int, **fields) -> None:
    for _ in range(count):
        UserFactory(**fields).groups.add(role)


def role_events(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(target_type="auth.group", **filters).order_by("created_at"))


# --- who may call it ---------------------------------------------------------------------------------


def test_anonymous_callers_get_401_and_plain_users_403(anon_client, api_client):
    role = Group.objects.create(name="Editors")

    for client, status in ((anon_client, 401), (api_client, 403)):
        assert client.get(LIST_URL).status_code == status
        assert client.post(LIST_URL, {"name": "Reviewers"}, format="json").status_code == status
        assert client.delete(detail_url(role)).status_code == status
    assert set(Group.objects.values_list("name", flat=True)) == {ADMIN_ROLE, USER_ROLE, "Editors"}


@pytest.mark.parametrize("who", ["admin_user", "superuser"])
def test_admins_and_superusers_list_create_and_delete(request, who):
    client = client_for(request.getfixturevalue(who))

    created = client.post(LIST_URL, {"name": "Reviewers"}, format="json")
    listed = client.get(LIST_URL)
    deleted = client.delete(reverse("admin-role-detail", args=[created.json()["id"]]))

    assert created.status_code == 201
    assert listed.status_code == 200
    assert deleted.status_code == 204
    assert not Group.objects.filter(name="Reviewers").exists()


# --- list --------------------------------------------------------------------------------------------


def test_list_counts_alive_members(admin_client_api):
    editors = Group.objects.create(name="Editors")
    holding(editors, 2)
    holding(editors, 1, deleted=True)

    body = admin_client_api.get(LIST_URL).json()

    rows = {row["name"]: row for row in body["results"]}
    assert body["count"] == 3
    assert rows["Editors"] == {"id": editors.pk, "name": "Editors", "member_count": 2, "built_in": False}
    assert rows[ADMIN_ROLE]["member_count"] == 1
    assert rows[ADMIN_ROLE]["built_in"] is True


@pytest.mark.parametrize("page_size", [2, 20])
def test_list_costs_the_same_queries_at_any_page_size(admin_client_api, page_size, django_assert_num_queries):
    for n in range(25):
        holding(Group.objects.create(name=f"Team {n:02}"), 2)

    # authentication, Admin role, count, one page with the counts
    with django_assert_num_queries(4):
        response = admin_client_api.get(LIST_URL, {"page_size": page_size})

    results = response.json()["results"]
    assert len(results) == page_size
    assert all(row["member_count"] == 2 for row in results if row["name"].startswith("Team"))


# --- create ------------------------------------------------------------------------------------------


def test_create_makes_one_event(admin_client_api, admin_user):
    response = admin_client_api.post(LIST_URL, {"name": "  Support-team_2 "}, format="json")

    assert response.status_code == 201, response.content
    assert response.json() | {"id": 0} == {
        "id": 0,
        "name": "Support-team_2",
        "member_count": 0,
        "built_in": False,
    }
    (event,) = role_events(target_id=str(response.json()["id"]))
    assert (event.action, event.after, event.actor_id) == (
        "created",
        {"name": "Support-team_2"},
        admin_user.pk,
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "A"},
        {"name": "x" * 51},
        {"name": "x" * 151},
        {"name": "Bad!name"},
        {"name": "new\nline"},
        {"name": ["Editors"]},
        {"name": "admin"},
        {"name": "EDITORS"},
    ],
)
def test_bad_or_taken_names_are_refused_and_nothing_is_created(admin_client_api, body):
    Group.objects.create(name="Editors")
    before = set(Group.objects.values_list("name", flat=True))
    events_before = AuditEvent.objects.count()

    response = admin_client_api.post(LIST_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert "name" in response.json()["error"]["fields"]
    assert set(Group.objects.values_list("name", flat=True)) == before
    assert AuditEvent.objects.count() == events_before


# --- delete ------------------------------------------------------------------------------------------


def test_delete_removes_an_unused_role_with_one_event(admin_client_api, admin_user):
    role = Group.objects.create(name="Editors")
    holding(role, 1, deleted=True)  # a deleted account does not keep a role alive

    response = admin_client_api.delete(detail_url(role))

    assert response.status_code == 204
    assert not Group.objects.filter(pk=role.pk).exists()
    (event,) = role_events(action="deleted")
    assert (event.target_id, event.before, event.actor_id) == (
        str(role.pk),
        {"name": "Editors"},
        admin_user.pk,
    )


def test_a_role_someone_holds_cannot_be_deleted(admin_client_api):
    role = Group.objects.create(name="Editors")
    holding(role, 2)

    response = admin_client_api.delete(detail_url(role))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "role_in_use"
    assert Group.objects.filter(pk=role.pk).exists()
    assert not role_events(action="deleted")


@pytest.mark.parametrize("name", [USER_ROLE, ADMIN_ROLE])
def test_built_in_roles_cannot_be_deleted(admin_client_api, name):
    role = Group.objects.get(name=name)

    response = admin_client_api.delete(detail_url(role))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "built_in_role"
    assert Group.objects.filter(pk=role.pk).exists()


@pytest.mark.parametrize("path", ["999999/", "abc/"])
def test_an_unknown_role_is_404(admin_client_api, path):
    assert admin_client_api.delete(f"{LIST_URL}{path}").status_code == 404
