"""Middleware of admin_app: every request runs in an audit context (see admin_app.services.audit)."""

from __future__ import annotations

from contextvars import Token

from django.http import HttpRequest

from admin_app.services.audit import context_for_request, enter_context, exit_context
from core.middleware import WrappingMiddleware


class AuditContextMiddleware(WrappingMiddleware):
    """Attribute the request's writes to its user, peer address and request id. Costs nothing until a
    write on an audited table happens; the user is read then, after DRF has authenticated it."""

    def enter(self, request: HttpRequest) -> Token:
        return enter_context(context_for_request(request))

    def leave(self, state: Token) -> None:
        exit_context(state)
