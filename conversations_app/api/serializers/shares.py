"""Serializers of shared links: the owner's view of a link, the public snapshot, the share request."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from conversations_app.models import AIResponse, SharedLink
from conversations_app.services.shares import (
    SHARE_DEFAULT_SECONDS,
    SHARE_MAX_SECONDS,
    SHARE_MIN_SECONDS,
    utc_text,
)
from core.api import StrictKeysMixin


class SharedLinkCreateSerializer(StrictKeysMixin, serializers.Serializer):
    expires_in = serializers.IntegerField(
        min_value=SHARE_MIN_SECONDS,
        max_value=SHARE_MAX_SECONDS,
        default=SHARE_DEFAULT_SECONDS,
        help_text=f"Seconds the link stays open: {SHARE_MIN_SECONDS} to {SHARE_MAX_SECONDS} (a year); "
        f"{SHARE_DEFAULT_SECONDS} (30 days) when left out.",
    )


class SharedLinkSerializer(serializers.ModelSerializer):
    """One of the owner's links: what it shows and how often it was opened (never its token)."""

    is_expired = serializers.SerializerMethodField()

    class Meta:
        model = SharedLink
        fields: tuple[str, ...] = (
            "id",
            "conversation",
            "title",
            "exchange_count",
            "created_at",
            "expires_at",
            "is_expired",
            "access_count",
            "last_accessed_at",
        )
        read_only_fields: tuple[str, ...] = fields

    def get_is_expired(self, link: SharedLink) -> bool:
        return link.expires_at <= timezone.now()


class SharedLinkCreatedSerializer(SharedLinkSerializer):
    """A link just made: its token and absolute URL, shown this once."""

    token = serializers.CharField(help_text="The secret part of the URL; shown only in this response.")
    url = serializers.URLField(help_text="The public address of the snapshot.")

    class Meta(SharedLinkSerializer.Meta):
        fields = (*SharedLinkSerializer.Meta.fields, "token", "url")
        read_only_fields = fields


class SharedPromptSerializer(serializers.Serializer):
    content = serializers.CharField()
    created_at = serializers.DateTimeField()


class SharedAnswerSerializer(serializers.Serializer):
    content = serializers.CharField(allow_blank=True)
    model_name = serializers.CharField()
    status = serializers.ChoiceField(choices=AIResponse.Status.choices)
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


class SharedExchangeSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    prompt = SharedPromptSerializer()
    answer = SharedAnswerSerializer()


class SharedConversationSerializer(serializers.Serializer):
    """The public snapshot: title, model, dates and the exchanges of the branch that was shared. Nothing
    of its owner (no name, e-mail, notes or feedback) is part of it."""

    title = serializers.CharField(allow_blank=True)
    model_name = serializers.CharField()
    conversation_created_at = serializers.DateTimeField()
    shared_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    exchanges = SharedExchangeSerializer(many=True)

    @staticmethod
    def document(link: SharedLink) -> dict[str, Any]:
        """The public JSON of a link: its frozen snapshot with the link's own dates (as stored: no
        per-field work, the snapshot is already plain JSON)."""
        return {
            **link.snapshot,
            "shared_at": utc_text(link.created_at),
            "expires_at": utc_text(link.expires_at),
        }
