"""Reads of feedback: the caller's own rating of one of their answers."""

from __future__ import annotations

from conversations_app.models import Feedback
from conversations_app.selectors.conversations import owned_answer
from core.exceptions import NotFound


def feedback_get(*, user, response_id) -> Feedback:
    """The caller's alive feedback on an alive answer of their alive conversation; NotFound otherwise."""
    feedback = Feedback.objects.filter(
        owned_answer(user, path="response__"), user=user, response_id=response_id
    ).first()
    if feedback is None:
        raise NotFound("No feedback on this response.")
    return feedback
