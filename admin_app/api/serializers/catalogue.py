"""Serializers of the staff API's catalogue: models (list, detail, input, tags added or removed) and tags."""

from __future__ import annotations

from rest_framework import serializers

from admin_app.api.serializers.base import OllamaModelNameField, TrashQuerySerializer
from core.api import StrictKeysMixin
from models_app.models import AIModel, Tag
from models_app.selectors import AIMODEL_ORDERINGS
from models_app.services import AIMODEL_EDITABLE_FIELDS

MAX_TAG_IDS = 100


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
        fields: tuple[str, ...] = (
            "id",
            "name",
            "description",
            "model_type",
            "capabilities",
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
        read_only_fields: tuple[str, ...] = fields


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
