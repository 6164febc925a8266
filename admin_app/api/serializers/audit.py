"""Serializer of the audit trail's events."""

from __future__ import annotations

from rest_framework import serializers

from admin_app.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = (
            "id",
            "created_at",
            "actor_id",
            "actor_repr",
            "action",
            "target_type",
            "target_id",
            "before",
            "after",
            "request_id",
            "ip_address",
        )
        read_only_fields = fields
