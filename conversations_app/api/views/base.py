"""Base of the resource views: the owner-scoped viewset with ETag/If-Match, cursor orders, schema bits."""

from __future__ import annotations

from auth_app.authentication import AuthenticatedRequest
from core.api import ResourceViewSet
from core.pagination import CursorPagination


class OwnedResourceViewSet(ResourceViewSet):
    """A resource viewset over the caller's own rows; its permission classes require a user."""

    request: AuthenticatedRequest  # for the type checker


class LastActivityPagination(CursorPagination):
    """Most recently active first; served by the partial index on (owner, last_message_at, id)."""

    ordering = ("-last_message_at", "-id")


class NamePagination(CursorPagination):
    ordering = ("name", "id")


class TrashPagination(CursorPagination):
    """Most recently deleted first."""

    ordering = ("-deleted_at", "-id")


class SpanPagination(CursorPagination):
    """Notes in the order of the text they highlight."""

    ordering = ("from_index", "id")
