"""Shared links: staff see what has been published and how often it is opened, and revoke a link
(through the service, so the revocation is recorded in the audit trail). The token is not stored."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import DateFieldListFilter
from django.db.models import Q, QuerySet
from django.utils import timezone

from conversations_app.admin.common import NARROW_PREVIEW_CHARS
from conversations_app.models import SharedLink
from conversations_app.services import shared_link_revoke
from core.admin import BaseModelAdmin, ConditionFilter, LargeTableAdminMixin, ViewOnlyAdminMixin, preview


class OpenFilter(ConditionFilter):
    title = "state"
    parameter_name = "state"

    def conditions(self) -> dict[str, tuple[str, Q]]:
        now = timezone.now()
        return {
            "open": ("Open", Q(revoked_at__isnull=True, expires_at__gt=now)),
            "expired": ("Expired", Q(revoked_at__isnull=True, expires_at__lte=now)),
            "revoked": ("Revoked", Q(revoked_at__isnull=False)),
        }


@admin.register(SharedLink)
class SharedLinkAdmin(ViewOnlyAdminMixin, LargeTableAdminMixin, BaseModelAdmin):
    list_display = (
        "title_preview",
        "owner",
        "exchange_count",
        "access_count",
        "created_at",
        "expires_at",
        "revoked_at",
    )
    list_select_related = ("owner",)
    list_filter = (OpenFilter, ("created_at", DateFieldListFilter), ("expires_at", DateFieldListFilter))
    search_fields = ("title", "owner__username", "owner__email", "=conversation__id")
    ordering = ("-id",)
    actions = ("revoke_selected",)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="title", ordering="title")
    def title_preview(self, obj: SharedLink) -> str:
        return preview(obj.title or "Untitled conversation", NARROW_PREVIEW_CHARS)

    @admin.action(description="Revoke selected shared links")
    def revoke_selected(self, request, queryset: QuerySet[SharedLink]) -> None:
        links = list(queryset.filter(revoked_at__isnull=True).order_by("pk"))
        for link in links:
            shared_link_revoke(link=link)
        self.message_user(request, f"{len(links)} shared link(s) revoked.", messages.SUCCESS)
