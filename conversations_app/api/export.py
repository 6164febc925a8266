"""Conversation export: a lossless JSON document (every branch, feedback, notes, attachments) and its
Markdown rendering (the current branch, as a person would read it)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import renderers, serializers

from conversations_app.api.serializers import ConversationSerializer
from conversations_app.api.serializers.chat import PromptOutSerializer
from conversations_app.models import AIResponse, Attachment, Feedback, Note
from conversations_app.selectors import ConversationExport
from conversations_app.services.chat import METRIC_FIELDS

EXPORT_FORMAT = "ollamanet.conversation"
EXPORT_FORMAT_VERSION = 1


class _ResponseExportSerializer(serializers.ModelSerializer):
    class Meta:
        model = AIResponse
        fields = (
            "id",
            "content",
            "model_name",
            "status",
            "done_reason",
            "error",
            *METRIC_FIELDS,
            "created_at",
            "completed_at",
        )


class _FeedbackExportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Feedback
        fields = ("id", "rating", "reason", "comment", "created_at", "updated_at")


class _NoteExportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = ("id", "content", "from_index", "to_index", "created_at", "updated_at")


class _AttachmentExportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attachment
        fields = (
            "id",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "processing_status",
            "extracted_text",
            "created_at",
        )


class _ExchangeExportSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    parent = serializers.UUIDField(source="parent_id", allow_null=True)  # type: ignore[assignment]  # a field, not Field.parent
    position = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    prompt = PromptOutSerializer()
    response = _ResponseExportSerializer()
    feedback = _FeedbackExportSerializer(many=True)
    notes = _NoteExportSerializer(many=True)


class _ModelRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class _SystemMessageExportSerializer(_ModelRefSerializer):
    content = serializers.CharField()


class _ConversationExportMetaSerializer(ConversationSerializer):
    """The conversation as the API shows it, with its folder and system message spelled out."""

    folder = _ModelRefSerializer(allow_null=True)
    system_message = _SystemMessageExportSerializer(allow_null=True)
    labels = _ModelRefSerializer(many=True, source="labels.all")


class ConversationExportSerializer(serializers.Serializer):
    """The export document: `conversation` metadata, every alive `exchange` of every branch (each with
    `parent`, prompt, response with metrics, feedback and notes), and the `attachments`."""

    format = serializers.CharField()
    format_version = serializers.IntegerField()
    exported_at = serializers.DateTimeField()
    conversation = _ConversationExportMetaSerializer()
    exchanges = _ExchangeExportSerializer(many=True)
    attachments = _AttachmentExportSerializer(many=True)

    @classmethod
    def document(cls, export: ConversationExport) -> dict[str, Any]:
        """The export as plain data (feedback and notes grouped under their exchange)."""
        feedback: dict[Any, list[Feedback]] = {}
        for item in export.feedback:
            feedback.setdefault(item.response_id, []).append(item)
        notes: dict[Any, list[Note]] = {}
        for note in export.notes:
            notes.setdefault(note.response_id, []).append(note)
        exchanges = [
            {
                "id": exchange.pk,
                "parent_id": exchange.parent_id,
                "position": exchange.position,
                "created_at": exchange.created_at,
                "prompt": exchange.prompt,
                "response": exchange.response,
                "feedback": feedback.get(exchange.response_id, []),
                "notes": notes.get(exchange.response_id, []),
            }
            for exchange in export.exchanges
        ]
        return cls(
            {
                "format": EXPORT_FORMAT,
                "format_version": EXPORT_FORMAT_VERSION,
                "exported_at": timezone.now(),
                "conversation": export.conversation,
                "exchanges": exchanges,
                "attachments": export.attachments,
            }
        ).data


def current_branch(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The exchanges of the document's current branch, root first (parent chain of the current leaf)."""
    by_id = {str(exchange["id"]): exchange for exchange in document.get("exchanges", [])}
    branch = []
    exchange_id = document["conversation"]["current_exchange"]
    while exchange_id is not None and str(exchange_id) in by_id:
        branch.append(by_id[str(exchange_id)])
        exchange_id = by_id[str(exchange_id)]["parent"]
    branch.reverse()
    return branch


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


class MarkdownExportRenderer(renderers.BaseRenderer):
    """Renders an export document as Markdown: title, model, system prompt, then the current branch."""

    media_type = "text/markdown"
    format = "markdown"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        conversation = data["conversation"]
        lines = [f"# {conversation['title'] or 'Untitled conversation'}", ""]
        lines.append(f"- Model: `{conversation['model_name']}`")
        lines.append(f"- Created: {conversation['created_at']}")
        lines.append(f"- Exported: {data['exported_at']}")
        system = conversation["system_prompt"] or (conversation["system_message"] or {}).get("content", "")
        if system:
            lines += ["", "**System prompt**", "", _quote(system)]
        for exchange in current_branch(data):
            response = exchange["response"]
            lines += ["", "---", "", "### You", "", exchange["prompt"]["content"], ""]
            lines += [f"### Assistant ({response['model_name']})", "", response["content"]]
            if response["status"] != "complete":
                lines += ["", f"*[answer {response['status']}]*"]
        return ("\n".join(lines).rstrip() + "\n").encode(self.charset)
