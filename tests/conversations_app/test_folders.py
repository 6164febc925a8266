"""Folders: create, list, rename, move (never into their own subtree), delete to the trash."""

from __future__ import annotations

import pytest

from conversations_app.models import Conversation, Folder
from tests.conversations_app.factories import ConversationFactory, FolderFactory
from tests.conversations_app.resources import AUTH_QUERIES, BASE, assert_error

pytestmark = pytest.mark.django_db

FOLDERS = f"{BASE}folders/"


def detail(folder) -> str:
    return f"{FOLDERS}{folder.pk}/"


def test_create_top_level_and_nested_folders(api_client, user):
    # when
    top = api_client.post(FOLDERS, {"name": "  Work  "}, format="json")
    child = api_client.post(FOLDERS, {"name": "Reports", "parent": top.json()["id"]}, format="json")

    # then
    assert top.status_code == 201
    assert top.json()["name"] == "Work"
    assert top.json()["parent"] is None
    assert top.json()["conversation_count"] == 0
    assert top["ETag"] == '"1"'
    assert child.status_code == 201
    assert child.json()["parent"] == top.json()["id"]
    assert Folder.objects.filter(owner=user).count() == 2


def test_list_shows_only_own_alive_folders_with_conversation_counts(api_client, user, other_user):
    # given
    work = FolderFactory(owner=user, name="Work")
    ConversationFactory.create_batch(2, owner=user, folder=work)
    ConversationFactory(owner=user, folder=work, deleted_at="2024-01-01T00:00:00Z")
    FolderFactory(owner=user, name="Gone", deleted_at="2024-01-01T00:00:00Z")
    FolderFactory(owner=other_user, name="Theirs")

    # when
    response = api_client.get(FOLDERS)

    # then
    assert response.status_code == 200
    assert [(f["name"], f["conversation_count"]) for f in response.json()["results"]] == [("Work", 2)]


def test_list_filters_by_parent_and_top_level(api_client, user):
    work = FolderFactory(owner=user, name="Work")
    FolderFactory(owner=user, name="Reports", parent=work)
    FolderFactory(owner=user, name="Home")

    children = api_client.get(FOLDERS, {"parent": str(work.pk)}).json()["results"]
    top = api_client.get(FOLDERS, {"top_level": "true"}).json()["results"]

    assert [f["name"] for f in children] == ["Reports"]
    assert [f["name"] for f in top] == ["Home", "Work"]
    assert_error(api_client.get(FOLDERS, {"parent": "nope"}), 400, "invalid")


@pytest.mark.parametrize("page_size", [5, 50])
def test_list_query_count_does_not_grow_with_page_size(
    api_client, user, page_size, django_assert_num_queries
):
    for n in range(page_size + 1):
        folder = FolderFactory(owner=user, name=f"Folder {n:03}")
        ConversationFactory(owner=user, folder=folder)

    with django_assert_num_queries(AUTH_QUERIES + 1):
        response = api_client.get(FOLDERS, {"page_size": page_size})

    assert len(response.json()["results"]) == page_size
    assert response.json()["next"]


def test_detail_carries_etag(api_client, user, django_assert_num_queries):
    folder = FolderFactory(owner=user)

    with django_assert_num_queries(AUTH_QUERIES + 1):
        response = api_client.get(detail(folder))

    assert response.status_code == 200
    assert response["ETag"] == '"1"'


