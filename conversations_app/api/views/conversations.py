"""Conversation views: CRUD, move, usage, export."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from conversations_app import services
from conversations_app.api.export import ConversationExportSerializer, MarkdownExportRenderer
from conversations_app.api.filters import ConversationFilter
from conversations_app.api.serializers import (
    ConversationCreateSerializer,
    ConversationMoveSerializer,
    ConversationSerializer,
    ConversationUpdateSerializer,
    UsageSerializer,
)
from conversations_app.api.views.base import LastActivityPagination, OwnedResourceViewSet
from conversations_app.models import Conversation
from conversations_app.selectors import (
    conversation_export,
    conversation_list,
    usage_by_model_and_day,
    usage_totals,
)
from core.api import IF_MATCH, NO_CONTENT, error_example
from core.schema import ERROR_DESCRIPTIONS, ErrorSerializer

CONVERSATION_EXAMPLE = {
    "id": "0192f0c4-4a1b-7d2c-9e3f-5a6b7c8d9e01",
    "title": "Trip planning",
    "folder": None,
    "model": "0192f0c4-1111-7222-8333-444455556666",
    "model_name": "llama3.2:3b",
    "system_prompt": "Answer in French.",
    "system_message": None,
    "default_options": {"temperature": 0.2},
    "is_pinned": True,
    "is_archived": False,
    "current_exchange": "0192f0c4-5d2e-7b3a-8c41-2f6a9e0d1b22",
    "labels": ["0192f0c4-7a7a-7b7b-8c8c-9d9d0e0e1f1f"],
    "message_count": 4,
    "prompt_tokens": 312,
    "completion_tokens": 1024,
    "last_message_at": "2025-03-01T09:30:00Z",
    "version": 5,
    "created_at": "2025-03-01T09:00:00Z",
    "updated_at": "2025-03-01T09:30:00Z",
}


@extend_schema_view(
    list=extend_schema(
        summary="List your conversations, most recently active first",
        examples=[
            OpenApiExample(
                "A page",
                description="Pages follow `next` and `previous`, opaque cursor links.",
                value=CONVERSATION_EXAMPLE,
                response_only=True,
            )
        ],
    ),
    retrieve=extend_schema(summary="A conversation"),
    create=extend_schema(
        summary="Start a conversation",
        responses={
            201: ConversationSerializer,
            400: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[400]),
        },
        examples=[
            OpenApiExample(
                "Model by its Ollama name",
                value={
                    "model": "llama3.2:3b",
                    "title": "Trip planning",
                    "system_prompt": "Answer in French.",
                },
                request_only=True,
            ),
            OpenApiExample("Created", value=CONVERSATION_EXAMPLE, response_only=True, status_codes=[201]),
            error_example(
                400,
                "invalid",
                "This model is not available.",
                {"model": ["No published model with this id or name."]},
            ),
        ],
    ),
    partial_update=extend_schema(
        summary="Change a conversation (title, system prompt, options, pin, archive, folder, model)",
        parameters=[IF_MATCH],
        responses=ConversationSerializer,
    ),
    move=extend_schema(
        summary="Move a conversation to a folder (or out of any)",
        parameters=[IF_MATCH],
        responses=ConversationSerializer,
    ),
    destroy=extend_schema(
        summary="Delete a conversation (to the trash)", parameters=[IF_MATCH], responses=NO_CONTENT
    ),
    usage=extend_schema(
        summary="Tokens and answers of this conversation by model and day", responses=UsageSerializer
    ),
    export=extend_schema(
        summary="Export a conversation",
        description="`?format=json` (default): lossless, every branch with feedback and notes. "
        "`?format=markdown`: the current branch as a readable document.",
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "markdown"])],
        responses={
            (200, "application/json"): ConversationExportSerializer,
            (200, "text/markdown"): OpenApiTypes.STR,
        },
    ),
)
class ConversationViewSet(OwnedResourceViewSet):
    """Your conversations, most recently active first, with filters; each with a published catalogue model,
    a system prompt (free text or a system message), default generation options, pin/archive and a
    folder. Updates honour `If-Match`; responses carry an `ETag`."""

    serializer_class = ConversationSerializer
    input_serializer_classes = {
        "create": ConversationCreateSerializer,
        "partial_update": ConversationUpdateSerializer,
        "move": ConversationMoveSerializer,
    }
    filterset_class = ConversationFilter
    pagination_class = LastActivityPagination

    def owned_queryset(self) -> QuerySet:
        return conversation_list(owner=self.request.user)

    def _reloaded(self, conversation) -> Conversation:
        """The conversation as the list shows it (with its labels)."""
        return self.get_queryset().get(pk=conversation.pk)

    def create(self, request) -> Response:
        conversation = services.conversation_create(owner=request.user, **self.validated_input())
        return self.respond(self._reloaded(conversation), status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None) -> Response:
        conversation = services.conversation_update(
            conversation=self.get_object(), expected_version=self.expected_version, **self.validated_input()
        )
        return self.respond(self._reloaded(conversation))

    @action(detail=True, methods=["post"])
    def move(self, request, pk=None) -> Response:
        return self.partial_update(request, pk)

    def destroy(self, request, pk=None) -> Response:
        services.conversation_soft_delete(
            conversation=self.get_object(), expected_version=self.expected_version
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["get"])
    def usage(self, request, pk=None) -> Response:
        conversation = self.get_object()
        rows = usage_by_model_and_day(owner=request.user, conversation_id=conversation.pk)
        return Response(UsageSerializer({"totals": usage_totals(rows), "by_model_and_day": rows}).data)

    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, MarkdownExportRenderer])
    def export(self, request, pk=None) -> Response:
        export = conversation_export(owner=request.user, conversation_id=pk)
        response = Response(ConversationExportSerializer.document(export))
        extension = "md" if request.accepted_renderer.format == "markdown" else "json"
        name = slugify(export.conversation.title)[:80] or f"conversation-{export.conversation.pk}"
        # Never None for an attachment (the stubs cannot tell).
        response["Content-Disposition"] = content_disposition_header(True, f"{name}.{extension}")  # type: ignore[assignment]
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400 and isinstance(
            getattr(response, "accepted_renderer", None), MarkdownExportRenderer
        ):
            # Errors keep the one JSON error shape, whatever format the export asked for.
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response
