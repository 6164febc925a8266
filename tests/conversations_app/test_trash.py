"""Trash: the caller's deleted conversations and folders, restore, purge for good (files included),
empty, and the retention purge (command and scheduled task)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from conversations_app import services
from conversations_app.models import (
    AIResponse,
    Attachment,
    Conversation,
    ConversationPromptResponse,
    Feedback,
    Folder,
    Note,
    Prompt,
)
from conversations_app.tasks import purge_trash
from tests.conversations_app.factories import (
    ConversationFactory,
    FeedbackFactory,
    FolderFactory,
    NoteFactory,
)
from tests.conversations_app.resources import AUTH_QUERIES, BASE, add_exchange, assert_error

pytestmark = pytest.mark.django_db

TRASH = f"{BASE}trash/"


def stored_files(settings) -> list[Path]:
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def upload(client, conversation, data: bytes, name: str = "a.txt"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        f"{BASE}{conversation.pk}/attachments/",
        {"file": SimpleUploadedFile(name, data, "text/plain")},
        format="multipart",
    )
    assert response.status_code == 201
    return Attachment.objects.get(pk=response.json()["id"])


def full_conversation(user, **fields) -> Conversation:
    """A conversation with two exchanges, feedback and a note."""
    conversation = ConversationFactory(owner=user, **fields)
    first = add_exchange(conversation)
    second = add_exchange(conversation, parent=first)
    FeedbackFactory(response=first.response, user=user)
    NoteFactory(response=second.response, owner=user)
    return conversation


def rows_of(conversation) -> dict[str, int]:
    exchanges = ConversationPromptResponse.all_objects.filter(conversation=conversation)
    return {
        "conversations": Conversation.all_objects.filter(pk=conversation.pk).count(),
        "exchanges": exchanges.count(),
        "prompts": Prompt.all_objects.filter(exchange__in=exchanges).count(),
        "responses": AIResponse.all_objects.filter(exchange__in=exchanges).count(),
        "feedback": Feedback.all_objects.filter(response__exchange__in=exchanges).count(),
        "notes": Note.all_objects.filter(response__exchange__in=exchanges).count(),
        "attachments": Attachment.all_objects.filter(conversation=conversation).count(),
    }


def test_lists_show_only_own_deleted_items_newest_first(api_client, user, other_user):
    alive = ConversationFactory(owner=user)
    older = ConversationFactory(owner=user)
    newer = ConversationFactory(owner=user)
    services.conversation_soft_delete(conversation=older)
    services.conversation_soft_delete(conversation=newer)
    services.conversation_soft_delete(conversation=ConversationFactory(owner=other_user))
    folder = FolderFactory(owner=user, name="Old stuff")
    services.folder_soft_delete(folder=folder)
    FolderFactory(owner=user)

    conversations = api_client.get(f"{TRASH}conversations/").json()["results"]
    folders = api_client.get(f"{TRASH}folders/").json()["results"]

    assert [c["id"] for c in conversations] == [str(newer.pk), str(older.pk)]
    assert conversations[0]["deleted_at"]
    assert str(alive.pk) not in {c["id"] for c in conversations}
    assert [f["name"] for f in folders] == ["Old stuff"]


@pytest.mark.parametrize("size", [5, 50])
def test_trash_lists_in_constant_queries(api_client, user, size, django_assert_num_queries):
    for _ in range(size + 1):
        services.conversation_soft_delete(conversation=ConversationFactory(owner=user))
        services.folder_soft_delete(folder=FolderFactory(owner=user))

    with django_assert_num_queries(AUTH_QUERIES + 1):
        conversations = api_client.get(f"{TRASH}conversations/", {"page_size": size})
    with django_assert_num_queries(AUTH_QUERIES + 1):
        folders = api_client.get(f"{TRASH}folders/", {"page_size": size})

    assert len(conversations.json()["results"]) == len(folders.json()["results"]) == size


def test_restore_a_conversation_with_everything_it_took(api_client, user):
    conversation = full_conversation(user)
    services.conversation_soft_delete(conversation=conversation)

    response = api_client.post(f"{TRASH}conversations/{conversation.pk}/restore/")

    assert response.status_code == 200
    assert response.json()["id"] == str(conversation.pk)
    assert "deleted_at" not in response.json()
    assert api_client.get(f"{BASE}{conversation.pk}/").status_code == 200
    assert ConversationPromptResponse.objects.filter(conversation=conversation).count() == 2
    assert Feedback.objects.filter(response__exchange__conversation=conversation).count() == 1


def test_restore_a_folder_with_its_conversations(api_client, user):
    folder = FolderFactory(owner=user)
    conversation = ConversationFactory(owner=user, folder=folder)
    services.folder_soft_delete(folder=folder)

    response = api_client.post(f"{TRASH}folders/{folder.pk}/restore/")

    assert response.status_code == 200
    assert response.json()["deleted_at"] is None
    assert Conversation.objects.filter(pk=conversation.pk, folder=folder).exists()


def test_restoring_an_alive_conversation_is_404(api_client, user):
    conversation = ConversationFactory(owner=user)

    assert_error(api_client.post(f"{TRASH}conversations/{conversation.pk}/restore/"), 404)
    assert_error(api_client.delete(f"{TRASH}conversations/{conversation.pk}/"), 404)
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_purge_a_conversation_deletes_every_row_and_its_unshared_files(
    api_client, settings, user, django_capture_on_commit_callbacks
):
    # given one file only this conversation has, one it shares with a conversation that stays
    conversation = full_conversation(user)
    keeper = ConversationFactory(owner=user)
    upload(api_client, conversation, b"only here")
    upload(api_client, conversation, b"shared bytes")
    shared = upload(api_client, keeper, b"shared bytes")
    services.conversation_soft_delete(conversation=conversation)
    assert len(stored_files(settings)) == 2

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(f"{TRASH}conversations/{conversation.pk}/")

    # then
    assert response.status_code == 204
    assert set(rows_of(conversation).values()) == {0}
    assert [p.name for p in stored_files(settings)] == [shared.sha256]
    assert api_client.get(f"{BASE}{keeper.pk}/attachments/{shared.pk}/download/").status_code == 200


def test_purge_a_folder_takes_what_its_deletion_took_and_leaves_the_rest(api_client, user):
    # given a folder with a subfolder and a conversation, and a conversation deleted on its own earlier
    folder = FolderFactory(owner=user, name="Projects")
    sub = FolderFactory(owner=user, name="2023", parent=folder)
    inside = full_conversation(user, folder=sub)
    earlier = ConversationFactory(owner=user, folder=folder)
    services.conversation_soft_delete(conversation=earlier)
    services.folder_soft_delete(folder=folder)

    # when
    response = api_client.delete(f"{TRASH}folders/{folder.pk}/")

    # then
    assert response.status_code == 204
    assert not Folder.all_objects.filter(pk__in=[folder.pk, sub.pk]).exists()
    assert set(rows_of(inside).values()) == {0}
    leftover = Conversation.all_objects.get(pk=earlier.pk)
    assert (leftover.folder_id, leftover.deleted_at is not None) == (None, True)
    assert [c["id"] for c in api_client.get(f"{TRASH}conversations/").json()["results"]] == [str(earlier.pk)]


def test_empty_the_trash(api_client, settings, user, other_user, django_capture_on_commit_callbacks):
    mine = full_conversation(user)
    upload(api_client, mine, b"bye")
    services.conversation_soft_delete(conversation=mine)
    folder = FolderFactory(owner=user)
    services.folder_soft_delete(folder=folder)
    kept = ConversationFactory(owner=user)
    theirs = ConversationFactory(owner=other_user)
    services.conversation_soft_delete(conversation=theirs)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(TRASH)

    assert response.status_code == 204
    assert set(rows_of(mine).values()) == {0}
    assert not Folder.all_objects.filter(pk=folder.pk).exists()
    assert Conversation.objects.filter(pk=kept.pk).exists()
    assert Conversation.all_objects.filter(pk=theirs.pk).exists()
    assert stored_files(settings) == []


def test_another_users_trash_is_404_and_unchanged(api_client, other_user):
    conversation = ConversationFactory(owner=other_user)
    folder = FolderFactory(owner=other_user)
    services.conversation_soft_delete(conversation=conversation)
    services.folder_soft_delete(folder=folder)

    responses = [
        api_client.get(f"{TRASH}conversations/{conversation.pk}/"),
        api_client.post(f"{TRASH}conversations/{conversation.pk}/restore/"),
        api_client.delete(f"{TRASH}conversations/{conversation.pk}/"),
        api_client.get(f"{TRASH}folders/{folder.pk}/"),
        api_client.post(f"{TRASH}folders/{folder.pk}/restore/"),
        api_client.delete(f"{TRASH}folders/{folder.pk}/"),
    ]

    for response in responses:
        assert_error(response, 404)
    assert Conversation.all_objects.get(pk=conversation.pk).deleted_at is not None
    assert Folder.all_objects.get(pk=folder.pk).deleted_at is not None


def test_anonymous_caller_gets_401(anon_client, user):
    conversation = ConversationFactory(owner=user)
    services.conversation_soft_delete(conversation=conversation)

    for response in [
        anon_client.get(f"{TRASH}conversations/"),
        anon_client.get(f"{TRASH}folders/"),
        anon_client.post(f"{TRASH}conversations/{conversation.pk}/restore/"),
        anon_client.delete(f"{TRASH}conversations/{conversation.pk}/"),
        anon_client.delete(TRASH),
    ]:
        assert_error(response, 401)
    assert Conversation.all_objects.filter(pk=conversation.pk).exists()


def _deleted_days_ago(model, pk, days: int) -> None:
    """Age a soft delete (and what it cascaded to, which shares its timestamp)."""
    instance = model.all_objects.get(pk=pk)
    aged = instance.deleted_at - timedelta(days=days)
    for queryset in (
        Conversation.all_objects,
        Folder.all_objects,
        ConversationPromptResponse.all_objects,
        Prompt.all_objects,
        AIResponse.all_objects,
        Feedback.all_objects,
        Note.all_objects,
        Attachment.all_objects,
    ):
        queryset.filter(deleted_at=instance.deleted_at).update(deleted_at=aged)


def test_retention_purge_removes_only_what_is_older_than_the_setting(
    api_client, settings, user, django_capture_on_commit_callbacks
):
    # given
    settings.TRASH_RETENTION_DAYS = 30
    old = full_conversation(user)
    upload(api_client, old, b"old file")
    services.conversation_soft_delete(conversation=old)
    _deleted_days_ago(Conversation, old.pk, 31)
    recent = full_conversation(user)
    services.conversation_soft_delete(conversation=recent)
    _deleted_days_ago(Conversation, recent.pk, 29)
    old_folder = FolderFactory(owner=user)
    services.folder_soft_delete(folder=old_folder)
    _deleted_days_ago(Folder, old_folder.pk, 40)
    alive = full_conversation(user)
    stale_note = NoteFactory(response=alive.current_exchange.response, owner=user)
    services.note_delete(note=stale_note)
    Note.all_objects.filter(pk=stale_note.pk).update(deleted_at=timezone.now() - timedelta(days=60))
    out = StringIO()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_trash", stdout=out)

    # then
    assert set(rows_of(old).values()) == {0}
    assert rows_of(recent)["conversations"] == 1
    assert not Folder.all_objects.filter(pk=old_folder.pk).exists()
    assert not Note.all_objects.filter(pk=stale_note.pk).exists()
    assert rows_of(alive)["notes"] == 1
    assert stored_files(settings) == []
    assert "1 conversations" in out.getvalue()
    assert "1 folders" in out.getvalue()


def test_retention_purge_task_is_idempotent_and_reports_counts(user):
    conversation = ConversationFactory(owner=user)
    services.conversation_soft_delete(conversation=conversation)
    _deleted_days_ago(Conversation, conversation.pk, 100)

    first = purge_trash.delay().get()
    second = purge_trash.delay().get()

    assert first["conversations"] == 1
    assert second == {
        "folders": 0,
        "conversations": 0,
        "exchanges": 0,
        "attachments": 0,
        "notes": 0,
        "feedback": 0,
    }


def test_retention_command_refuses_negative_days():
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("purge_trash", "--days", "-1")


def test_restoring_a_folder_whose_name_was_taken_since_is_409(api_client, user):
    folder = FolderFactory(owner=user, name="Work")
    services.folder_soft_delete(folder=folder)
    FolderFactory(owner=user, name="work")

    response = api_client.post(f"{TRASH}folders/{folder.pk}/restore/")

    assert_error(response, 409, "restore_conflict")
    assert Folder.all_objects.get(pk=folder.pk).deleted_at is not None
