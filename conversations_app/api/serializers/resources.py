"""Serializers of the conversations resources: input (validation) and output (shape) kept apart."""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conversations_app.api.serializers.chat import MAX_SYSTEM_PROMPT_CHARS, ChatOptionsSerializer
from conversations_app.models import (
    Attachment,
    Conversation,
    Feedback,
    FeedbackReason,
    Folder,
    Label,
    Note,
)
from conversations_app.services.labels import LABEL_MAX_CHARS
from core.api import StrictKeysMixin

# --- Folders -------------------------------------------------------------------------------------------


class FolderSerializer(serializers.ModelSerializer):
    conversation_count = serializers.IntegerField(read_only=True, help_text="Alive conversations in it")

    class Meta:
        model = Folder
        fields = ("id", "name", "parent", "conversation_count", "version", "created_at", "updated_at")
        read_only_fields = fields


class TrashedFolderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Folder
        fields = ("id", "name", "parent", "version", "created_at", "updated_at", "deleted_at")
        read_only_fields = fields


# A declared field named `parent` shadows `Field.parent` only for the type checker (the serializer
# metaclass collects declared fields).
class FolderCreateSerializer(StrictKeysMixin, serializers.Serializer):
    name = serializers.CharField(max_length=255)
    parent = serializers.UUIDField(source="parent_id", required=False, allow_null=True, default=None)  # type: ignore[assignment]


class FolderUpdateSerializer(StrictKeysMixin, serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False)
    parent = serializers.UUIDField(source="parent_id", required=False, allow_null=True)  # type: ignore[assignment]


class FolderMoveSerializer(StrictKeysMixin, serializers.Serializer):
    parent = serializers.UUIDField(source="parent_id", allow_null=True, help_text="null: the top level")  # type: ignore[assignment]


# --- Conversations ---------------------------------------------------------------------------------------


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ("id", "name", "version", "created_at", "updated_at")
        read_only_fields = fields


class LabelCreateSerializer(StrictKeysMixin, serializers.Serializer):
    name = serializers.CharField(max_length=LABEL_MAX_CHARS)


class LabelUpdateSerializer(StrictKeysMixin, serializers.Serializer):
    name = serializers.CharField(max_length=LABEL_MAX_CHARS, required=False)


LABELS_HELP = "Ids of your labels; the conversation carries exactly these."


class ConversationSerializer(serializers.ModelSerializer):
    """A conversation as the API shows it. The declared model fields are the contract (and the
    OpenAPI schema); when a subclass declares no fields of its own, each row is written out straight
    from the model's columns (a list page holds up to 100 conversations, and DRF's field-by-field
    machinery costs more than the query), ids and instants left to the orjson renderer, which
    writes them as DRF would (UTC as "Z")."""

    class Meta:
        model = Conversation
        fields: tuple[str, ...] = (
            "id",
            "title",
            "folder",
            "model",
            "model_name",
            "system_prompt",
            "system_message",
            "default_options",
            "is_pinned",
            "is_archived",
            "current_exchange",
            "labels",
            "source",
            "message_count",
            "prompt_tokens",
            "completion_tokens",
            "last_message_at",
            "version",
            "created_at",
            "updated_at",
        )
        read_only_fields: tuple[str, ...] = fields

    def to_representation(self, instance: Conversation) -> dict[str, Any]:
        if self._declared_fields:  # a subclass shapes some fields itself (the export)
            return super().to_representation(instance)
        return {name: getattr(instance, attname) for name, attname in _column_names(type(self))}


# Output fields that are not columns: the attribute the list's queryset annotates them as.
_ANNOTATED = {"labels": "label_ids"}


@functools.cache
def _column_names(serializer_class: type[ConversationSerializer]) -> tuple[tuple[str, str], ...]:
    """(output name, model attribute) of the serializer's fields: foreign keys as their `_id`, the
    labels as the ids `selectors.with_label_ids` annotates."""
    columns = {field.name: field.attname for field in Conversation._meta.concrete_fields} | _ANNOTATED
    return tuple((name, columns[name]) for name in serializer_class.Meta.fields)


