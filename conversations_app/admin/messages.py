"""Exchanges and their prompt and answer: the record of what was said, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import DateFieldListFilter
from django.db.models import F
from django.db.models.functions import Substr
from django.utils.html import format_html

from conversations_app.admin.common import PREVIEW_CHARS, FullTextSearchMixin
from conversations_app.models import AIResponse, ConversationPromptResponse, Feedback, Note, Prompt
from core.admin import (
    LargeTableAdminMixin,
    SoftDeleteAdmin,
    ViewOnlyAdminMixin,
    change_link,
    changelist_link,
    link_row,
    preview,
)


class MessageRecordAdmin(ViewOnlyAdminMixin, LargeTableAdminMixin, SoftDeleteAdmin):
    """Read-only; they go to the trash, come back and are purged with their conversation."""

    ordering = ("-id",)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="exchange")
    def exchange_link(self, obj: Prompt | AIResponse) -> str:
        return change_link(getattr(obj, "exchange", None))  # the reverse one-to-one sees deleted rows too


@admin.register(ConversationPromptResponse)
class ExchangeAdmin(MessageRecordAdmin):
    list_display = ("conversation_display", "position", "prompt_preview", "response_status", "created_at")
    list_select_related = ("conversation",)
    list_filter = ("response__status", ("created_at", DateFieldListFilter))
    search_fields = ("conversation__title",)
    fields = ("conversation", "position", "parent", "prompt", "response", "prompt_text", "response_text")
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                prompt_start=Substr("prompt__content", 1, PREVIEW_CHARS + 1),
                response_state=F("response__status"),
            )
        )

    @admin.display(description="conversation", ordering="conversation__title")
    def conversation_display(self, obj: ConversationPromptResponse) -> str:
        return preview(str(obj.conversation), 40)

    @admin.display(description="prompt")
    def prompt_preview(self, obj: ConversationPromptResponse) -> str:
        return preview(obj.prompt_start, PREVIEW_CHARS)  # type: ignore[attr-defined]  # get_queryset annotates

    @admin.display(description="answer status", ordering="response__status")
    def response_status(self, obj: ConversationPromptResponse) -> str:
        return AIResponse.Status(obj.response_state).label  # type: ignore[attr-defined]  # get_queryset annotates

    @admin.display(description="prompt text")
    def prompt_text(self, obj: ConversationPromptResponse) -> str:
        return format_html('<div style="white-space: pre-wrap">{}</div>', obj.prompt.content)

    @admin.display(description="answer text")
    def response_text(self, obj: ConversationPromptResponse) -> str:
        return format_html('<div style="white-space: pre-wrap">{}</div>', obj.response.content)


@admin.register(Prompt)
class PromptAdmin(FullTextSearchMixin, MessageRecordAdmin):
    list_display = ("content_preview", "token_count", "created_at")
    fields = ("content", "options", "token_count", "exchange_link")
    readonly_fields = fields

    @admin.display(description="content")
    def content_preview(self, obj: Prompt) -> str:
        return preview(obj.content, PREVIEW_CHARS)


@admin.register(AIResponse)
class AIResponseAdmin(FullTextSearchMixin, MessageRecordAdmin):
    list_display = ("content_preview", "status", "model_name", "eval_count", "completed_at")
    list_filter = ("status", ("completed_at", DateFieldListFilter))
    fieldsets = (
        (None, {"fields": ("content", "model_name", "status", "done_reason", "error", "completed_at")}),
        (
            "Ollama metrics",
            {
                "fields": (
                    ("prompt_eval_count", "eval_count"),
                    ("total_duration", "load_duration"),
                    ("prompt_eval_duration", "eval_duration"),
                )
            },
        ),
        ("Related", {"fields": ("exchange_link", "reactions_links")}),
    )
    readonly_fields = (
        "content",
        "model_name",
        "status",
        "done_reason",
        "error",
        "completed_at",
        "prompt_eval_count",
        "eval_count",
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
        "exchange_link",
        "reactions_links",
    )

    @admin.display(description="content")
    def content_preview(self, obj: AIResponse) -> str:
        return preview(obj.content, PREVIEW_CHARS)

    @admin.display(description="feedback and notes")
    def reactions_links(self, obj: AIResponse) -> str:
        return link_row(
            changelist_link(Feedback, "Feedback", response__id__exact=obj.pk),
            changelist_link(Note, "Notes", response__id__exact=obj.pk),
        )
