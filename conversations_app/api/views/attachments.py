"""Attachment views: upload, list, download, delete."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from conversations_app import services
from conversations_app.api.serializers import (
    AttachmentDetailSerializer,
    AttachmentSerializer,
    AttachmentUploadSerializer,
)
from conversations_app.api.uploads import AttachmentMultiPartParser
from conversations_app.api.views.base import OwnedResourceViewSet
from conversations_app.selectors import attachment_list, conversation_get
from core.api import NO_CONTENT


class ServeAnyContent(BaseContentNegotiation):
    """A download answers with the file's own type whatever the Accept header; errors stay JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema_view(
    list=extend_schema(summary="List a conversation's attachments"),
    retrieve=extend_schema(
        summary="An attachment with its extracted text", responses=AttachmentDetailSerializer
    ),
    create=extend_schema(
        summary="Upload an attachment (multipart, field `file`)",
        description="PDF, DOCX, Markdown or UTF-8 text, or a PNG, JPEG, WebP or GIF image, decided by "
        "the content (415 otherwise); 413 beyond the size limit. An image needs a conversation whose "
        "model has vision (409 `model_without_vision` otherwise) and is sent to the model with the "
        "message that lists it in `images`; it has no text (`processing_status` is `done` at once). "
        "Text extraction runs in the background (`processing_status`).",
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
    ),
    destroy=extend_schema(summary="Delete an attachment", responses=NO_CONTENT),
    download=extend_schema(
        summary="Download an attachment's bytes",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    ),
)
class AttachmentViewSet(OwnedResourceViewSet):
    """Files attached to one of your conversations: PDF, DOCX, Markdown or UTF-8 text, or images for a
    model with vision, at most ATTACHMENT_MAX_BYTES, stored once per content; the text of documents
    is extracted in the background."""

    serializer_class = AttachmentSerializer
    input_serializer_classes = {"create": AttachmentUploadSerializer}
    parser_classes = [AttachmentMultiPartParser]

    def owned_queryset(self) -> QuerySet:
        return attachment_list(owner=self.request.user, conversation_id=self.kwargs["conversation_id"])

    def _conversation(self):
        return conversation_get(owner=self.request.user, conversation_id=self.kwargs["conversation_id"])

    def list(self, request, *args, **kwargs) -> Response:
        self._conversation()  # another user's conversation is a 404, not an empty list
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs) -> Response:
        return self.respond(self.get_object(), serializer_class=AttachmentDetailSerializer)

    def create(self, request, conversation_id=None) -> Response:
        conversation = self._conversation()  # before the body is read
        attachment = services.attachment_create(
            conversation=conversation, uploader=request.user, upload=self.validated_input()["file"]
        )
        return self.respond(attachment, status_code=status.HTTP_201_CREATED)

    def destroy(self, request, conversation_id=None, pk=None) -> Response:
        services.attachment_delete(attachment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["get"], content_negotiation_class=ServeAnyContent)
    def download(self, request, conversation_id=None, pk=None) -> FileResponse:
        attachment = self.get_object()
        content_type = attachment.content_type
        if content_type.startswith("text/"):
            content_type += "; charset=utf-8"
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.original_name,
            content_type=content_type,
        )
        response["ETag"] = f'"{attachment.sha256}"'
        response["Cache-Control"] = "private, max-age=0, must-revalidate"
        return response
