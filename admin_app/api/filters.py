"""Query-string filters of the staff API (django-filter): users, the audit trail, catalogue models."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django_filters import rest_framework as filters

from admin_app.models import AuditEvent
from auth_app.models import ApiKey, ApprovalStatus
from core.api import IsoDateTimeFilter, StrictBooleanFilter
from models_app.filters import AIModelFilter
from models_app.models import AIModel, InstallStatus

User = get_user_model()


class UserFilter(filters.FilterSet):
    """Without `deleted`, only alive users are listed; `deleted=true` lists the deleted ones."""

    q = filters.CharFilter(
        method="filter_search", max_length=150, help_text="Part of the username or e-mail (any case)"
    )
    role = filters.CharFilter(method="filter_role", max_length=150, help_text="Holds this role (any case)")
    active = StrictBooleanFilter(field_name="is_active")
    locked = StrictBooleanFilter(method="filter_locked", help_text="true: locked right now")
    deleted = StrictBooleanFilter(method="filter_deleted", help_text="true: only deleted users")
    status = filters.ChoiceFilter(
        field_name="approval_status",
        choices=ApprovalStatus.choices,
        help_text="Approval status: `pending` lists the registrations waiting for a decision",
    )

    class Meta:
        model = User
        fields = ("q", "role", "active", "locked", "deleted", "status")

    def filter_search(self, queryset, name: str, value: str):
        return queryset.search(value)

    def filter_role(self, queryset, name: str, value: str):
        return queryset.with_role(value)

    def filter_locked(self, queryset, name: str, value: bool):
        return queryset.locked() if value else queryset.not_locked()

    def filter_deleted(self, queryset, name: str, value: bool):
        return queryset.dead() if value else queryset.alive()

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.form.cleaned_data.get("deleted") in (None, ""):
            queryset = queryset.alive()
        return queryset


class AuditEventFilter(filters.FilterSet):
    actor = filters.UUIDFilter(field_name="actor_id", help_text="Id of the user who acted")
    action = filters.CharFilter(max_length=100, help_text="e.g. updated, soft_deleted, login_failed")
    target_type = filters.CharFilter(max_length=100, help_text="Model label, e.g. auth_app.user")
    target_id = filters.CharFilter(max_length=64)
    created_after = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="From this instant (ISO 8601), inclusive"
    )
    created_before = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Up to this instant (ISO 8601), exclusive"
    )

    class Meta:
        model = AuditEvent
        fields = ("actor", "action", "target_type", "target_id", "created_after", "created_before")


class AdminAIModelFilter(AIModelFilter):
    """Explore's filters (tag, family, parameter size, installed, type), plus what staff look for."""

    q = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=200, help_text="Part of the name (any case)"
    )
    published = StrictBooleanFilter(field_name="is_active")
    install_status = django_filters.ChoiceFilter(choices=InstallStatus.choices)

    class Meta:
        model = AIModel
        fields: list[str] = []


class ApiKeyFilter(filters.FilterSet):
    user = filters.UUIDFilter(field_name="user_id", help_text="Id of the key's owner")
    revoked = StrictBooleanFilter(
        method="filter_revoked", help_text="true: only revoked keys; false: only unrevoked"
    )

    class Meta:
        model = ApiKey
        fields = ("user", "revoked")

    def filter_revoked(self, queryset, name: str, value: bool):
        return queryset.filter(revoked_at__isnull=not value)
