"""Reads of the trash: the owner's soft-deleted conversations, folders and exchanges."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import F, QuerySet

from conversations_app.models import Conversation, ConversationPromptResponse, Folder
from conversations_app.selectors.conversations import with_label_ids

if TYPE_CHECKING:
    from auth_app.models import User


def trashed_conversation_list(*, owner: User) -> QuerySet[Conversation]:
    """The owner's soft-deleted conversations, on their own or with a folder."""
    return with_label_ids(Conversation.all_objects.dead().filter(owner=owner))


def trashed_folder_list(*, owner: User) -> QuerySet[Folder]:
    """The owner's soft-deleted folders, on their own or with a parent folder."""
    return Folder.all_objects.dead().filter(owner=owner)


def trashed_exchange_list(*, owner: User) -> QuerySet[ConversationPromptResponse]:
    """The owner's exchanges deleted on their own (not with their parent exchange nor with their
    conversation), with their prompt."""
    return (
        ConversationPromptResponse.all_objects.dead()
        .filter(conversation__owner=owner, conversation__deleted_at__isnull=True)
        .exclude(parent__deleted_at=F("deleted_at"))
        .select_related("prompt")
    )
