"""Query-string filters of the conversations lists (django-filter)."""

from __future__ import annotations

from django_filters import rest_framework as filters

from conversations_app.models import Conversation, Folder
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

    class Meta:
        model = Conversation
        fields = ("folder", "unfiled", "pinned", "archived", "model")
