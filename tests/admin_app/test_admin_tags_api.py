"""Staff API, tags: list (alive or trash), detail, create, change with If-Match, delete, restore.
Every write leaves exactly one audit event."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from models_app.models import Tag
from tests.admin_app.helpers import audit_events_of
from tests.conftest import client_for
from tests.models_app.factories import AIModelFactory, TagFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin-tag-list")


def detail_url(tag) -> str:
    return reverse("admin-tag-detail", args=[tag.pk])


def restore_url(tag) -> str:
    return reverse("admin-tag-restore", args=[tag.pk])


def deleted_tag(**fields) -> Tag:
    return TagFactory(deleted_at=timezone.now(), **fields)


# --- who may call it ---------------------------------------------------------------------------------

# (method, url of a tag, body, status for an administrator)
ENDPOINTS = [
    ("get", lambda t: LIST_URL, None, 200),
    ("get", detail_url, None, 200),
    ("post", lambda t: LIST_URL, {"name": "fresh"}, 201),
    ("patch", detail_url, {"description": "changed"}, 200),
    ("delete", detail_url, None, 204),
]


@pytest.mark.parametrize(("method", "url", "body", "expected"), ENDPOINTS)
def test_anonymous_callers_get_401_and_plain_users_403(anon_client, api_client, method, url, body, expected):
    tag = TagFactory(name="kept")

    assert getattr(anon_client, method)(url(tag), body, format="json").status_code == 401
    assert getattr(api_client, method)(url(tag), body, format="json").status_code == 403
    assert list(Tag.all_objects.values_list("name", "description", "deleted_at")) == [("kept", "A tag", None)]


def test_restore_is_for_administrators_only(anon_client, api_client):
    tag = deleted_tag()

    assert anon_client.post(restore_url(tag)).status_code == 401
    assert api_client.post(restore_url(tag)).status_code == 403
    assert Tag.all_objects.get(pk=tag.pk).deleted_at is not None


@pytest.mark.parametrize("role", ["admin_user", "superuser"])
@pytest.mark.parametrize(("method", "url", "body", "expected"), ENDPOINTS)
def test_administrators_and_superusers_may_call_every_endpoint(request, role, method, url, body, expected):
    client = client_for(request.getfixturevalue(role))
    tag = TagFactory()

    response = getattr(client, method)(url(tag), body, format="json")

    assert response.status_code == expected, response.content
    restored = client.post(restore_url(deleted_tag()))
    assert restored.status_code == 200
    assert restored.json()["deleted_at"] is None


# --- list and detail ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [2, 10])
def test_list_pages_with_totals_in_constant_queries(admin_client_api, page_size, django_assert_num_queries):
    for n in range(12):
        TagFactory(name=f"tag {n:02}")
    deleted_tag(name="in the trash")

    # authentication, Admin role, count, one page
    with django_assert_num_queries(4):
        response = admin_client_api.get(LIST_URL, {"page_size": page_size})

    body = response.json()
    assert body["count"] == 12
    assert body["total_pages"] == -(-12 // page_size)
    assert [row["name"] for row in body["results"]] == [f"tag {n:02}" for n in range(page_size)]


def test_the_trash_lists_deleted_tags_only(admin_client_api):
    TagFactory(name="alive")
    deleted_tag(name="gone")

    response = admin_client_api.get(LIST_URL, {"deleted": "true"})

    assert [row["name"] for row in response.json()["results"]] == ["gone"]


def test_a_bad_deleted_flag_is_a_400(admin_client_api):
    response = admin_client_api.get(LIST_URL, {"deleted": "perhaps"})

    assert response.status_code == 400
    assert "deleted" in response.json()["error"]["fields"]


def test_detail_shows_deleted_tags_with_an_etag(admin_client_api, django_assert_num_queries):
    tag = deleted_tag(name="gone")

    with django_assert_num_queries(3):
        response = admin_client_api.get(detail_url(tag))

    assert response.json()["name"] == "gone"
    assert response.json()["deleted_at"] is not None
    assert response["ETag"] == '"1"'


@pytest.mark.parametrize("pk", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
def test_an_unknown_tag_is_a_404(admin_client_api, pk):
    response = admin_client_api.get(f"{LIST_URL}{pk}/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- create ----------------------------------------------------------------------------------------


def test_create_makes_the_slug_and_records_one_event(admin_client_api, admin_user):
    response = admin_client_api.post(
        LIST_URL, {"name": "Function Calling", "description": "Tools"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["slug"], body["description"], body["version"]) == (
        "Function Calling",
        "function-calling",
        "Tools",
        1,
    )
    tag = Tag.objects.get(pk=body["id"])
    [event] = audit_events_of(tag)
    assert (event.action, event.actor_id, event.after["name"]) == (
        "created",
        admin_user.pk,
        "Function Calling",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "Code"}, "name"),
        ({"name": "new one", "slug": "not a slug!"}, "slug"),
        ({"name": "new one", "slug": "code"}, "slug"),
        ({"name": "new one", "description": "d" * 2001}, "description"),
        ({"name": "new one", "colour": "red"}, "colour"),
        ({"name": "!!!"}, "slug"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(admin_client_api, body, field):
    TagFactory(name="code", slug="code")

    response = admin_client_api.post(LIST_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert list(Tag.all_objects.values_list("name", flat=True)) == ["code"]


# --- change, delete, restore -------------------------------------------------------------------------


def test_change_with_the_current_etag_bumps_the_version_and_renames_in_search(admin_client_api):
    tag = TagFactory(name="old")
    model = AIModelFactory(tags=[tag])

    response = admin_client_api.patch(
        detail_url(tag), {"name": "renamed"}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 200
    assert response.json()["name"] == "renamed"
    assert response["ETag"] == '"2"'
    model.refresh_from_db()
    assert model.tag_names == "renamed"
    [event] = [e for e in audit_events_of(tag) if e.action == "updated"]
    assert (event.before, event.after) == ({"name": "old"}, {"name": "renamed"})


def test_a_stale_etag_is_a_412_and_the_tag_is_unchanged(admin_client_api):
    tag = TagFactory(name="old")
    admin_client_api.patch(detail_url(tag), {"description": "first"}, format="json")

    response = admin_client_api.patch(detail_url(tag), {"name": "second"}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    assert response.json()["error"]["code"] == "stale_version"
    tag.refresh_from_db()
    assert (tag.name, tag.description, tag.version) == ("old", "first", 2)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "TAKEN"}, "name"),
        ({"slug": "bad slug"}, "slug"),
        ({"slug": "taken"}, "slug"),
        ({"version": 7}, "version"),
    ],
)
def test_change_refuses_bad_input_and_writes_nothing(admin_client_api, body, field):
    TagFactory(name="taken", slug="taken")
    tag = TagFactory(name="mine", slug="mine")

    response = admin_client_api.patch(detail_url(tag), body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    tag.refresh_from_db()
    assert (tag.name, tag.slug, tag.version) == ("mine", "mine", 1)


def test_delete_moves_the_tag_to_the_trash_once(admin_client_api):
    tag = TagFactory()

    assert admin_client_api.delete(detail_url(tag), HTTP_IF_MATCH='"1"').status_code == 204
    again = admin_client_api.delete(detail_url(tag))

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_deleted"
    assert Tag.all_objects.get(pk=tag.pk).deleted_at is not None
    assert [e.action for e in audit_events_of(tag)] == ["created", "soft_deleted"]


def test_delete_with_a_stale_etag_is_a_412(admin_client_api):
    tag = TagFactory()

    response = admin_client_api.delete(detail_url(tag), HTTP_IF_MATCH='"9"')

    assert response.status_code == 412
    assert Tag.objects.filter(pk=tag.pk).exists()


def test_restore_brings_a_tag_back_and_refuses_when_its_name_was_taken(admin_client_api):
    back = deleted_tag(name="vision", slug="vision")
    taken = deleted_tag(name="code", slug="code")
    TagFactory(name="Code", slug="code-2")

    assert admin_client_api.post(restore_url(back)).status_code == 200
    conflict = admin_client_api.post(restore_url(taken))
    alive = admin_client_api.post(restore_url(back))

    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "restore_conflict"
    assert alive.status_code == 409
    assert alive.json()["error"]["code"] == "not_deleted"
    assert Tag.objects.filter(pk=back.pk).exists()
    assert not Tag.objects.filter(pk=taken.pk).exists()
