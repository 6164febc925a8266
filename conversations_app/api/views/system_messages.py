"""The system messages users may pick for a conversation (`system_message` on create or update)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from admin_app.models import SystemMessage
from admin_app.selectors import system_message_list_published
from conversations_app.api.views.base import NamePagination, OwnedResourceViewSet


class PublishedSystemMessageSerializer(serializers.ModelSerializer):
    """A system message as users see it (no staff bookkeeping)."""

    class Meta:
        model = SystemMessage
        fields = ("id", "name", "description", "content")
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="System messages you may pick, by name", tags=["conversations"]),
    retrieve=extend_schema(summary="A system message you may pick", tags=["conversations"]),
)
class SystemMessageViewSet(OwnedResourceViewSet):
    """The published system messages: give one's `id` as a conversation's `system_message`."""

    serializer_class = PublishedSystemMessageSerializer
    pagination_class = NamePagination
    http_method_names = ["get", "head", "options"]

    def owned_queryset(self) -> QuerySet:
        return system_message_list_published()
