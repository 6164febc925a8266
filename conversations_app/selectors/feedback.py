"""Reads of feedback: the caller's own rating of one of their answers."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from conversations_app.models import Feedback
from conversations_app.selectors.conversations import owned_answer
from core.exceptions import NotFound

if TYPE_CHECKING:
    from auth_app.models import User


def feedback_get(*, user: User, response_id: UUID | str) -> Feedback:
    """The caller's alive feedback on an alive answer of their alive conversation; NotFound otherwise."""
    feedback = Feedback.objects.filter(
        owned_answer(user, path="response__"), user=user, response_id=response_id
    ).first()
    if feedback is None:
        raise NotFound("No feedback on this response.")
    return feedback
