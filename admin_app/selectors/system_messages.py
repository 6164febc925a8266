"""Reads of system messages: those users may pick (one a conversation picks as its system prompt), and
staff lists."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from admin_app.models import SystemMessage
from core.exceptions import NotFound


def system_message_get_active(*, system_message_id: uuid.UUID) -> SystemMessage | None:
    """The alive, active system message with this id (one users may pick), or None."""
    return SystemMessage.objects.filter(pk=system_message_id, is_active=True).first()


def system_message_list_published() -> QuerySet[SystemMessage]:
    """The system messages users may pick: alive and active."""
    return SystemMessage.objects.filter(is_active=True)


def system_message_list(*, deleted: bool = False) -> QuerySet[SystemMessage]:
    """Alive system messages by name, active or not (or the soft-deleted ones with `deleted=True`)."""
    queryset = SystemMessage.all_objects.dead() if deleted else SystemMessage.objects.all()
    return queryset.order_by("name", "id")


def system_message_get(*, system_message_id: uuid.UUID | str) -> SystemMessage:
    """A system message by id, alive or soft-deleted; NotFound otherwise."""
    try:
        pk = uuid.UUID(str(system_message_id))
    except ValueError:
        pk = None
    message = SystemMessage.all_objects.filter(pk=pk).first() if pk is not None else None
    if message is None:
        raise NotFound("No system message has this id.")
    return message
