"""Permission classes shared by every app."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

ADMIN_ROLE = "Admin"
USER_ROLE = "User"


def has_admin_role(user) -> bool:
    """Superusers count as Admin; otherwise membership of the Admin group, read on every call."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.groups.filter(name=ADMIN_ROLE).exists()


class IsAdminRole(BasePermission):
    """The caller holds the Admin role right now (a revoked admin loses access at once)."""

    message = "This action requires the Admin role."

    def has_permission(self, request, view) -> bool:
        return has_admin_role(request.user)
