"""Reads of attachments: the files of one of the owner's conversations, and the documents a chat
sends the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db.models import Func, IntegerField, QuerySet
from django.db.models.functions import Left

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


class OctetLength(Func):
    """PostgreSQL's size of a text in bytes."""

    function = "OCTET_LENGTH"
    output_field = IntegerField()


@dataclass(frozen=True)
class DocumentHead:
    """The start of a document's extracted text, and its whole size in bytes."""

    id: UUID
    name: str
    head: str
    size: int


def conversation_documents(*, conversation_id: Any, head_chars: int, limit: int) -> list[DocumentHead]:
    """The alive attachments of a conversation whose text is extracted, newest first, at most
    `limit`: only the first `head_chars` characters of each text are read, so the cost follows the
    context budget, not the files' sizes."""
    rows = (
        Attachment.objects.filter(
            conversation_id=conversation_id, processing_status=Attachment.ProcessingStatus.DONE
        )
        .exclude(extracted_text="")
        .order_by("-created_at", "-id")
        .values_list(
            "id", "original_name", Left("extracted_text", max(head_chars, 1)), OctetLength("extracted_text")
        )
    )
    return [DocumentHead(*row) for row in rows[:limit]]
