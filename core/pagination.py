"""Pagination: page numbers with totals (admin, catalogue) and cursors (conversations, messages, audit)."""

from __future__ import annotations

from rest_framework import pagination
from rest_framework.response import Response


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=&page_size=` with `count` and `total_pages`; page size capped."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "count": self.page.paginator.count,
                "total_pages": self.page.paginator.num_pages,
                "page": self.page.number,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        base = super().get_paginated_response_schema(schema)
        base["properties"]["total_pages"] = {"type": "integer", "example": 3}
        base["properties"]["page"] = {"type": "integer", "example": 1}
        return base


class CursorPagination(pagination.CursorPagination):
    """Opaque cursors: stable under inserts, constant cost at any depth."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")
