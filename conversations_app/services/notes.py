"""Writes on notes: a highlighted span [from_index, to_index) of an answer's text with a comment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conversations_app.models import AIResponse, Note
from conversations_app.services.common import UNSET
from core import services as core_services
from core.exceptions import ValidationFailed

if TYPE_CHECKING:
    from auth_app.models import User


def _check_span(*, response: AIResponse, from_index: int, to_index: int) -> None:
    """Indexes count Unicode code points of the answer's text; the span must be non-empty and inside it."""
    length = len(response.content)
    if from_index < 0:
        raise ValidationFailed(
            "The span must start inside the response.",
            fields={"from_index": ["Ensure this value is greater than or equal to 0."]},
        )
    if from_index >= to_index:
        raise ValidationFailed(
            "The span must not be empty.", fields={"to_index": ["Must be greater than from_index."]}
        )
    if to_index > length:
        raise ValidationFailed(
            "The span must lie within the response text.",
            fields={"to_index": [f"Must be at most the length of the response text ({length})."]},
        )


def _clean_content(content: str) -> str:
    if not content.strip():
        raise ValidationFailed(
            "A note needs some text.", fields={"content": ["This field may not be blank."]}
        )
    return content


def note_create(*, owner: User, response: AIResponse, content: str, from_index: int, to_index: int) -> Note:
    """Annotate a span of one of the owner's answers."""
    _check_span(response=response, from_index=from_index, to_index=to_index)
    note = Note(
        response=response,
        owner=owner,
        content=_clean_content(content),
        from_index=from_index,
        to_index=to_index,
    )
    note.full_clean(exclude=["response", "owner"], validate_constraints=False)
    note.save(force_insert=True)
    return note


def note_update(
    *,
    note: Note,
    content: str = UNSET,
    from_index: int = UNSET,
    to_index: int = UNSET,
    expected_version: int | None = None,
) -> Note:
    """Change the text or the span of a note; the new span is checked against the answer again."""
    fields: dict[str, Any] = {}
    if content is not UNSET:
        fields["content"] = _clean_content(content)
    if from_index is not UNSET or to_index is not UNSET:
        fields["from_index"] = note.from_index if from_index is UNSET else from_index
        fields["to_index"] = note.to_index if to_index is UNSET else to_index
        _check_span(response=note.response, from_index=fields["from_index"], to_index=fields["to_index"])
    return core_services.versioned_change(note, fields=fields, expected_version=expected_version)


def note_delete(*, note: Note, expected_version: int | None = None) -> Note:
    """Delete a note (soft delete)."""
    return core_services.soft_delete(note, expected_version=expected_version)
