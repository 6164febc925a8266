"""Reads of attachments: the files of one of the owner's conversations."""

from __future__ import annotations

from django.db.models import QuerySet

from conversations_app.models import Attachment


def attachment_list(*, owner, conversation_id) -> QuerySet[Attachment]:
    """Alive attachments of the owner's alive conversation (empty for a foreign or deleted one)."""
    return Attachment.objects.filter(
        conversation_id=conversation_id,
        conversation__owner=owner,
        conversation__deleted_at__isnull=True,
    )
