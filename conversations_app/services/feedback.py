"""Writes on feedback: one alive thumbs up/down per user and answer, with an optional reason/comment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from conversations_app.models import AIResponse, Feedback
from conversations_app.services.common import UNSET
from core import services as core_services
from core.exceptions import Conflict

if TYPE_CHECKING:
    from auth_app.models import User

ALREADY_RATED = "You have already rated this response; update or delete that feedback instead."


def feedback_create(
    *, user: User, response: AIResponse, rating: int, reason: str = "", comment: str = ""
) -> Feedback:
    """Rate an answer; Conflict (409) when the user already has alive feedback on it."""
    if Feedback.objects.filter(response=response, user=user).exists():
        raise Conflict(ALREADY_RATED, code="feedback_exists")
    feedback = Feedback(response=response, user=user, rating=rating, reason=reason, comment=comment)
    feedback.full_clean(exclude=["response", "user"], validate_constraints=False)
    try:
        with transaction.atomic():
            feedback.save(force_insert=True)
    except IntegrityError as exc:  # a concurrent request rated it first
        raise Conflict(ALREADY_RATED, code="feedback_exists") from exc
    return feedback


def feedback_update(
    *,
    feedback: Feedback,
    rating: int = UNSET,
    reason: str = UNSET,
    comment: str = UNSET,
    expected_version: int | None = None,
) -> Feedback:
    """Change the rating, reason or comment (412 when `expected_version` is stale)."""
    fields: dict[str, Any] = {
        name: value
        for name, value in (("rating", rating), ("reason", reason), ("comment", comment))
        if value is not UNSET
    }
    return core_services.versioned_change(feedback, fields=fields, expected_version=expected_version)


def feedback_delete(*, feedback: Feedback, expected_version: int | None = None) -> Feedback:
    """Withdraw feedback (soft delete); the user may rate the answer again afterwards."""
    return core_services.soft_delete(feedback, expected_version=expected_version)
