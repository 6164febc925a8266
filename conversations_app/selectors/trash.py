"""Reads of the trash: the owner's soft-deleted conversations and folders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from conversations_app.models import Conversation, Folder

if TYPE_CHECKING:
    from auth_app.models import User


def trashed_conversation_list(*, owner: User) -> QuerySet[Conversation]:
    """The owner's soft-deleted conversations, on their own or with a folder."""
    return Conversation.all_objects.dead().filter(owner=owner)


def trashed_folder_list(*, owner: User) -> QuerySet[Folder]:
    """The owner's soft-deleted folders, on their own or with a parent folder."""
    return Folder.all_objects.dead().filter(owner=owner)
