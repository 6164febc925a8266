"""Helpers shared by the staff API tests."""

from __future__ import annotations

from django.db import models

from admin_app.models import AuditEvent


def audit_events_of(instance: models.Model) -> list[AuditEvent]:
    """The audit events about one row, oldest first."""
    return list(
        AuditEvent.objects.filter(
            target_type=instance._meta.label_lower, target_id=str(instance.pk)
        ).order_by("created_at", "id")
    )
