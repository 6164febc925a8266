"""Reads of attachments: the files of one of the owner's conversations."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from django.db.models import QuerySet

from conversations_app.models import Attachment

if TYPE_CHECKING:
    from auth_app.models import User


def attachment_list(*, owner: User, conversation_id: UUID | str) -> QuerySet[Attachment]:
    """Alive attachments of the owner's alive conversation (empty for a foreign or deleted one)."""
    return Attachment.objects.filter(
        conversation_id=conversation_id,
        conversation__owner=owner,
        conversation__deleted_at__isnull=True,
    )
