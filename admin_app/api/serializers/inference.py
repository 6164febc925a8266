"""Serializers of inference: the Ollama servers, the models installed on them, model pulls."""

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
    servers = serializers.ListField(
        child=serializers.CharField(), help_text="URLs of the Ollama servers that have the model"
    )


class ServerField(serializers.CharField):
    """One of the pool's servers by its URL (as in OLLAMA_URLS); checked against the pool by the
    service."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 300)
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text", "URL of one Ollama server of the pool (see inference/servers/); default: all of them"
        )
        super().__init__(**kwargs)


class InstalledModelDeleteQuerySerializer(serializers.Serializer):
    server = ServerField()


class InferenceServerSerializer(serializers.Serializer):
    url = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["healthy", "down", "unknown"],
        help_text="healthy: answered its last check; down: failed it; unknown: not checked yet",
    )
    latency_ms = serializers.FloatField(allow_null=True, help_text="Of its last successful check")
    version = serializers.CharField(help_text="Ollama's version")
    models = serializers.ListField(child=serializers.CharField(), help_text="As its last listing had them")
    in_flight = serializers.IntegerField(help_text="Requests being answered now, by every worker")
    last_error = serializers.CharField(help_text="Why its last check or request failed; empty when healthy")
    failures = serializers.IntegerField(help_text="Consecutive failed checks")
    checked_at = serializers.DateTimeField(allow_null=True)
    next_check_at = serializers.DateTimeField(allow_null=True)


class CatalogueSyncSerializer(serializers.Serializer):
    synced = serializers.BooleanField(
        help_text="false when no server could be read: the catalogue was left as it was"
    )
    installed = serializers.ListField(
        child=serializers.CharField(), help_text="Catalogue models now marked installed"
    )
    not_installed = serializers.ListField(
        child=serializers.CharField(), help_text="Catalogue models no longer marked installed"
    )
    servers = InferenceServerSerializer(many=True)


class InstalledModelNameSerializer(serializers.Serializer):
    name = OllamaModelNameField(help_text="A model installed in Ollama, e.g. llama3:8b")


class PullCreateSerializer(StrictKeysMixin, serializers.Serializer):
    model = OllamaModelNameField(help_text="The model to download, e.g. llama3.2:3b")
    server = ServerField(
        help_text="URL of the Ollama server to download onto (see inference/servers/); default: every "
        "server that answers and lacks the model"
    )


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
            "servers",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
            "events_url",
        )
        read_only_fields = fields

    def get_events_url(self, pull: ModelPull) -> str:
        return reverse("admin-model-pull-events", args=[pull.pk])
