"""Writes on labels: a user's own names for conversations (unique per user, whatever the case), and
which labels a conversation carries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from uuid import UUID

from django.db import IntegrityError, transaction

from conversations_app.models import Conversation, ConversationLabel, Label
from conversations_app.services.common import UNSET
from core import services as core_services
from core.exceptions import Conflict, ValidationFailed

if TYPE_CHECKING:
    from auth_app.models import User

LABEL_MAX_CHARS = 64


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise ValidationFailed("A label needs a name.", fields={"name": ["This field may not be blank."]})
    if len(cleaned) > LABEL_MAX_CHARS:
        raise ValidationFailed(
            "A label's name is too long.",
            fields={"name": [f"Ensure this field has no more than {LABEL_MAX_CHARS} characters."]},
        )
    return cleaned


def _duplicate_name() -> Conflict:
    return Conflict(
        "You already have a label with this name.",
        code="duplicate_name",
        fields={"name": ["You already have a label with this name."]},
    )


def _ensure_name_free(*, owner_id: UUID, name: str, exclude_id: UUID | None = None) -> None:
    same = Label.objects.filter(owner_id=owner_id, name__iexact=name)
    if exclude_id is not None:
        same = same.exclude(pk=exclude_id)
    if same.exists():
        raise _duplicate_name()


def label_create(*, owner: User, name: str) -> Label:
    name = _clean_name(name)
    _ensure_name_free(owner_id=owner.pk, name=name)
    try:
        with transaction.atomic():
            return Label.objects.create(owner=owner, name=name)
    except IntegrityError as exc:  # a concurrent create took the name first
        raise _duplicate_name() from exc


def label_update(*, label: Label, name: str = UNSET, expected_version: int | None = None) -> Label:
    fields = {}
    if name is not UNSET:
        fields["name"] = _clean_name(name)
        _ensure_name_free(owner_id=label.owner_id, name=fields["name"], exclude_id=label.pk)
    try:
        with transaction.atomic():
            return core_services.versioned_change(label, fields=fields, expected_version=expected_version)
    except IntegrityError as exc:
        raise _duplicate_name() from exc


def label_delete(*, label: Label, expected_version: int | None = None) -> Label:
    """Soft-delete a label: conversations stop showing it (their links stay, for a restore)."""
    return core_services.soft_delete(label, expected_version=expected_version)


def owned_labels(*, owner_id: UUID, label_ids: Iterable[UUID], field: str = "labels") -> list[UUID]:
    """The ids given, each one of the owner's alive labels (another user's is as unknown as a missing
    one: a 400 on `field`), without repeats."""
    wanted = list(dict.fromkeys(label_ids))
    found = set(Label.objects.filter(owner_id=owner_id, pk__in=wanted).values_list("pk", flat=True))
    missing = [str(pk) for pk in wanted if pk not in found]
    if missing:
        raise ValidationFailed("Unknown label.", fields={field: [f"Label not found: {', '.join(missing)}."]})
    return wanted


def conversation_set_labels(*, conversation: Conversation, label_ids: list[UUID]) -> bool:
    """Make the conversation carry exactly these (already checked) labels among the alive ones;
    links to deleted labels stay. Returns whether anything changed. Runs in the caller's transaction."""
    current = set(
        ConversationLabel.objects.filter(
            conversation=conversation, label__deleted_at__isnull=True
        ).values_list("label_id", flat=True)
    )
    wanted = set(label_ids)
    removed = current - wanted
    if removed:
        ConversationLabel.objects.filter(conversation=conversation, label_id__in=removed).delete()
    added = wanted - current
    if added:
        ConversationLabel.objects.bulk_create(
            [ConversationLabel(conversation=conversation, label_id=pk) for pk in added], ignore_conflicts=True
        )
    return bool(removed or added)
