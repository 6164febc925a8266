"""The soft-delete contract: managers, relations, partial uniqueness, cascade and restore."""

import pytest
from django.db import IntegrityError, transaction

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
from conversations_app.services import (
    conversation_restore,
    conversation_soft_delete,
    folder_restore,
    folder_soft_delete,
)
from core import services as core_services
from core.exceptions import Conflict
from models_app.models import Tag
from tests.conversations_app.factories import (
    AttachmentFactory,
    ConversationFactory,
    ExchangeFactory,
    FeedbackFactory,
    FolderFactory,
    NoteFactory,
)
from tests.models_app.factories import AIModelFactory, ModelTagFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_default_manager_hides_deleted_rows_and_all_objects_sees_them():
    # given
    alive, deleted = TagFactory(), TagFactory()
    # when
    core_services.soft_delete(deleted)
    # then
    assert list(Tag.objects.all()) == [alive]
    assert set(Tag.all_objects.all()) == {alive, deleted}
    assert list(Tag.all_objects.dead()) == [deleted]


def test_reverse_relations_hide_deleted_children():
    conversation = ConversationFactory()
    kept = ExchangeFactory(conversation=conversation)
    gone = ExchangeFactory(conversation=conversation, parent=kept)
    core_services.soft_delete(gone)
    model = AIModelFactory()
    ModelTagFactory(model=model, tag=TagFactory(name="visible"))
    hidden = TagFactory(name="hidden")
    ModelTagFactory(model=model, tag=hidden)
    core_services.soft_delete(hidden)

    assert list(conversation.exchanges.all()) == [kept]
    assert [t.name for t in model.tags.all()] == ["visible"]


def test_forward_foreign_key_to_a_deleted_parent_still_resolves():
    folder = FolderFactory()
    conversation = ConversationFactory(owner=folder.owner, folder=folder)
    exchange = ExchangeFactory(conversation=conversation)
    core_services.soft_delete(folder)

    reloaded = Conversation.objects.get(pk=conversation.pk)
    assert reloaded.folder == folder
    assert reloaded.folder.deleted_at is not None
    core_services.soft_delete(conversation)
    assert ConversationPromptResponse.objects.get(pk=exchange.pk).conversation.pk == conversation.pk


def test_duplicate_name_among_alive_rows_is_refused_by_the_database_but_allowed_after_delete():
    first = TagFactory(name="Coding")
    with pytest.raises(IntegrityError), transaction.atomic():
        Tag.objects.create(name="coding", slug="coding-2")
    core_services.soft_delete(first)

    second = Tag.objects.create(name="CODING", slug="coding-3")

    assert second.pk != first.pk
    assert Tag.all_objects.filter(name__iexact="coding").count() == 2


def _conversation_graph():
    conversation = ConversationFactory()
    first = ExchangeFactory(conversation=conversation)
    second = ExchangeFactory(conversation=conversation, parent=first)
    feedback = FeedbackFactory(response=second.response, user=conversation.owner)
    note = NoteFactory(response=first.response, owner=conversation.owner)
    attachment = AttachmentFactory(conversation=conversation)
    return conversation, [first, second], feedback, note, attachment


def _alive_counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            Conversation,
            ConversationPromptResponse,
            Prompt,
            AIResponse,
            Feedback,
            Note,
            Attachment,
        )
    }


