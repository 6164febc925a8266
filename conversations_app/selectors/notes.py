"""Reads of notes: the owner's notes on one of their answers."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from django.db.models import QuerySet

from conversations_app.models import Note
from conversations_app.selectors.conversations import owned_answer

if TYPE_CHECKING:
    from auth_app.models import User


def note_list(*, owner: User, response_id: UUID | str) -> QuerySet[Note]:
    """The owner's alive notes on an alive answer of their alive conversation, with the answer's text
    (the span of an update is checked against it)."""
    return (
        Note.objects.filter(owned_answer(owner, path="response__"), owner=owner, response_id=response_id)
        .select_related("response")
        .defer("response__search_vector")
    )
