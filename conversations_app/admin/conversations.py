"""Folders and conversations: trash, restore and purge through the services, edits too."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import DateFieldListFilter
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Substr

from conversations_app.admin.common import PREVIEW_CHARS, PurgeMixin
from conversations_app.models import Attachment, Conversation, ConversationPromptResponse, Folder
from conversations_app.services import (
    conversation_purge,
    conversation_restore,
    conversation_soft_delete,
    conversation_update,
    folder_purge,
    folder_restore,
    folder_soft_delete,
    folder_update,
)
from core.admin import (
    ConditionFilter,
    LargeTableAdminMixin,
    NoAddAdminMixin,
    SoftDeleteAdmin,
    change_link,
    changelist_link,
    link_row,
    preview,
)


class NestingFilter(ConditionFilter):
    title = "nesting"
    parameter_name = "nested"

    def conditions(self):
        return {
            "no": ("Top level", Q(parent__isnull=True)),
            "yes": ("Inside another folder", Q(parent__isnull=False)),
        }


@admin.register(Folder)
class FolderAdmin(PurgeMixin, NoAddAdminMixin, SoftDeleteAdmin):
    trash_cascade = "its subfolders and their conversations"
    list_display = ("name_display", "owner", "parent_display", "created_at")
    list_select_related = ("owner", "parent")
    list_filter = (NestingFilter, ("created_at", DateFieldListFilter))
    search_fields = ("name", "owner__username", "owner__email")
    ordering = ("-id",)
    autocomplete_fields = ("parent",)
    readonly_fields = ("owner", "contents_links")
    fields = ("name", "owner", "parent", "contents_links")

    @admin.display(description="name", ordering="name")
    def name_display(self, obj: Folder) -> str:
        return preview(obj.name, 50)

    @admin.display(description="parent")
    def parent_display(self, obj: Folder) -> str:
        return preview(str(obj.parent), 40) if obj.parent else "-"

    def update_object(self, request, obj: Folder, changes: dict) -> None:
        if "parent" in changes:
            changes["parent_id"] = getattr(changes.pop("parent"), "pk", None)
        folder_update(folder=self.stored_row(obj), **changes)

    def soft_delete_object(self, request, obj: Folder) -> None:
        folder_soft_delete(folder=obj)

    def restore_object(self, request, obj: Folder) -> None:
        folder_restore(folder=obj)

    def purge_object(self, request, obj: Folder) -> None:
        folder_purge(folder=obj)

    @admin.display(description="contents")
    def contents_links(self, obj: Folder) -> str:
        return link_row(
            changelist_link(Conversation, "Conversations", folder__id__exact=obj.pk),
            changelist_link(Folder, "Subfolders", parent__id__exact=obj.pk),
        )


@admin.register(Conversation)
class ConversationAdmin(PurgeMixin, NoAddAdminMixin, LargeTableAdminMixin, SoftDeleteAdmin):
    list_display = (
        "title_display",
        "owner",
        "model_name",
        "folder_display",
        "message_count",
        "is_pinned",
        "is_archived",
        "last_message_at",
    )
    list_select_related = ("owner", "folder")
    list_filter = ("is_pinned", "is_archived", ("last_message_at", DateFieldListFilter), "model")
    search_fields = ("title", "model_name", "owner__username", "owner__email")
    ordering = ("-id",)
    autocomplete_fields = ("folder", "system_message")
    readonly_fields = (
        "owner",
        "model",
        "model_name",
        "last_message_at",
        "message_count",
        "prompt_tokens",
        "completion_tokens",
        "current_exchange_link",
        "contents_links",
    )
    fieldsets = (
        (None, {"fields": ("title", "owner", ("model", "model_name"), "folder")}),
        (
            "Settings",
            {"fields": ("system_message", "system_prompt", "default_options", "is_pinned", "is_archived")},
        ),
        (
            "Activity",
            {
                "fields": (
                    "last_message_at",
                    "message_count",
                    ("prompt_tokens", "completion_tokens"),
                    "current_exchange_link",
                    "contents_links",
                )
            },
        ),
    )

    trash_cascade = "its exchanges, messages, feedback, notes and attachments"

    def get_queryset(self, request):
        # An untitled conversation is named by its first prompt (see Conversation.__str__).
        first = ConversationPromptResponse.all_objects.filter(conversation=OuterRef("pk"), position=0)
        first_prompt = first.order_by("created_at").values(start=Substr("prompt__content", 1, PREVIEW_CHARS))
        return super().get_queryset(request).annotate(first_prompt=Subquery(first_prompt[:1]))

    def update_object(self, request, obj: Conversation, changes: dict) -> None:
        for relation in ("folder", "system_message"):
            if relation in changes:
                changes[f"{relation}_id"] = getattr(changes.pop(relation), "pk", None)
        conversation_update(conversation=self.stored_row(obj), **changes)

    def soft_delete_object(self, request, obj: Conversation) -> None:
        conversation_soft_delete(conversation=obj)

    def restore_object(self, request, obj: Conversation) -> None:
        conversation_restore(conversation=obj)

    def purge_object(self, request, obj: Conversation) -> None:
        conversation_purge(conversation=obj)

    @admin.display(description="title", ordering="title")
    def title_display(self, obj: Conversation) -> str:
        return preview(str(obj), 60)

    @admin.display(description="folder")
    def folder_display(self, obj: Conversation) -> str:
        return preview(str(obj.folder), 40) if obj.folder else "-"

    @admin.display(description="current exchange")
    def current_exchange_link(self, obj: Conversation) -> str:
        exchange = obj.current_exchange
        if exchange is None:
            return "-"
        return change_link(exchange, f"Position {exchange.position}: {preview(exchange.prompt.content, 60)}")

    @admin.display(description="contents")
    def contents_links(self, obj: Conversation) -> str:
        return link_row(
            changelist_link(ConversationPromptResponse, "Exchanges", conversation__id__exact=obj.pk),
            changelist_link(Attachment, "Attachments", conversation__id__exact=obj.pk),
        )