def test_conversation_cascade_and_restore_round_trip_exactly():
    # given a conversation with everything it can own, and a note deleted on its own before
    conversation, exchanges, _feedback, _note, _attachment = _conversation_graph()
    own_note = NoteFactory(response=exchanges[1].response, owner=conversation.owner)
    core_services.soft_delete(own_note)
    before = _alive_counts()

    # when the conversation goes to the trash
    conversation_soft_delete(conversation=conversation)

    # then everything it owns went with it, at the same instant
    after_delete = _alive_counts()
    assert all(count == 0 for count in after_delete.values()), after_delete
    stamps = {
        row.deleted_at
        for row in [
            *ConversationPromptResponse.all_objects.all(),
            *Prompt.all_objects.all(),
            *AIResponse.all_objects.all(),
            *Feedback.all_objects.all(),
            *Attachment.all_objects.all(),
        ]
    }
    assert stamps == {Conversation.all_objects.get(pk=conversation.pk).deleted_at}

    # when it is restored
    conversation_restore(conversation=conversation)

    # then exactly what the cascade took is back; the note deleted on its own stays in the trash
    assert _alive_counts() == before
    assert Note.all_objects.get(pk=own_note.pk).deleted_at is not None


def test_folder_cascade_takes_subfolders_and_their_conversations_and_restore_brings_them_back():
    root = FolderFactory()
    child = FolderFactory(owner=root.owner, parent=root)
    grandchild = FolderFactory(owner=root.owner, parent=child)
    conversation = ConversationFactory(owner=root.owner, folder=grandchild)
    exchange = ExchangeFactory(conversation=conversation)
    unrelated = ConversationFactory(owner=root.owner)

    folder_soft_delete(folder=root)

    assert Folder.objects.filter(owner=root.owner).count() == 0
    assert list(Conversation.objects.filter(owner=root.owner)) == [unrelated]
    assert not ConversationPromptResponse.objects.filter(pk=exchange.pk).exists()

    folder_restore(folder=root)

    assert Folder.objects.filter(owner=root.owner).count() == 3
    assert Conversation.objects.filter(owner=root.owner).count() == 2
    assert ConversationPromptResponse.objects.filter(pk=exchange.pk).exists()


def test_restore_is_refused_when_the_name_has_been_reused_and_nothing_changes():
    original = TagFactory(name="Vision", slug="vision")
    core_services.soft_delete(original)
    TagFactory(name="vision", slug="vision-new")

    with pytest.raises(Conflict) as excinfo:
        core_services.restore(original)

    assert excinfo.value.code == "restore_conflict"
    assert "same name" in excinfo.value.message
    assert Tag.all_objects.get(pk=original.pk).deleted_at is not None


def test_folder_restore_refused_when_a_subfolder_name_was_reused_leaves_everything_deleted():
    root = FolderFactory(name="Work")
    core_services.soft_delete(root)
    FolderFactory(owner=root.owner, name="work")

    with pytest.raises(Conflict):
        folder_restore(folder=root)

    assert Folder.all_objects.get(pk=root.pk).deleted_at is not None


def test_soft_deleting_twice_is_a_conflict_and_restoring_an_alive_row_too():
    tag = TagFactory()
    with pytest.raises(Conflict):
        core_services.restore(tag)
    core_services.soft_delete(tag)
    with pytest.raises(Conflict):
        core_services.soft_delete(tag)


def test_soft_delete_bumps_the_version_of_versioned_rows():
    tag = TagFactory()
    core_services.soft_delete(tag)
    assert tag.version == 2


def test_queryset_delete_keeps_its_django_meaning():
    tag = TagFactory()
    Tag.objects.filter(pk=tag.pk).delete()
    assert not Tag.all_objects.filter(pk=tag.pk).exists()


def test_hard_deleting_a_user_leaves_none_of_their_messages_behind():
    # given a user with a conversation, and another user whose data must stay
    conversation, _exchanges, _feedback, _note, _attachment = _conversation_graph()
    kept = ExchangeFactory()
    owner = conversation.owner

    # when a superuser deletes the account for good
    type(owner).all_objects.filter(pk=owner.pk).delete()

    # then every row that was theirs is gone, and only the other user's exchange remains
    assert list(Prompt.all_objects.all()) == [kept.prompt]
    assert list(AIResponse.all_objects.all()) == [kept.response]
    assert Attachment.all_objects.count() == 0
    assert Note.all_objects.count() == 0
