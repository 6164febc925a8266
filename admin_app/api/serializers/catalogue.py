"""Serializers of the platform part of the staff API: catalogue (models, tags), system messages,
inference, usage statistics and the database reports."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from admin_app.models import ModelPull, SystemMessage
from admin_app.selectors.database import STATEMENT_ORDERINGS
from conversations_app.selectors import PLATFORM_USAGE_GROUPS, PLATFORM_USAGE_MAX_DAYS
from core.api import StrictKeysMixin
from models_app.models import AIModel, Tag
from models_app.selectors import AIMODEL_ORDERINGS, normalise_model_name
from models_app.services import AIMODEL_EDITABLE_FIELDS

# Ollama's model names: [host/][namespace/]model[:tag]; letters, digits, '.', '_' and '-' in each part.
OLLAMA_NAME = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*(?::[A-Za-z0-9_][A-Za-z0-9._-]*)?"
)
MAX_TAG_IDS = 100
DEFAULT_USAGE_DAYS = 30


class OllamaModelNameField(serializers.CharField):
    """A model name as Ollama writes it, e.g. `llama3.2:3b` or `hf.co/org/model:Q4_K_M`."""

    default_error_messages = {
        "name": "Not an Ollama model name (e.g. llama3.2:3b).",
        "name_length": "Ensure this name has no more than {max_length} characters, with the `:latest` "
        "that a name without a tag gets.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 200)
        kwargs.setdefault("help_text", "Ollama model name, e.g. llama3.2:3b (`:latest` when no tag is given)")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not OLLAMA_NAME.fullmatch(value):
            self.fail("name")
        if self.max_length is not None and len(normalise_model_name(value)) > self.max_length:
            # The name is stored as Ollama reads it, with `:latest` when no tag is given.
            self.fail("name_length", max_length=self.max_length)
        return value


class TrashQuerySerializer(serializers.Serializer):
    deleted = serializers.BooleanField(
        required=False, default=False, help_text="true: the soft-deleted ones (the trash) instead"
    )


class AIModelListQuerySerializer(TrashQuerySerializer):
    ordering = serializers.ChoiceField(choices=sorted(AIMODEL_ORDERINGS), default="name")


class TagIdsSerializer(StrictKeysMixin, serializers.Serializer):
    tag_ids = serializers.ListField(
        child=serializers.UUIDField(), allow_empty=False, max_length=MAX_TAG_IDS, help_text="Ids of tags"
    )


# --- tags --------------------------------------------------------------------------------------------


class TagRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ("id", "name", "slug")
        read_only_fields = fields


class AdminTagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ("id", "name", "slug", "description", "created_at", "updated_at", "deleted_at", "version")
        read_only_fields = fields


class TagCreateSerializer(StrictKeysMixin, serializers.Serializer):
    name = serializers.CharField(max_length=64)
    slug = serializers.SlugField(
        max_length=80, required=False, allow_blank=True, help_text="Made from the name"
    )
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class TagUpdateSerializer(StrictKeysMixin, serializers.Serializer):
    name = serializers.CharField(max_length=64, required=False)
    slug = serializers.SlugField(max_length=80, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)


# --- models ------------------------------------------------------------------------------------------

AIMODEL_INPUT_FIELDS = tuple(name for name in AIMODEL_EDITABLE_FIELDS if name != "name")
TEXT_LIMITS = {"description": 5000, "license": 100_000, "modelfile": 100_000, "template": 100_000}


class AdminModelListSerializer(serializers.ModelSerializer):
    """A catalogue model in a list: everything but the long texts (license, template, Modelfile)."""

    published = serializers.BooleanField(source="is_active", read_only=True)
    tags = TagRefSerializer(many=True, read_only=True)

    class Meta:
        model = AIModel
        fields = (
            "id",
            "name",
            "description",
            "model_type",
            "family",
            "families",
            "parameter_size",
            "parameter_count",
            "quantization_level",
            "format",
            "size",
            "size_label",
            "published",
            "install_status",
            "install_progress",
            "install_error",
            "tags",
            "owner",
            "created_at",
            "updated_at",
            "deleted_at",
            "version",
        )
        read_only_fields = fields


class AdminModelSerializer(AdminModelListSerializer):
    class Meta(AdminModelListSerializer.Meta):
        fields = (
            *AdminModelListSerializer.Meta.fields,
            "model_version",
            "digest",
            "released_at",
            "reference_link",
            "image_url",
            "languages",
            "architecture",
            "quantization_version",
            "file_type",
            "parent_model",
            "license",
            "modelfile",
            "template",
        )
        read_only_fields = fields


class AIModelUpdateSerializer(StrictKeysMixin, serializers.ModelSerializer):
    """The attributes of a model staff may change; every one optional."""

    name = OllamaModelNameField(required=False)

    class Meta:
        model = AIModel
        fields = ("name", *sorted(AIMODEL_INPUT_FIELDS))
        extra_kwargs = {
            **{name: {"required": False} for name in AIMODEL_INPUT_FIELDS},
            **{name: {"required": False, "max_length": limit} for name, limit in TEXT_LIMITS.items()},
            **{name: {"required": False, "min_value": 0} for name in ("size", "parameter_count")},
        }


class AIModelCreateSerializer(AIModelUpdateSerializer):
    name = OllamaModelNameField()
    published = serializers.BooleanField(source="is_active", required=False, default=False)
    tag_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, default=list, max_length=MAX_TAG_IDS
    )

    class Meta(AIModelUpdateSerializer.Meta):
        fields = (*AIModelUpdateSerializer.Meta.fields, "published", "tag_ids")


class AIModelFromOllamaSerializer(StrictKeysMixin, serializers.Serializer):
    name = OllamaModelNameField(help_text="A model Ollama has installed, e.g. llama3.2:3b")
    description = serializers.CharField(
        max_length=TEXT_LIMITS["description"], required=False, allow_blank=True
    )
    published = serializers.BooleanField(source="is_active", required=False, default=False)
    tag_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, default=list, max_length=MAX_TAG_IDS
    )


class TagsAddedSerializer(serializers.Serializer):
    added = TagRefSerializer(many=True, help_text="Tags the model did not have")
    already_present = TagRefSerializer(many=True)
    not_found = serializers.ListField(child=serializers.CharField(), help_text="Ids of no alive tag")
    model = AdminModelSerializer()


class TagsRemovedSerializer(serializers.Serializer):
    removed = TagRefSerializer(many=True, help_text="Tags the model had")
    not_present = TagRefSerializer(many=True)
    not_found = serializers.ListField(child=serializers.CharField(), help_text="Ids of no alive tag")
    model = AdminModelSerializer()


# --- system messages ---------------------------------------------------------------------------------

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


# --- inference ---------------------------------------------------------------------------------------


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


# --- usage ---------------------------------------------------------------------------------------------


class FromFieldMixin:
    """Adds the field `from`: a Python keyword, so it cannot be declared as a class attribute."""

    from_field_kwargs: dict[str, Any] = {}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()  # type: ignore[misc]
        return {"from": serializers.DateField(**self.from_field_kwargs), **fields}


class DateRangeQuerySerializer(FromFieldMixin, serializers.Serializer):
    """`from` and `to` (UTC days, both included); by default the last 30 days up to today."""

    from_field_kwargs = {
        "required": False,
        "help_text": "First day (UTC), inclusive; default 29 days before `to`",
    }
    to = serializers.DateField(required=False, help_text="Last day (UTC), inclusive; default today")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("to") or timezone.now().date()
        if end == datetime.date.max:  # the range runs up to the midnight after `to`
            raise serializers.ValidationError({"to": [f"Must be before {datetime.date.max.isoformat()}."]})
        # By default the last 30 days, but none before the first day of the calendar.
        start = attrs.get("from") or end - datetime.timedelta(
            days=min(DEFAULT_USAGE_DAYS - 1, end.toordinal() - 1)
        )
        if start > end:
            raise serializers.ValidationError({"from": ["Must not be after `to`."]})
        if (end - start).days + 1 > PLATFORM_USAGE_MAX_DAYS:
            raise serializers.ValidationError(
                {"from": [f"The range is limited to {PLATFORM_USAGE_MAX_DAYS} days."]}
            )
        return {**attrs, "from": start, "to": end}


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


class UsageQuerySerializer(DateRangeQuerySerializer):
    group_by = serializers.ChoiceField(choices=sorted(PLATFORM_USAGE_GROUPS), default="model")


class PlatformUsageMeasuresSerializer(serializers.Serializer):
    messages = serializers.IntegerField(help_text="Answers generated (regenerated ones included)")
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.SerializerMethodField()
    tokens_per_second = serializers.SerializerMethodField(
        help_text="Average generation speed: tokens generated over generation time (null without data)"
    )

    def get_total_tokens(self, row: dict[str, Any]) -> int:
        return row["prompt_tokens"] + row["completion_tokens"]

    def get_tokens_per_second(self, row: dict[str, Any]) -> float | None:
        return _rounded(row["tokens_per_second"], 2)


class PlatformUsageTotalsSerializer(PlatformUsageMeasuresSerializer):
    users = serializers.IntegerField(help_text="Users with answers in the range")
    models = serializers.IntegerField(help_text="Models that answered in the range")


class PlatformUsageRowSerializer(PlatformUsageMeasuresSerializer):
    day = serializers.DateField()
    model = serializers.CharField(
        source="model_name", default=None, allow_null=True, help_text="With group_by=model; null otherwise"
    )
    user = serializers.SerializerMethodField(help_text="With group_by=user; null otherwise")

    def get_user(self, row: dict[str, Any]) -> dict[str, Any] | None:
        if "owner_id" not in row:
            return None
        return {"id": row["owner_id"], "username": row["owner__username"]}


class PageSerializer(serializers.Serializer):
    """The page-number pagination envelope (core.pagination.PageNumberPagination)."""

    count = serializers.IntegerField()
    total_pages = serializers.IntegerField()
    page = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class ReportPageSerializer(FromFieldMixin, PageSerializer):
    """A page of a report over a range of days, which it names."""

    from_field_kwargs = {"help_text": "First day (UTC) of the report"}
    to = serializers.DateField(help_text="Last day (UTC) of the report")


class PlatformUsageReportSerializer(ReportPageSerializer):
    group_by = serializers.CharField()
    totals = PlatformUsageTotalsSerializer()
    results = PlatformUsageRowSerializer(many=True)


class ModelFeedbackMeasuresSerializer(serializers.Serializer):
    up = serializers.IntegerField()
    down = serializers.IntegerField()
    total = serializers.IntegerField()
    up_ratio = serializers.SerializerMethodField(help_text="up / total (null without feedback)")

    def get_up_ratio(self, row: dict[str, Any]) -> float | None:
        return _rounded(row["up_ratio"], 4)


class ModelFeedbackRowSerializer(ModelFeedbackMeasuresSerializer):
    model = serializers.CharField(source="model_name")


class ModelFeedbackReportSerializer(ReportPageSerializer):
    totals = ModelFeedbackMeasuresSerializer()
    results = ModelFeedbackRowSerializer(many=True)


# --- database ------------------------------------------------------------------------------------------


class DatabaseHealthSerializer(serializers.Serializer):
    server_version = serializers.CharField()
    server_version_full = serializers.CharField()
    database = serializers.CharField()
    started_at = serializers.DateTimeField()
    uptime_seconds = serializers.IntegerField()
    size_bytes = serializers.IntegerField()
    size_pretty = serializers.CharField()
    in_recovery = serializers.BooleanField(help_text="true on a replica")
    max_connections = serializers.IntegerField()


class DatabaseTableSerializer(serializers.Serializer):
    schema = serializers.CharField()
    name = serializers.CharField()
    total_bytes = serializers.IntegerField(help_text="Table, indexes and TOAST")
    table_bytes = serializers.IntegerField()
    index_bytes = serializers.IntegerField()
    row_estimate = serializers.IntegerField(
        allow_null=True, help_text="pg_class.reltuples; null before ANALYZE"
    )
    live_tuples = serializers.IntegerField(allow_null=True)
    dead_tuples = serializers.IntegerField(allow_null=True)
    last_vacuum = serializers.DateTimeField(allow_null=True)
    last_analyze = serializers.DateTimeField(allow_null=True)


class ConnectionStateSerializer(serializers.Serializer):
    state = serializers.CharField(help_text="active, idle, idle in transaction, …")
    connections = serializers.IntegerField()
    waiting_on_locks = serializers.IntegerField()
    longest_transaction_seconds = serializers.FloatField(allow_null=True)


class ServerConnectionsSerializer(serializers.Serializer):
    client_connections = serializers.IntegerField(help_text="To every database of the server")
    max_connections = serializers.IntegerField()


class PoolSerializer(serializers.Serializer):
    configured = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True)
    stats = serializers.DictField(
        child=serializers.IntegerField(), allow_null=True, help_text="psycopg_pool's get_stats()"
    )


class DatabaseConnectionsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Client connections to this database")
    by_state = ConnectionStateSerializer(many=True)
    server = ServerConnectionsSerializer()
    pool = serializers.SerializerMethodField()

    @extend_schema_field(PoolSerializer)
    def get_pool(self, summary: Any) -> dict[str, Any]:
        if summary.pool is None:
            message = "No connection pool is configured for this process (DATABASES OPTIONS 'pool')."
            return {"configured": False, "message": message, "stats": None}
        return {"configured": True, "message": "", "stats": summary.pool}


class SlowStatementsQuerySerializer(serializers.Serializer):
    order_by = serializers.ChoiceField(choices=sorted(STATEMENT_ORDERINGS), default="mean")
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class SlowStatementSerializer(serializers.Serializer):
    query_id = serializers.CharField()
    query = serializers.CharField()
    calls = serializers.IntegerField()
    total_ms = serializers.FloatField()
    mean_ms = serializers.FloatField()
    max_ms = serializers.FloatField()
    rows = serializers.IntegerField()
    shared_blks_hit = serializers.IntegerField()
    shared_blks_read = serializers.IntegerField()


class SlowStatementsSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True)
    statements = SlowStatementSerializer(many=True)


class AppMigrationsSerializer(serializers.Serializer):
    app = serializers.CharField()
    applied = serializers.ListField(child=serializers.CharField())
    unapplied = serializers.ListField(child=serializers.CharField())


class DatabaseMigrationsSerializer(serializers.Serializer):
    applied_count = serializers.IntegerField()
    unapplied_count = serializers.IntegerField()
    apps = AppMigrationsSerializer(many=True)
