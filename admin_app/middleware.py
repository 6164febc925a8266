"""Middleware of admin_app: every request runs in an audit context (see admin_app.services.audit)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import Token

from django.http import HttpRequest

from admin_app.services.audit import AuditContext, context_for_request, enter_context, exit_context
from core.middleware import WrappingMiddleware


class AuditContextMiddleware(WrappingMiddleware):
    """Attribute the request's writes to its user, peer address and request id, in the view and in
    its streamed body. Costs nothing until a write on an audited table happens; the user is read
    then, after DRF has authenticated it."""

    def enter(self, request: HttpRequest) -> tuple[Token, AuditContext]:
        context = context_for_request(request)
        return enter_context(context), context

    def leave(self, state: tuple[Token, AuditContext]) -> None:
        exit_context(state[0])

    @contextmanager
    def chunk_scope(self, state: tuple[Token, AuditContext]) -> Iterator[AuditContext]:
        """A streamed body's writes (an answer stored at its end) are the request user's too."""
        token = enter_context(state[1])
        try:
            yield state[1]
        finally:
            exit_context(token)
