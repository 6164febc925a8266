"""Writes on conversations_app's tables. Other apps call these, never the ORM on these models."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, models, transaction

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
from core import services as core_services


def _conversation_rows(conversations: models.QuerySet) -> list[models.QuerySet]:
    """Everything a conversation owns, children before nothing: exchanges, prompts, responses,
    feedback, notes and attachments of the given conversations (alive or not; callers filter)."""
    return [
        Feedback.all_objects.filter(response__exchange__conversation__in=conversations),
        Note.all_objects.filter(response__exchange__conversation__in=conversations),
        Attachment.all_objects.filter(conversation__in=conversations),
        Prompt.all_objects.filter(exchange__conversation__in=conversations),
        AIResponse.all_objects.filter(exchange__conversation__in=conversations),
        ConversationPromptResponse.all_objects.filter(conversation__in=conversations),
    ]


def _single_conversation_rows(conversation: Conversation) -> Iterable[models.QuerySet]:
    return _conversation_rows(Conversation.all_objects.filter(pk=conversation.pk))


def folder_descendant_ids(*, folder: Folder) -> list:
    """Ids of every folder below `folder`, deleted or not (one recursive query)."""
    table = Folder._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE tree(id) AS (
                SELECT id FROM {table} WHERE parent_id = %s
                UNION ALL
                SELECT f.id FROM {table} f JOIN tree t ON f.parent_id = t.id
            )
            SELECT id FROM tree
            """,  # noqa: S608 - the table name is ours, the value is a parameter
            [folder.pk],
        )
        return [row[0] for row in cursor.fetchall()]


def _folder_rows(folder: Folder) -> Iterable[models.QuerySet]:
    folder_ids = [folder.pk, *folder_descendant_ids(folder=folder)]
    conversations = Conversation.all_objects.filter(folder_id__in=folder_ids)
    return [
        *_conversation_rows(conversations),
        conversations,
        Folder.all_objects.filter(pk__in=folder_ids[1:]),
    ]


def conversation_soft_delete(*, conversation: Conversation) -> Conversation:
    """Move a conversation to the trash with its exchanges, prompts, responses, feedback, notes and
    attachments, in one transaction."""
    return core_services.soft_delete(conversation, related=_single_conversation_rows)


def conversation_restore(*, conversation: Conversation) -> Conversation:
    """Bring a conversation back with exactly what its deletion took. A conversation whose folder is
    still in the trash comes back at the top level."""
    with transaction.atomic():
        restored = core_services.restore(conversation, related=_single_conversation_rows)
        if restored.folder_id and not Folder.objects.filter(pk=restored.folder_id).exists():
            restored = core_services.versioned_update(restored, fields={"folder": None})
    return restored


def folder_soft_delete(*, folder: Folder) -> Folder:
    """Move a folder to the trash with its subfolders and their conversations (and what those own)."""
    return core_services.soft_delete(folder, related=_folder_rows)


def folder_restore(*, folder: Folder) -> Folder:
    """Bring a folder back with the subfolders and conversations its deletion took. A folder whose
    parent is still in the trash comes back at the top level."""
    with transaction.atomic():
        restored = core_services.restore(folder, related=_folder_rows)
        if restored.parent_id and not Folder.objects.filter(pk=restored.parent_id).exists():
            restored = core_services.versioned_update(restored, fields={"parent": None})
    return restored