def test_rename_with_current_etag_bumps_version(api_client, user):
    folder = FolderFactory(owner=user, name="Old")

    response = api_client.patch(detail(folder), {"name": "New"}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 200
    assert response.json()["name"] == "New"
    assert response["ETag"] == '"2"'
    folder.refresh_from_db()
    assert (folder.name, folder.version) == ("New", 2)


@pytest.mark.parametrize("if_match", ['"7"', "garbage"])
def test_rename_with_stale_or_malformed_if_match_is_412_and_changes_nothing(api_client, user, if_match):
    folder = FolderFactory(owner=user, name="Old")

    response = api_client.patch(detail(folder), {"name": "New"}, format="json", HTTP_IF_MATCH=if_match)

    assert_error(response, 412, "stale_version")
    folder.refresh_from_db()
    assert (folder.name, folder.version) == ("Old", 1)


def test_names_are_unique_per_parent_case_insensitively(api_client, user):
    work = FolderFactory(owner=user, name="Work")
    FolderFactory(owner=user, name="Reports", parent=work)

    clash = api_client.post(FOLDERS, {"name": "WORK"}, format="json")
    nested_clash = api_client.post(FOLDERS, {"name": "reports", "parent": str(work.pk)}, format="json")
    elsewhere = api_client.post(FOLDERS, {"name": "Reports"}, format="json")

    assert assert_error(clash, 409, "duplicate_name")["fields"]["name"]
    assert_error(nested_clash, 409, "duplicate_name")
    assert elsewhere.status_code == 201
    assert Folder.objects.filter(owner=user).count() == 3


def test_rename_into_a_taken_name_is_409(api_client, user):
    FolderFactory(owner=user, name="Work")
    home = FolderFactory(owner=user, name="Home")

    assert_error(api_client.patch(detail(home), {"name": "work"}, format="json"), 409, "duplicate_name")
    home.refresh_from_db()
    assert home.name == "Home"


def test_move_under_another_folder_and_back_to_top(api_client, user):
    work = FolderFactory(owner=user, name="Work")
    reports = FolderFactory(owner=user, name="Reports")

    moved = api_client.post(f"{detail(reports)}move/", {"parent": str(work.pk)}, format="json")
    back = api_client.patch(detail(reports), {"parent": None}, format="json", HTTP_IF_MATCH='"2"')

    assert moved.status_code == 200
    assert moved.json()["parent"] == str(work.pk)
    assert back.status_code == 200
    assert back.json()["parent"] is None
    assert back["ETag"] == '"3"'


def test_move_into_itself_or_a_descendant_is_refused(api_client, user):
    # given a > b > c
    a = FolderFactory(owner=user, name="a")
    b = FolderFactory(owner=user, name="b", parent=a)
    c = FolderFactory(owner=user, name="c", parent=b)

    # when
    into_self = api_client.post(f"{detail(a)}move/", {"parent": str(a.pk)}, format="json")
    into_grandchild = api_client.post(f"{detail(a)}move/", {"parent": str(c.pk)}, format="json")

    # then
    assert_error(into_self, 400, "folder_cycle")
    assert assert_error(into_grandchild, 400, "folder_cycle")["fields"]["parent"]
    a.refresh_from_db()
    assert (a.parent_id, a.version) == (None, 1)


def test_move_into_a_sibling_with_the_same_name_is_409(api_client, user):
    a = FolderFactory(owner=user, name="a")
    FolderFactory(owner=user, name="Reports", parent=a)
    reports = FolderFactory(owner=user, name="Reports")

    assert_error(api_client.post(f"{detail(reports)}move/", {"parent": str(a.pk)}, format="json"), 409)
    reports.refresh_from_db()
    assert reports.parent_id is None


def test_delete_moves_folder_subfolders_and_conversations_to_the_trash(api_client, user):
    work = FolderFactory(owner=user, name="Work")
    reports = FolderFactory(owner=user, name="Reports", parent=work)
    conversation = ConversationFactory(owner=user, folder=reports)

    response = api_client.delete(detail(work), HTTP_IF_MATCH='"1"')

    assert response.status_code == 204
    assert not Folder.objects.filter(pk__in=[work.pk, reports.pk]).exists()
    assert Folder.all_objects.dead().filter(pk__in=[work.pk, reports.pk]).count() == 2
    assert Conversation.all_objects.get(pk=conversation.pk).deleted_at is not None
    assert_error(api_client.get(detail(work)), 404)


def test_delete_with_stale_if_match_keeps_the_folder(api_client, user):
    folder = FolderFactory(owner=user)

    assert_error(api_client.delete(detail(folder), HTTP_IF_MATCH='"5"'), 412)
    assert Folder.objects.filter(pk=folder.pk).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 256},
        {"name": ["Work"]},
        {"name": "Work", "parent": "not-a-uuid"},
        {"name": "Work", "parent": "00000000-0000-0000-0000-000000000000"},
        {"name": "Work", "colour": "red"},
    ],
)
def test_create_with_bad_input_is_400_and_writes_nothing(api_client, user, payload):
    assert_error(api_client.post(FOLDERS, payload, format="json"), 400)
    assert not Folder.all_objects.filter(owner=user).exists()


@pytest.mark.parametrize(
    "payload", [{"name": ""}, {"name": "x" * 256}, {"parent": 5}, {"parent": "nope"}, {"version": 9}]
)
def test_update_with_bad_input_is_400_and_changes_nothing(api_client, user, payload):
    folder = FolderFactory(owner=user, name="Work")

    assert_error(api_client.patch(detail(folder), payload, format="json"), 400)
    folder.refresh_from_db()
    assert (folder.name, folder.parent_id, folder.version) == ("Work", None, 1)


def test_another_users_folder_is_not_usable_as_parent(api_client, user, other_user):
    theirs = FolderFactory(owner=other_user)
    mine = FolderFactory(owner=user)

    create = api_client.post(FOLDERS, {"name": "Sneaky", "parent": str(theirs.pk)}, format="json")
    move = api_client.post(f"{detail(mine)}move/", {"parent": str(theirs.pk)}, format="json")

    assert assert_error(create, 400)["fields"]["parent"]
    assert_error(move, 400)
    assert not theirs.children.exists()


def test_another_users_folder_is_404_for_every_action_and_unchanged(api_client, other_user):
    theirs = FolderFactory(owner=other_user, name="Theirs")

    responses = [
        api_client.get(detail(theirs)),
        api_client.patch(detail(theirs), {"name": "Mine"}, format="json"),
        api_client.post(f"{detail(theirs)}move/", {"parent": None}, format="json"),
        api_client.delete(detail(theirs)),
    ]

    for response in responses:
        assert_error(response, 404)
    theirs.refresh_from_db()
    assert (theirs.name, theirs.version, theirs.deleted_at) == ("Theirs", 1, None)


def test_anonymous_caller_gets_401(anon_client, user):
    folder = FolderFactory(owner=user)

    for response in [
        anon_client.get(FOLDERS),
        anon_client.post(FOLDERS, {"name": "x"}, format="json"),
        anon_client.get(detail(folder)),
        anon_client.patch(detail(folder), {"name": "y"}, format="json"),
        anon_client.delete(detail(folder)),
    ]:
        assert_error(response, 401)
    assert Folder.objects.filter(pk=folder.pk, name=folder.name).exists()


@pytest.mark.parametrize("payload", [{}, {"parent": "x"}, {"parent": 3}, {"parent": None, "name": "Renamed"}])
def test_move_with_bad_input_is_400_and_changes_nothing(api_client, user, payload):
    folder = FolderFactory(owner=user, name="Work")

    assert_error(api_client.post(f"{detail(folder)}move/", payload, format="json"), 400)
    folder.refresh_from_db()
    assert (folder.name, folder.parent_id, folder.version) == ("Work", None, 1)
