"""Reads of the audit trail."""

from __future__ import annotations

from django.db.models import QuerySet

from admin_app.models import AuditEvent


def audit_event_list() -> QuerySet[AuditEvent]:
    """Every audit event, newest first (`created_at`, then `id`, as the time index is built).

    Filters (actor, action, target, time range) narrow it in the API; each has an index that leads
    with its column, so a page costs one index scan whatever the table's size.
    """
    return AuditEvent.objects.order_by("-created_at", "-id")
