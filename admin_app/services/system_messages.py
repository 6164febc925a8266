"""Writes of system messages: create, change (If-Match), soft delete and restore.

Each write changes one row, which the audit trail records by itself (core.audit).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.functions import Lower

from admin_app.models import SystemMessage
from core import services as core_services
from core.exceptions import ValidationFailed

SYSTEM_MESSAGE_EDITABLE_FIELDS = frozenset({"name", "content", "description", "is_active"})


def _validate(message: SystemMessage) -> None:
    """Field rules, then the name's uniqueness among alive messages (any case) as a field error; the
    partial unique constraint still decides a race (409)."""
    errors = core_services.field_errors(message)
    others = SystemMessage.objects.exclude(pk=message.pk).alias(lower_name=Lower("name"))
    if message.name and others.filter(lower_name=message.name.lower()).exists():
        errors.setdefault("name", ["A system message with this name already exists."])
    if errors:
        raise ValidationError(errors)


def system_message_create(
    *, name: str, content: str, description: str = "", is_active: bool = True
) -> SystemMessage:
    """Add a system message users may pick (unless `is_active` is false); names are unique, in any
    case, among alive messages."""
    message = SystemMessage(name=name.strip(), content=content, description=description, is_active=is_active)
    _validate(message)
    message.save(force_insert=True)
    return message


def system_message_update(
    *, message: SystemMessage, expected_version: int | None = None, **fields: Any
) -> SystemMessage:
    """Change a system message with one conditional UPDATE (412 when `expected_version`, the client's
    If-Match, is stale). Unchanged values are not written."""
    unknown = sorted(set(fields) - SYSTEM_MESSAGE_EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(fields={name: ["This field cannot be set here."] for name in unknown})
    if "name" in fields:
        fields["name"] = fields["name"].strip()
    changed, candidate = core_services.changes_of(message, fields)
    if not changed:
        core_services.ensure_version(message, expected_version)
        return message
    _validate(candidate)
    return core_services.versioned_update(message, fields=changed, expected_version=expected_version)


def system_message_soft_delete(
    *, message: SystemMessage, expected_version: int | None = None
) -> SystemMessage:
    """Move a system message to the trash: users can no longer pick it; conversations that use it keep
    their prompt text."""
    return core_services.soft_delete(message, expected_version=expected_version)


def system_message_restore(*, message: SystemMessage, expected_version: int | None = None) -> SystemMessage:
    """Bring a system message back (409 when an alive one has taken its name since)."""
    return core_services.restore(message, expected_version=expected_version)