class TrashedConversationSerializer(ConversationSerializer):
    class Meta(ConversationSerializer.Meta):
        fields = (*ConversationSerializer.Meta.fields, "deleted_at")
        read_only_fields = fields


class ModelReferenceField(serializers.CharField):
    """A published catalogue model, by its id or by its Ollama name; the service looks it up."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text", "A published catalogue model: its id, or its Ollama name such as `llama3.2:3b`."
        )
        super().__init__(max_length=200, source="model_ref", **kwargs)


class ConversationCreateSerializer(StrictKeysMixin, serializers.Serializer):
    model = ModelReferenceField()
    title = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    system_prompt = serializers.CharField(
        max_length=MAX_SYSTEM_PROMPT_CHARS,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
    )
    system_message = serializers.UUIDField(
        source="system_message_id",
        required=False,
        allow_null=True,
        default=None,
        help_text="An active system message",
    )
    default_options = ChatOptionsSerializer(required=False)
    folder = serializers.UUIDField(source="folder_id", required=False, allow_null=True, default=None)
    is_pinned = serializers.BooleanField(required=False, default=False)
    is_archived = serializers.BooleanField(required=False, default=False)
    labels = serializers.ListField(
        child=serializers.UUIDField(),
        source="label_ids",
        required=False,
        max_length=100,
        help_text=LABELS_HELP,
    )


class ConversationUpdateSerializer(StrictKeysMixin, serializers.Serializer):
    model = ModelReferenceField(required=False)
    title = serializers.CharField(max_length=255, required=False, allow_blank=True)
    system_prompt = serializers.CharField(
        max_length=MAX_SYSTEM_PROMPT_CHARS, required=False, allow_blank=True, trim_whitespace=False
    )
    system_message = serializers.UUIDField(source="system_message_id", required=False, allow_null=True)
    default_options = ChatOptionsSerializer(required=False)
    folder = serializers.UUIDField(source="folder_id", required=False, allow_null=True)
    is_pinned = serializers.BooleanField(required=False)
    is_archived = serializers.BooleanField(required=False)
    labels = serializers.ListField(
        child=serializers.UUIDField(),
        source="label_ids",
        required=False,
        max_length=100,
        help_text=LABELS_HELP,
    )


class ConversationMoveSerializer(StrictKeysMixin, serializers.Serializer):
    folder = serializers.UUIDField(source="folder_id", allow_null=True, help_text="null: no folder")


# --- Feedback and notes ---------------------------------------------------------------------------------

REASON_CHOICES = [("", "None"), *FeedbackReason.choices]


class FeedbackSerializer(serializers.ModelSerializer):
    class Meta:
        model = Feedback
        fields = ("id", "response", "rating", "reason", "comment", "version", "created_at", "updated_at")
        read_only_fields = fields


class FeedbackCreateSerializer(StrictKeysMixin, serializers.Serializer):
    rating = serializers.ChoiceField(choices=Feedback.Rating.choices, help_text="1 thumbs up, -1 thumbs down")
    reason = serializers.ChoiceField(choices=REASON_CHOICES, required=False, default="")
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class FeedbackUpdateSerializer(StrictKeysMixin, serializers.Serializer):
    rating = serializers.ChoiceField(choices=Feedback.Rating.choices, required=False)
    reason = serializers.ChoiceField(choices=REASON_CHOICES, required=False)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)


NOTE_MAX_CHARS = 10_000


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = (
            "id",
            "response",
            "content",
            "from_index",
            "to_index",
            "version",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class NoteCreateSerializer(StrictKeysMixin, serializers.Serializer):
    content = serializers.CharField(max_length=NOTE_MAX_CHARS)
    from_index = serializers.IntegerField(min_value=0, help_text="First highlighted character (code points)")
    to_index = serializers.IntegerField(min_value=1, help_text="One past the last highlighted character")


class NoteUpdateSerializer(StrictKeysMixin, serializers.Serializer):
    content = serializers.CharField(max_length=NOTE_MAX_CHARS, required=False)
    from_index = serializers.IntegerField(min_value=0, required=False)
    to_index = serializers.IntegerField(min_value=1, required=False)


# --- Attachments -----------------------------------------------------------------------------------------


class AttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields: tuple[str, ...] = (
            "id",
            "conversation",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "processing_status",
            "processing_error",
            "download_url",
            "created_at",
        )
        read_only_fields: tuple[str, ...] = fields

    def get_download_url(self, attachment: Attachment) -> str:
        request = self.context.get("request")
        path = f"/api/v1/conversations/{attachment.conversation_id}/attachments/{attachment.pk}/download/"
        return request.build_absolute_uri(path) if request else path


class AttachmentDetailSerializer(AttachmentSerializer):
    class Meta(AttachmentSerializer.Meta):
        fields = (*AttachmentSerializer.Meta.fields, "extracted_text")
        read_only_fields = fields


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=False,
        help_text=f"PDF, DOCX, Markdown or UTF-8 text, at most {settings.ATTACHMENT_MAX_BYTES} bytes; "
        "the type is read from the content",
    )


# --- Search ----------------------------------------------------------------------------------------------


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=200, help_text='Words, "quoted phrases", -excluded, or')
    limit = serializers.IntegerField(required=False, min_value=1, max_value=50, default=20)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=1000, default=0)


class SearchHitSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["prompt", "response"])
    message_id = serializers.UUIDField()
    exchange_id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    conversation_title = serializers.CharField()
    created_at = serializers.DateTimeField()
    rank = serializers.FloatField()
    snippet = serializers.CharField(help_text="HTML-escaped text with the matches in <mark>…</mark>")


class SearchResultsSerializer(serializers.Serializer):
    query = serializers.CharField()
    results = SearchHitSerializer(many=True)
    next_offset = serializers.IntegerField(
        allow_null=True, help_text="offset of the next page, null at the end"
    )


# --- Usage -----------------------------------------------------------------------------------------------


class UsageQuerySerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False, help_text="First day (UTC), inclusive")
    date_to = serializers.DateField(required=False, help_text="Last day (UTC), inclusive")

    def validate(self, attrs):
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": ["Must not be before date_from."]})
        return attrs


class UsageTotalsSerializer(serializers.Serializer):
    messages = serializers.IntegerField(help_text="Answers generated (regenerated ones included)")
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class UsageRowSerializer(UsageTotalsSerializer):
    day = serializers.DateField()
    model = serializers.CharField()


class OwnApiUsageTotalsSerializer(serializers.Serializer):
    requests = serializers.IntegerField(
        help_text="Requests made through the API (API keys, compatible endpoints)"
    )
    prompt_tokens = serializers.IntegerField()
    eval_tokens = serializers.IntegerField(help_text="Tokens generated")


class OwnApiKeyRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField()


class OwnApiUsageRowSerializer(OwnApiUsageTotalsSerializer):
    day = serializers.DateField()
    api_key = serializers.SerializerMethodField(help_text="null: signed-in use without a key")

    @extend_schema_field(OwnApiKeyRefSerializer(allow_null=True))
    def get_api_key(self, row: dict) -> dict | None:
        if row["api_key_id"] is None:
            return None
        return {"id": row["api_key_id"], "name": row["api_key_name"], "prefix": row["api_key_prefix"]}


class UsageSerializer(serializers.Serializer):
    totals = UsageTotalsSerializer()
    by_model_and_day = UsageRowSerializer(many=True)


class UserUsageSerializer(UsageSerializer):
    """The caller's usage: answers by model and day, and API use by key and day."""

    api_totals = OwnApiUsageTotalsSerializer(help_text="Your API use in the range, all keys together")
    api_by_key_and_day = OwnApiUsageRowSerializer(many=True, help_text="Your API use per day and key")
