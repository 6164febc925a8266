"""Soft-delete aware ModelAdmin base shared by every app's admin.

- lists every row (alive and deleted) with a "deleted" filter and column;
- "Delete selected" soft-deletes (through the app's service, so cascades happen);
- "Restore selected" brings rows back (refusing clearly when a name has been reused);
- hard delete ("Delete permanently") only for superusers.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.db import models
from django.http import HttpRequest

from core import services as core_services
from core.exceptions import ApplicationError


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return (("no", "Alive"), ("yes", "Deleted"))

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class SoftDeleteAdmin(admin.ModelAdmin):
    """Base for soft-deletable models. Subclasses may set `soft_delete_service` / `restore_service`
    (callables taking the instance) when deletion cascades."""

    soft_delete_service: Callable[[models.Model], object] | None = None
    restore_service: Callable[[models.Model], object] | None = None
    actions = ("soft_delete_selected", "restore_selected", "hard_delete_selected")

    def get_queryset(self, request: HttpRequest):
        qs = self.model.all_objects.get_queryset()
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    def get_list_filter(self, request):
        return (DeletedFilter, *super().get_list_filter(request))

    def get_list_display(self, request):
        return (*super().get_list_display(request), "is_deleted_display")

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "deleted_at")

    @admin.display(boolean=True, description="deleted", ordering="deleted_at")
    def is_deleted_display(self, obj) -> bool:
        return obj.deleted_at is not None

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        if not request.user.is_superuser:
            actions.pop("hard_delete_selected", None)
        return actions

    def _apply(self, request, queryset, func, verb: str) -> None:
        done, refused = 0, []
        for obj in queryset:
            try:
                func(obj)
                done += 1
            except ApplicationError as exc:
                refused.append(f"{obj}: {exc.message}")
        if done:
            self.message_user(request, f"{done} {verb}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="Delete selected (move to trash)", permissions=["change"])
    def soft_delete_selected(self, request, queryset):
        service = type(self).soft_delete_service or core_services.soft_delete
        self._apply(request, queryset.filter(deleted_at__isnull=True), service, "moved to the trash")

    @admin.action(description="Restore selected", permissions=["change"])
    def restore_selected(self, request, queryset):
        service = type(self).restore_service or core_services.restore
        self._apply(request, queryset.filter(deleted_at__isnull=False), service, "restored")

    @admin.action(description="Delete permanently (superusers)", permissions=["delete"])
    def hard_delete_selected(self, request, queryset):
        return delete_selected(self, request, queryset)
