"""Reads of folders: the owner's alive folders, each with its number of alive conversations."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from django.db.models import Count, Q, QuerySet

from conversations_app.models import Folder

if TYPE_CHECKING:
    from auth_app.models import User


def folder_list(*, owner: User) -> QuerySet[Folder]:
    """The owner's alive folders (flat; `parent` tells the tree) with `conversation_count`."""
    return Folder.objects.filter(owner=owner).annotate(
        conversation_count=Count("conversations", filter=Q(conversations__deleted_at__isnull=True))
    )


def folder_get_owned(*, owner_id: UUID, folder_id: UUID | str) -> Folder | None:
    """The owner's alive folder with this id, or None (another user's folder is None too)."""
    return Folder.objects.filter(owner_id=owner_id, pk=folder_id).first()
