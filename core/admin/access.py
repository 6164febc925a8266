"""Admin access by role: the Admin role (superusers included) views, adds and changes; only
superusers delete for good; other staff see nothing."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.permissions import has_admin_role


def request_has_admin_role(request: HttpRequest) -> bool:
    """`has_admin_role` for the request's user, asked of the database once per request."""
    cached = getattr(request, "_has_admin_role", None)
    if cached is None:
        cached = has_admin_role(request.user)
        request._has_admin_role = cached  # type: ignore[attr-defined]
    return cached


class AdminRoleAccessMixin:
    """ModelAdmin permissions from the Admin role: view, add and change; delete is for superusers."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request_has_admin_role(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request_has_admin_role(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request_has_admin_role(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request_has_admin_role(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser and request_has_admin_role(request)


class InlineAdminRoleAccessMixin:
    """InlineModelAdmin permissions from the Admin role. Inline rows are relations (a model's tags),
    so removing one is ordinary editing; a parent in the trash shows them read-only."""

    def _may_edit(self, request: HttpRequest, obj: Any) -> bool:
        return request_has_admin_role(request) and getattr(obj, "deleted_at", None) is None

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request_has_admin_role(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit(request, obj)


class ViewOnlyAdminMixin:
    """For records the platform writes (messages, tokens, audit events): nobody adds or edits them
    here. Put it before the admin base class."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NoAddAdminMixin:
    """For rows users create through the product: staff moderate them here but do not author them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
