"""Staff API, system messages: list (alive or trash), detail, create, change with If-Match, delete,
restore. Every write leaves exactly one audit event."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from admin_app.models import SystemMessage
from admin_app.selectors import system_message_get_active
from tests.admin_app.factories import SystemMessageFactory
from tests.admin_app.helpers import audit_events_of
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin-system-message-list")


def detail_url(message) -> str:
    return reverse("admin-system-message-detail", args=[message.pk])


def restore_url(message) -> str:
    return reverse("admin-system-message-restore", args=[message.pk])


def deleted_message(**fields) -> SystemMessage:
    return SystemMessageFactory(deleted_at=timezone.now(), **fields)


def snapshot(message) -> tuple:
    row = SystemMessage.all_objects.get(pk=message.pk)
    return (row.name, row.content, row.description, row.is_active, row.deleted_at, row.version)


NEW = {"name": "Pirate", "content": "Answer like a pirate.", "description": "Fun", "is_active": False}

# (method, url of a message, body, status for an administrator)
ENDPOINTS = [
    ("get", lambda m: LIST_URL, None, 200),
    ("get", detail_url, None, 200),
    ("post", lambda m: LIST_URL, NEW, 201),
    ("patch", detail_url, {"content": "Be brief."}, 200),
    ("delete", detail_url, None, 204),
]


@pytest.mark.parametrize(("method", "url", "body", "expected"), ENDPOINTS)
def test_anonymous_callers_get_401_and_plain_users_403(anon_client, api_client, method, url, body, expected):
    message = SystemMessageFactory()
    before = snapshot(message)

    assert getattr(anon_client, method)(url(message), body, format="json").status_code == 401
    assert getattr(api_client, method)(url(message), body, format="json").status_code == 403
    assert snapshot(message) == before
    assert SystemMessage.all_objects.count() == 1


def test_restore_is_for_administrators_only(anon_client, api_client):
    message = deleted_message()

    assert anon_client.post(restore_url(message)).status_code == 401
    assert api_client.post(restore_url(message)).status_code == 403
    assert snapshot(message)[4] is not None


@pytest.mark.parametrize("role", ["admin_user", "superuser"])
@pytest.mark.parametrize(("method", "url", "body", "expected"), ENDPOINTS)
def test_administrators_and_superusers_may_call_every_endpoint(request, role, method, url, body, expected):
    client = client_for(request.getfixturevalue(role))
    message = SystemMessageFactory()

    response = getattr(client, method)(url(message), body, format="json")

    assert response.status_code == expected, response.content
    restored = client.post(restore_url(deleted_message()))
    assert restored.status_code == 200
    assert restored.json()["deleted_at"] is None


# --- list and detail ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [2, 10])
def test_list_pages_with_totals_in_constant_queries(admin_client_api, page_size, django_assert_num_queries):
    for n in range(12):
        SystemMessageFactory(name=f"message {n:02}", is_active=n % 2 == 0)
    deleted_message(name="in the trash")

    # authentication, Admin role, count, one page
    with django_assert_num_queries(4):
        response = admin_client_api.get(LIST_URL, {"page_size": page_size})

    body = response.json()
    assert body["count"] == 12
    assert body["total_pages"] == -(-12 // page_size)
    assert [row["name"] for row in body["results"]] == [f"message {n:02}" for n in range(page_size)]


def test_the_trash_lists_deleted_messages_only(admin_client_api):
    SystemMessageFactory(name="alive")
    deleted_message(name="gone")

    response = admin_client_api.get(LIST_URL, {"deleted": "true"})

    assert [row["name"] for row in response.json()["results"]] == ["gone"]


def test_detail_shows_deleted_messages_with_an_etag(admin_client_api, django_assert_num_queries):
    message = deleted_message(name="gone")

    with django_assert_num_queries(3):
        response = admin_client_api.get(detail_url(message))

    assert response.json()["name"] == "gone"
    assert response.json()["deleted_at"] is not None
    assert response["ETag"] == '"1"'


@pytest.mark.parametrize("pk", ["00000000-0000-0000-0000-000000000000", "nope"])
def test_an_unknown_message_is_a_404(admin_client_api, pk):
    assert admin_client_api.get(f"{LIST_URL}{pk}/").status_code == 404


# --- create ----------------------------------------------------------------------------------------


def test_create_stores_the_message_and_records_one_event(admin_client_api, admin_user):
    response = admin_client_api.post(LIST_URL, NEW, format="json")

    assert response.status_code == 201
    assert response["ETag"] == '"1"'
    message = SystemMessage.objects.get(pk=response.json()["id"])
    assert (message.name, message.content, message.description, message.is_active) == (
        "Pirate",
        "Answer like a pirate.",
        "Fun",
        False,
    )
    [event] = audit_events_of(message)
    assert (event.action, event.actor_id, event.after["content"]) == (
        "created",
        admin_user.pk,
        "Answer like a pirate.",
    )


def test_an_inactive_message_cannot_be_picked_by_users(admin_client_api):
    response = admin_client_api.post(LIST_URL, NEW, format="json")

    assert system_message_get_active(system_message_id=response.json()["id"]) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "text"}, "name"),
        ({"name": "Named"}, "content"),
        ({"name": "", "content": "text"}, "name"),
        ({"name": "Named", "content": "   "}, "content"),
        ({"name": "x" * 101, "content": "text"}, "name"),
        ({"name": "Named", "content": "c" * 20_001}, "content"),
        ({"name": "Named", "content": "text", "description": "d" * 2001}, "description"),
        ({"name": "Named", "content": "text", "is_active": "sometimes"}, "is_active"),
        ({"name": "DEFAULT", "content": "text"}, "name"),
        ({"name": "Named", "content": "text", "owner": "me"}, "owner"),
        ({"name": ["Named"], "content": "text"}, "name"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(admin_client_api, body, field):
    SystemMessageFactory(name="Default")

    response = admin_client_api.post(LIST_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert list(SystemMessage.all_objects.values_list("name", flat=True)) == ["Default"]


def test_a_name_freed_by_a_deletion_can_be_used_again(admin_client_api):
    deleted_message(name="Pirate")

    assert admin_client_api.post(LIST_URL, NEW, format="json").status_code == 201


# --- change, delete, restore -------------------------------------------------------------------------


def test_change_with_the_current_etag_records_the_change(admin_client_api):
    message = SystemMessageFactory(content="Be helpful.")

    response = admin_client_api.patch(
        detail_url(message), {"content": "Be brief.", "is_active": False}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    assert response.json()["content"] == "Be brief."
    assert response.json()["is_active"] is False
    [event] = [e for e in audit_events_of(message) if e.action == "updated"]
    assert event.before == {"content": "Be helpful.", "is_active": True}
    assert event.after == {"content": "Be brief.", "is_active": False}


def test_a_stale_etag_is_a_412_and_the_message_is_unchanged(admin_client_api):
    message = SystemMessageFactory(content="Be helpful.")
    admin_client_api.patch(detail_url(message), {"description": "edited"}, format="json")
    before = snapshot(message)

    response = admin_client_api.patch(
        detail_url(message), {"content": "Late."}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 412
    assert snapshot(message) == before


def test_an_unchanged_value_writes_nothing_but_still_checks_the_etag(admin_client_api):
    message = SystemMessageFactory(content="Same.")

    same = admin_client_api.patch(
        detail_url(message), {"content": "Same."}, format="json", HTTP_IF_MATCH='"1"'
    )
    stale = admin_client_api.patch(
        detail_url(message), {"content": "Same."}, format="json", HTTP_IF_MATCH='"5"'
    )

    assert same.status_code == 200
    assert same["ETag"] == '"1"'
    assert stale.status_code == 412
    assert [e.action for e in audit_events_of(message)] == ["created"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "taken"}, "name"),
        ({"content": ""}, "content"),
        ({"content": None}, "content"),
        ({"is_active": "perhaps"}, "is_active"),
        ({"deleted_at": None}, "deleted_at"),
    ],
)
def test_change_refuses_bad_input_and_writes_nothing(admin_client_api, body, field):
    SystemMessageFactory(name="Taken")
    message = SystemMessageFactory(name="Mine")
    before = snapshot(message)

    response = admin_client_api.patch(detail_url(message), body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert snapshot(message) == before


def test_delete_hides_the_message_from_users_and_restore_brings_it_back(admin_client_api):
    message = SystemMessageFactory()

    assert admin_client_api.delete(detail_url(message), HTTP_IF_MATCH='"1"').status_code == 204
    assert system_message_get_active(system_message_id=message.pk) is None
    restored = admin_client_api.post(restore_url(message))

    assert restored.status_code == 200
    assert system_message_get_active(system_message_id=message.pk) is not None
    assert [e.action for e in audit_events_of(message)] == ["created", "soft_deleted", "restored"]


def test_delete_with_a_stale_etag_is_a_412_and_twice_a_409(admin_client_api):
    message = SystemMessageFactory()

    stale = admin_client_api.delete(detail_url(message), HTTP_IF_MATCH='"3"')
    admin_client_api.delete(detail_url(message))
    twice = admin_client_api.delete(detail_url(message))

    assert stale.status_code == 412
    assert twice.status_code == 409


def test_restore_refuses_when_an_alive_message_has_taken_the_name(admin_client_api):
    message = deleted_message(name="Pirate")
    SystemMessageFactory(name="pirate")

    response = admin_client_api.post(restore_url(message))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "restore_conflict"
    assert snapshot(message)[4] is not None
