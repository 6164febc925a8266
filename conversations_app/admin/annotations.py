"""What users add to answers and conversations: feedback, notes, attachments, labels; and their imports
and exports."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import DateFieldListFilter
from django.db import transaction
from django.template.defaultfilters import filesizeformat

from conversations_app.admin.common import NARROW_PREVIEW_CHARS, AnswerPreviewMixin
from conversations_app.models import Attachment, ConversationLabel, Feedback, Label, Note, TransferJob
from conversations_app.services import (
    attachment_delete,
    attachment_files_release,
    feedback_delete,
    feedback_update,
    label_delete,
    label_update,
    note_delete,
    note_update,
)
from core.admin import (
    BaseModelAdmin,
    LargeTableAdminMixin,
    NoAddAdminMixin,
    SoftDeleteAdmin,
    ViewOnlyAdminMixin,
    preview,
)


@admin.register(Feedback)
class FeedbackAdmin(AnswerPreviewMixin, NoAddAdminMixin, LargeTableAdminMixin, SoftDeleteAdmin):
    list_display = ("rating", "reason", "user", "answer_preview", "comment_preview", "created_at")
    list_select_related = ("user",)
    list_filter = ("rating", "reason", ("created_at", DateFieldListFilter))
    search_fields = ("comment", "user__username", "user__email")
    ordering = ("-id",)
    fields = ("response", "user", "rating", "reason", "comment")
    readonly_fields = ("response", "user")

    def update_object(self, request, obj: Feedback, changes: dict) -> None:
        feedback_update(feedback=self.stored_row(obj), **changes)

    def soft_delete_object(self, request, obj: Feedback) -> None:
        feedback_delete(feedback=obj)

    @admin.display(description="comment")
    def comment_preview(self, obj: Feedback) -> str:
        return preview(obj.comment, NARROW_PREVIEW_CHARS)


@admin.register(Note)
class NoteAdmin(AnswerPreviewMixin, NoAddAdminMixin, LargeTableAdminMixin, SoftDeleteAdmin):
    list_display = ("content_preview", "owner", "answer_preview", "span", "created_at")
    list_select_related = ("owner",)
    list_filter = (("created_at", DateFieldListFilter),)
    search_fields = ("content", "owner__username", "owner__email")
    ordering = ("-id",)
    fields = ("response", "owner", "span", "highlighted_text", "content")
    readonly_fields = ("response", "owner", "span", "highlighted_text")

    def update_object(self, request, obj: Note, changes: dict) -> None:
        note_update(note=self.stored_row(obj), **changes)

    def soft_delete_object(self, request, obj: Note) -> None:
        note_delete(note=obj)

    @admin.display(description="note")
    def content_preview(self, obj: Note) -> str:
        return preview(obj.content, NARROW_PREVIEW_CHARS)

    @admin.display(description="span")
    def span(self, obj: Note) -> str:
        return f"[{obj.from_index}, {obj.to_index})"

    @admin.display(description="highlighted text")
    def highlighted_text(self, obj: Note) -> str:
        return obj.response.content[obj.from_index : obj.to_index]


@admin.register(Attachment)
class AttachmentAdmin(NoAddAdminMixin, LargeTableAdminMixin, SoftDeleteAdmin):
    """Read-only: the file is content-addressed and was checked on upload. A permanent delete removes
    the stored file once no other row uses it."""

    list_display = (
        "name_display",
        "conversation_display",
        "uploader",
        "content_type",
        "size_display",
        "processing_status",
        "created_at",
    )
    list_select_related = ("conversation", "uploader")
    list_filter = ("processing_status", ("created_at", DateFieldListFilter))
    search_fields = ("original_name", "=sha256", "uploader__username", "uploader__email")
    ordering = ("-id",)
    fieldsets = (
        (None, {"fields": ("original_name", "conversation", "uploader")}),
        ("Stored file", {"fields": ("stored_file", "content_type", "size_display", "sha256")}),
        ("Processing", {"fields": ("processing_status", "processing_error", "extracted_text")}),
    )
    readonly_fields = ("stored_file", "size_display")

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)  # the trash actions, no edit page

    def has_trash_permission(self, request, obj=None) -> bool:
        return (obj is None or obj.deleted_at is None) and self.has_change_permission(request)

    def soft_delete_object(self, request, obj: Attachment) -> None:
        attachment_delete(attachment=obj)

    def delete_queryset(self, request, queryset) -> None:
        digests = set(queryset.values_list("sha256", flat=True))
        super().delete_queryset(request, queryset)
        transaction.on_commit(lambda: attachment_files_release(sha256s=digests))

    @admin.display(description="original name", ordering="original_name")
    def name_display(self, obj: Attachment) -> str:
        return preview(obj.original_name, 40)

    @admin.display(description="conversation")
    def conversation_display(self, obj: Attachment) -> str:
        return preview(str(obj.conversation), 40)

    @admin.display(description="size", ordering="size")
    def size_display(self, obj: Attachment) -> str:
        return filesizeformat(obj.size)

    @admin.display(description="stored as")
    def stored_file(self, obj: Attachment) -> str:
        return obj.file.name


@admin.register(Label)
class LabelAdmin(NoAddAdminMixin, LargeTableAdminMixin, SoftDeleteAdmin):
    list_display = ("name", "owner", "created_at")
    list_select_related = ("owner",)
    list_filter = (("created_at", DateFieldListFilter),)
    search_fields = ("name", "owner__username", "owner__email")
    ordering = ("-id",)
    fields = ("name", "owner")
    readonly_fields = ("owner",)

    def update_object(self, request, obj: Label, changes: dict) -> None:
        label_update(label=self.stored_row(obj), **changes)

    def soft_delete_object(self, request, obj: Label) -> None:
        label_delete(label=obj)


@admin.register(ConversationLabel)
class ConversationLabelAdmin(ViewOnlyAdminMixin, LargeTableAdminMixin, BaseModelAdmin):
    """Which conversation carries which label, read-only: users label their own conversations."""

    list_display = ("label", "conversation")
    list_select_related = ("label", "conversation")
    search_fields = ("label__name", "conversation__title")
    ordering = ("-id",)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TransferJob)
class TransferJobAdmin(ViewOnlyAdminMixin, LargeTableAdminMixin, BaseModelAdmin):
    """Imports and account exports, read-only: their owners start them; the results say what became of
    each conversation."""

    list_display = ("kind", "status", "owner", "source_format", "processed", "created_at", "finished_at")
    list_select_related = ("owner",)
    list_filter = ("kind", "status", ("created_at", DateFieldListFilter))
    search_fields = ("owner__username", "owner__email", "original_name")
    ordering = ("-id",)
    exclude = ("file",)
