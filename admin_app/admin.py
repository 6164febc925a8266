"""Django admin of admin_app: curated system messages, and, read-only, the audit trail and the
model downloads (pulls) staff started."""

from __future__ import annotations

import json
from collections import defaultdict
from contextlib import suppress
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.admin import DateFieldListFilter
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from admin_app.models import AuditEvent, ModelPull, SystemMessage
from core.admin import (
    BaseModelAdmin,
    ConditionFilter,
    LargeTableAdminMixin,
    SoftDeleteAdmin,
    ViewOnlyAdminMixin,
    change_link,
    preview,
)

User = get_user_model()


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


def admin_model_for(target_type: str) -> type[models.Model] | None:
    """The model an event's `target_type` (a model label) names, as the admin registers it (a role
    event names `auth.group`, whose admin is its proxy); None for targets outside the database."""
    try:
        model = apps.get_model(target_type)
    except (LookupError, ValueError):
        return None
    registry = admin.site._registry
    if model in registry:
        return model
    return next((m for m in registry if m._meta.proxy and m._meta.concrete_model is model), None)


class TargetTypeFilter(admin.SimpleListFilter):
    """The kinds of record the trail names, by their admin names (one DISTINCT on an indexed column)."""

    title = "target type"
    parameter_name = "target_type"

    def lookups(self, request, model_admin):
        values = AuditEvent.objects.order_by("target_type").values_list("target_type", flat=True).distinct()
        choices = []
        for value in values:
            model = admin_model_for(value)
            choices.append((value, capfirst(model._meta.verbose_name) if model else value or "(none)"))
        return sorted(choices, key=lambda choice: str(choice[1]).lower())

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(target_type=value)


def attach_subjects(events: list[AuditEvent]) -> None:
    """Set `target_obj` and `actor_obj` on each event: the rows they name, if they still exist.
    One query per kind of target on the page (the actors ride with the users)."""
    wanted: dict[type[models.Model], set] = defaultdict(set)
    for event in events:
        model = admin_model_for(event.target_type)
        if model is not None:
            with suppress(ValidationError, ValueError, TypeError):
                wanted[model].add(model._meta.pk.to_python(event.target_id))
        if event.actor_id is not None:
            wanted[User].add(event.actor_id)
    found: dict[tuple[type[models.Model] | None, str], models.Model] = {}
    for model, ids in wanted.items():
        related = admin.site._registry[model].list_select_related
        rows = model._base_manager.filter(pk__in=ids)  # trashed rows still have a page
        if isinstance(related, list | tuple):
            rows = rows.select_related(*related)
        found.update({(model, str(row.pk)): row for row in rows})
    for event in events:
        event.target_obj = found.get((admin_model_for(event.target_type), event.target_id))
        event.actor_obj = found.get((User, str(event.actor_id)))


class AuditEventChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        self.result_list = list(self.result_list)
        attach_subjects(self.result_list)


def _value_text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def field_changes(event: AuditEvent) -> list[tuple[str, str, str]]:
    """(field, before, after) of each field whose value the event changed, by field name."""
    before, after = event.before or {}, event.after or {}
    return [
        (name, _value_text(before.get(name)), _value_text(after.get(name)))
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    ]


@admin.register(AuditEvent)
class AuditEventAdmin(ViewOnlyAdminMixin, LargeTableAdminMixin, BaseModelAdmin):
    """The audit trail is append-only: nobody adds, edits or deletes an event, superusers included.
    Its own page has no History (Django's log of admin edits says nothing about a record nobody edits)."""

    list_display = ("created_at", "actor_link", "action", "target_link", "changed_fields", "ip_address")
    list_filter = ("action", TargetTypeFilter, ActorFilter, ("created_at", DateFieldListFilter))
    search_fields = ("action", "actor_repr", "target_type", "=target_id", "=request_id")
    actions = None
    change_form_template = "admin/change_form_without_history.html"
    fields = (
        "created_at",
        "actor_link",
        "action",
        "target_link",
        "changes_display",
        "request_id",
        "ip_address",
    )
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_changelist(self, request, **kwargs):
        return AuditEventChangeList

    def get_object(self, request, object_id, from_field=None):
        event = super().get_object(request, object_id, from_field)
        if event is not None:
            attach_subjects([event])
        return event

    @admin.display(description="actor", ordering="actor_repr")
    def actor_link(self, obj: AuditEvent) -> str:
        if obj.actor_id is None:
            return "system"
        label = obj.actor_repr or str(obj.actor_id)
        return change_link(obj.actor_obj, label) if obj.actor_obj is not None else label

    @admin.display(description="target")
    def target_link(self, obj: AuditEvent) -> str:
        model = admin_model_for(obj.target_type)
        if model is not None and obj.target_obj is not None:
            label = preview(str(obj.target_obj), 60)
            return format_html(
                "{} {}", capfirst(model._meta.verbose_name), change_link(obj.target_obj, label)
            )
        if model is not None:
            return f"{capfirst(model._meta.verbose_name)} {obj.target_id} (no longer exists)"
        return " ".join(part for part in (obj.target_type, obj.target_id) if part) or "—"

    @admin.display(description="changed")
    def changed_fields(self, obj: AuditEvent) -> str:
        return preview(", ".join(name for name, _, _ in field_changes(obj)), 60) or "—"

    @admin.display(description="changes")
    def changes_display(self, obj: AuditEvent) -> str:
        changes = field_changes(obj)
        if not changes:
            return "—"
        return format_html(
            '<ul class="audit-changes">{}</ul>',
            format_html_join(
                "",
                '<li><strong>{}</strong>: <span style="white-space: pre-wrap">{}</span> → '
                '<span style="white-space: pre-wrap">{}</span></li>',
                changes,
            ),
        )


@admin.register(ModelPull)
class ModelPullAdmin(ViewOnlyAdminMixin, LargeTableAdminMixin, BaseModelAdmin):
    """Downloads into Ollama, written by the pull task as it goes: followed here, started elsewhere."""

    list_display = (
        "model_name",
        "status",
        "percent",
        "detail_preview",
        "requested_by",
        "created_at",
        "finished_at",
    )
    list_select_related = ("requested_by",)
    list_filter = ("status", ("created_at", DateFieldListFilter))
    search_fields = ("model_name", "=task_id")
    actions = None

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="detail")
    def detail_preview(self, obj: ModelPull) -> str:
        return preview(obj.detail, 60)
