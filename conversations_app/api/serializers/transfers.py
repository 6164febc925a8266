"""Imports and exports: the upload, and the job resource a client polls."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conversations_app.models import TransferJob
from conversations_app.services import export_download_token
from core.api import StrictKeysMixin


class ImportUploadSerializer(StrictKeysMixin, serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=False,
        help_text="An Open WebUI, ChatGPT (`conversations.json`), LibreChat or OllamaNet export: JSON, or "
        "a ZIP of JSON files. The format is told from the content.",
    )


class AccountDeleteSerializer(StrictKeysMixin, serializers.Serializer):
    password = serializers.CharField(trim_whitespace=False, max_length=4096)


class ImportOutcomeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "skipped"])
    source_id = serializers.CharField(help_text="The conversation's id in the exporting application")
    title = serializers.CharField()
    conversation = serializers.UUIDField(allow_null=True, help_text="The conversation here")
    exchanges_added = serializers.IntegerField()
    reason = serializers.CharField(help_text="Why a skipped conversation was skipped")


class TransferJobSerializer(serializers.ModelSerializer):
    """An import or export job: its state, progress (`processed`, `counts` by outcome) and, when done,
    the outcome of each imported conversation or the export's download link."""

    results = ImportOutcomeSerializer(many=True, read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = TransferJob
        fields = (
            "id",
            "kind",
            "status",
            "source_format",
            "original_name",
            "size",
            "processed",
            "counts",
            "results",
            "error",
            "download_url",
            "expires_at",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_download_url(self, job: TransferJob) -> str | None:
        """A finished export's signed link, valid until `expires_at` (no token needed to follow it)."""
        if job.kind != TransferJob.Kind.EXPORT or job.status != TransferJob.Status.SUCCEEDED or not job.file:
            return None
        path = reverse("account-export-download", kwargs={"job_id": job.pk})
        url = f"{path}?signature={export_download_token(job=job)}"
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url
