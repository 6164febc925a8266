"""Django admin of admin_app: curated system messages, and, read-only, the audit trail and the
model downloads (pulls) staff started."""

from __future__ import annotations

import json

from django.contrib import admin
from django.contrib.admin import DateFieldListFilter
from django.db.models import Q
from django.utils.html import format_html

from admin_app.models import AuditEvent, ModelPull, SystemMessage
from core.admin import (
    BaseModelAdmin,
    ConditionFilter,
    LargeTableAdminMixin,
    SoftDeleteAdmin,
    ViewOnlyAdminMixin,
    preview,
)


@admin.register(SystemMessage)
class SystemMessageAdmin(SoftDeleteAdmin):
    list_display = ("name", "content_preview", "is_active", "updated_at")
    list_display_links = ("name",)
    list_filter = ("is_active", ("updated_at", DateFieldListFilter))
    search_fields = ("name", "content", "description")
    ordering = ("name",)
    fieldsets = ((None, {"fields": ("name", "is_active", "content", "description")}),)

    @admin.display(description="content")
    def content_preview(self, obj: SystemMessage) -> str:
        return preview(obj.content)


class ActorFilter(ConditionFilter):
    title = "actor"
    parameter_name = "actor"

    def conditions(self):
        return {
            "user": ("A user", Q(actor_id__isnull=False)),
            "system": ("The system", Q(actor_id__isnull=True)),
        }


def _pretty_json(value: dict) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


@admin.register(AuditEvent)
class AuditEventAdmin(ViewOnlyAdminMixin, LargeTableAdminMixin, BaseModelAdmin):
    """The audit trail is append-only: nobody adds, edits or deletes an event, superusers included."""

    list_display = ("created_at", "actor_display", "action", "target_type", "target_id", "ip_address")
    list_filter = (ActorFilter, ("created_at", DateFieldListFilter))
    search_fields = ("action", "actor_repr", "target_type", "=target_id", "=request_id")
    actions = None
    fields = (
        "created_at",
        "actor_id",
        "actor_repr",
        "action",
        "target_type",
        "target_id",
        "before_display",
        "after_display",
        "request_id",
        "ip_address",
    )
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="actor", ordering="actor_repr")
    def actor_display(self, obj: AuditEvent) -> str:
        return obj.actor_repr or ("system" if obj.actor_id is None else str(obj.actor_id))

    @admin.display(description="before")
    def before_display(self, obj: AuditEvent) -> str:
        return _pretty_json(obj.before)

    @admin.display(description="after")
    def after_display(self, obj: AuditEvent) -> str:
        return _pretty_json(obj.after)


@admin.register(ModelPull)
class ModelPullAdmin(ViewOnlyAdminMixin, LargeTableAdminMixin, BaseModelAdmin):
    """Downloads into Ollama, written by the pull task as it goes: followed here, started elsewhere."""

    list_display = ("model_name", "status", "percent", "detail", "requested_by", "created_at", "finished_at")
    list_select_related = ("requested_by",)
    list_filter = ("status", ("created_at", DateFieldListFilter))
    search_fields = ("model_name", "=task_id")
    actions = None

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
