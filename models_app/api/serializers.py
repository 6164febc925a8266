"""Shapes of the signed-in catalogue: the models the caller may use."""

from __future__ import annotations

from rest_framework import serializers

from models_app.models import AIModel, InstallStatus, Tag
from models_app.selectors import AIMODEL_ORDERINGS

# Popularity is a measure of another app (conversations); the models list keeps to the catalogue's own.
ORDERINGS = [name for name in AIMODEL_ORDERINGS if name != "popularity"]


class UsableModelQuerySerializer(serializers.Serializer):
    ordering = serializers.ChoiceField(choices=ORDERINGS, required=False, default="name")


class UsableModelTagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ("id", "name", "slug")
        read_only_fields = fields


class UsableModelSerializer(serializers.ModelSerializer):
    """A model the caller may chat with."""

    tags = UsableModelTagSerializer(many=True, read_only=True)
    installed = serializers.SerializerMethodField()

    class Meta:
        model = AIModel
        fields = (
            "id",
            "name",
            "description",
            "family",
            "model_type",
            "capabilities",
            "parameter_size",
            "quantization_level",
            "context_length",
            "size",
            "size_label",
            "image_url",
            "install_status",
            "installed",
            "tags",
        )
        read_only_fields = fields

    def get_installed(self, obj: AIModel) -> bool:
        return obj.install_status == InstallStatus.INSTALLED
