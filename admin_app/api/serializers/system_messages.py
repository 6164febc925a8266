"""Serializers of the system messages staff manage."""

from __future__ import annotations

from rest_framework import serializers

from admin_app.models import SystemMessage
from core.api import StrictKeysMixin

MAX_SYSTEM_MESSAGE_CHARS = 20_000


class SystemMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = SystemMessage
        fields = (
            "id",
            "name",
            "content",
            "description",
            "is_active",
            "created_at",
            "updated_at",
            "deleted_at",
            "version",
        )
        read_only_fields = fields


class SystemMessageCreateSerializer(StrictKeysMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    content = serializers.CharField(max_length=MAX_SYSTEM_MESSAGE_CHARS, help_text="The system prompt")
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, default=True, help_text="Users may pick it")


class SystemMessageUpdateSerializer(StrictKeysMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    content = serializers.CharField(max_length=MAX_SYSTEM_MESSAGE_CHARS, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)
