"""Helpers shared by the tests of the conversations resources (folders, conversations, attachments, …)."""

from __future__ import annotations

from typing import Any

from conversations_app.models import Conversation, ConversationPromptResponse
from tests.conversations_app.factories import AIResponseFactory, ExchangeFactory, PromptFactory

BASE = "/api/v1/conversations/"
# Every authenticated request loads the caller's account once.
AUTH_QUERIES = 1


def assert_error(response, status_code: int, code: str | None = None) -> dict[str, Any]:
    """The response has `status_code` and the API's one error shape; returns its `error` object."""
    assert response.status_code == status_code, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["fields"], dict)
    if code is not None:
        assert error["code"] == code
    return error


def add_exchange(
    conversation: Conversation,
    *,
    parent: ConversationPromptResponse | None = None,
    prompt: str = "Why is the sky blue?",
    answer: str = "Because of Rayleigh scattering of sunlight by the molecules of the air.",
    current: bool = True,
    **response_fields: Any,
) -> ConversationPromptResponse:
    """An exchange of `conversation` below `parent`; with `current`, the conversation's current leaf."""
    exchange = ExchangeFactory(
        conversation=conversation,
        parent=parent,
        prompt=PromptFactory(content=prompt),
        response=AIResponseFactory(content=answer, **response_fields),
    )
    if current:
        Conversation.all_objects.filter(pk=conversation.pk).update(current_exchange=exchange)
        conversation.current_exchange = exchange
    return exchange
