"""Bases of the staff API's views (Admin role, page numbers with totals) and the schema bits they share."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from admin_app.api.serializers import TrashQuerySerializer
from core.api import ResourceViewSet
from core.pagination import PageNumberPagination
from core.permissions import IsAdminRole

WRITABLE = ["get", "post", "patch", "delete", "head", "options"]
TRASH_PARAMETERS = [TrashQuerySerializer]
UNREACHABLE = OpenApiResponse(description="Ollama is unreachable.")


class AdminViewSet(ResourceViewSet):
    """Base of the staff API's viewsets: Admin role, page numbers with totals."""

    permission_classes = [IsAdminRole]
    pagination_class: type[BasePagination] | None = PageNumberPagination
    http_method_names = ["get", "post", "put", "delete", "head", "options"]


class AdminReportView(GenericAPIView):
    """Base of the staff reports that are not rows of a table: Admin role, page numbers with totals."""

    permission_classes = [IsAdminRole]
    pagination_class = PageNumberPagination
    filter_backends: list = []

    def paginated(self, rows: Any, serializer_class: type[serializers.Serializer], **header: Any) -> Response:
        """A page of `rows` in the pagination envelope, after the `header` keys."""
        response = self.get_paginated_response(serializer_class(self.paginate_queryset(rows), many=True).data)
        response.data = {**header, **response.data}
        return response
