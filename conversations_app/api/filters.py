"""Query-string filters of the conversations lists (django-filter)."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from conversations_app.models import Conversation, ConversationLabel, Folder
from conversations_app.selectors.search import conversation_matching
from core.api import StrictBooleanFilter


class FolderFilter(filters.FilterSet):
    parent = filters.UUIDFilter(field_name="parent_id", help_text="Only the subfolders of this folder")
    top_level = StrictBooleanFilter(
        field_name="parent", lookup_expr="isnull", help_text="true: only folders at the top level"
    )

    class Meta:
        model = Folder
        fields = ("parent", "top_level")


class ConversationFilter(filters.FilterSet):
    folder = filters.UUIDFilter(field_name="folder_id", help_text="Only conversations in this folder")
    unfiled = StrictBooleanFilter(
        field_name="folder", lookup_expr="isnull", help_text="true: only conversations in no folder"
    )
    pinned = StrictBooleanFilter(field_name="is_pinned")
    archived = StrictBooleanFilter(field_name="is_archived")
    model = filters.UUIDFilter(
        field_name="model_id", help_text="Only conversations with this catalogue model"
    )
    label = filters.UUIDFilter(method="filter_label", help_text="Only conversations with this label of yours")
    q = filters.CharFilter(
        method="filter_q",
        max_length=200,
        help_text="Conversations whose title is like this (typos tolerated) or whose messages match it "
        "(full-text, as `search/`)",
    )

    class Meta:
        model = Conversation
        fields = ("folder", "unfiled", "pinned", "archived", "model", "label", "q")

    def filter_label(
        self, queryset: QuerySet[Conversation], name: str, value: UUID
    ) -> QuerySet[Conversation]:
        return queryset.filter(
            pk__in=ConversationLabel.objects.filter(label_id=value, label__deleted_at__isnull=True).values(
                "conversation_id"
            )
        )

    def filter_q(self, queryset: QuerySet[Conversation], name: str, value: str) -> QuerySet[Conversation]:
        text = " ".join(value.split())
        if not text:
            return queryset
        return queryset.filter(
            conversation_matching(owner=self.request.user, text=text)  # type: ignore[union-attr]
        )
