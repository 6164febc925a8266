"""Base of the resource views: the owner-scoped viewset with ETag/If-Match, cursor orders, schema bits."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from core.pagination import CursorPagination
from core.services import parse_if_match

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag last read (e.g. "3"); if the resource has changed since: 412, nothing written.',
)
NO_CONTENT = {204: OpenApiResponse(description="Done; no content.")}


class LastActivityPagination(CursorPagination):
    """Most recently active first; served by the partial index on (owner, last_message_at, id)."""

    ordering = ("-last_message_at", "-id")


class NamePagination(CursorPagination):
    ordering = ("name", "id")


class TrashPagination(CursorPagination):
    """Most recently deleted first."""

    ordering = ("-deleted_at", "-id")


class SpanPagination(CursorPagination):
    """Notes in the order of the text they highlight."""

    ordering = ("from_index", "id")


class ResourceViewSet(viewsets.GenericViewSet):
    """Base of the resource viewsets: the caller's rows come from a selector (`owned_queryset`), one
    output serializer (`serializer_class`) and one input serializer per writing action; `If-Match`
    is read for writes and every single-resource response carries the `ETag`."""

    input_serializer_classes: dict[str, type[serializers.Serializer]] = {}
    pagination_class = CursorPagination
    lookup_value_converter = "uuid"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def owned_queryset(self) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return self.serializer_class.Meta.model.objects.none()
        return self.owned_queryset()

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return self.input_serializer_classes.get(self.action, self.serializer_class)

    def validated_input(self) -> dict[str, Any]:
        serializer = self.get_serializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @property
    def expected_version(self) -> int | None:
        return parse_if_match(self.request.headers.get("If-Match"))

    def respond(
        self,
        instance: Any,
        *,
        status_code: int = status.HTTP_200_OK,
        serializer_class: type[serializers.Serializer] | None = None,
    ) -> Response:
        serializer = (serializer_class or self.serializer_class)(
            instance, context=self.get_serializer_context()
        )
        response = Response(serializer.data, status=status_code)
        if hasattr(instance, "etag"):
            response["ETag"] = instance.etag
        return response

    def list(self, request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        serializer = self.serializer_class(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)

    def retrieve(self, request, *args, **kwargs) -> Response:
        return self.respond(self.get_object())
