"""Reads of the trash: the owner's soft-deleted conversations and folders."""

from __future__ import annotations

from django.db.models import QuerySet

from conversations_app.models import Conversation, Folder


def trashed_conversation_list(*, owner) -> QuerySet[Conversation]:
    """The owner's soft-deleted conversations, on their own or with a folder."""
    return Conversation.all_objects.dead().filter(owner=owner)


def trashed_folder_list(*, owner) -> QuerySet[Folder]:
    """The owner's soft-deleted folders, on their own or with a parent folder."""
    return Folder.all_objects.dead().filter(owner=owner)
