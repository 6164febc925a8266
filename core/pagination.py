"""Pagination: page numbers with totals (admin, catalogue) and cursors (conversations, messages, audit)."""

from __future__ import annotations

import datetime

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from django.db.models.fields.related import RelatedField
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.response import Response


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=&page_size=` with `count` and `total_pages`; page size capped."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response(self, data) -> Response:
        assert self.page is not None  # set by paginate_queryset
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
    """Opaque cursors: stable under inserts, constant cost at any depth.

    A cursor comes from the client, so its position is checked against the column it is compared
    with: one that is not a value of that column, or an absurd offset (a forged or garbled cursor),
    is a 404 "Invalid cursor" like an undecodable cursor, never a database error.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering: str | list[str] | tuple[str, ...] = ("-created_at", "-id")

    def paginate_queryset(self, queryset, request, view=None):
        ordering = self.get_ordering(request, queryset, view)
        self.position_field = _model_field(queryset.model, ordering[0].lstrip("-"))
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request) -> pagination.Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is None:
            return None
        if cursor.offset >= self.offset_cutoff:
            # DRF caps the offset silently; ours count rows sharing one position, never this many.
            raise NotFound(self.invalid_cursor_message)
        if cursor.position is None:
            return cursor
        # The stubs type `Cursor.position` as int; DRF decodes it from the query string as a str.
        return cursor._replace(position=self.checked_position(cursor.position))  # type: ignore[arg-type]

    def checked_position(self, position: str) -> str:
        """`position` when it is a value of the ordering column; NotFound otherwise."""
        field = getattr(self, "position_field", None)
        try:
            if "\x00" in position:
                raise ValueError("NUL character")
            value = field.to_python(position) if field is not None else position
            if isinstance(value, datetime.datetime) and (value.tzinfo is None or value.utcoffset()):
                # Our cursors hold UTC. PostgreSQL takes offsets up to ±15:59 only, Python up to ±23:59.
                utc = value.replace(tzinfo=datetime.UTC) if value.tzinfo is None else value
                return str(utc.astimezone(datetime.UTC))
            return position
        except (ValidationError, ValueError, TypeError, OverflowError):
            raise NotFound(self.invalid_cursor_message) from None


def _model_field(model: type[models.Model], path: str) -> models.Field | None:
    """The field `path` (`a__b`) names from `model`; None for an annotation or a reverse relation."""
    field = None
    for name in path.split(LOOKUP_SEP):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        if field.is_relation:
            related_model = field.related_model
            if not isinstance(related_model, type) or not (field.many_to_one or field.one_to_one):
                return None
            model = related_model
    if isinstance(field, RelatedField | models.ForeignObjectRel):
        field = field.target_field  # a foreign key orders by the key itself
    return field if isinstance(field, models.Field) else None
