"""Serializers of inference: models installed in Ollama, model pulls."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from admin_app.api.serializers.base import OllamaModelNameField
from admin_app.models import ModelPull
from core.api import StrictKeysMixin
from models_app.models import AIModel


class CatalogueEntrySerializer(serializers.ModelSerializer):
    published = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = AIModel
        fields = ("id", "name", "published", "install_status", "install_progress", "version")
        read_only_fields = fields


class InstalledModelSerializer(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField(allow_null=True, help_text="Bytes")
    digest = serializers.CharField()
    modified_at = serializers.CharField(help_text="As Ollama reports it (RFC 3339)")
    details = serializers.DictField(
        help_text="Ollama's details: format, family, parameter size, quantization"
    )
    catalogue = CatalogueEntrySerializer(
        allow_null=True, help_text="The catalogue model of this name, if any"
    )


class InstalledModelNameSerializer(serializers.Serializer):
    name = OllamaModelNameField(help_text="A model installed in Ollama, e.g. llama3:8b")


class PullCreateSerializer(StrictKeysMixin, serializers.Serializer):
    model = OllamaModelNameField(help_text="The model to download, e.g. llama3.2:3b")


class UserRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()


class ModelPullSerializer(serializers.ModelSerializer):
    requested_by = UserRefSerializer(allow_null=True, read_only=True)
    events_url = serializers.SerializerMethodField(help_text="Progress as Server-Sent Events")

    class Meta:
        model = ModelPull
        fields = (
            "id",
            "model_name",
            "status",
            "detail",
            "completed_bytes",
            "total_bytes",
            "percent",
            "error",
            "task_id",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
            "events_url",
        )
        read_only_fields = fields

    def get_events_url(self, pull: ModelPull) -> str:
        return reverse("admin-model-pull-events", args=[pull.pk])
