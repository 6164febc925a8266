"""Pieces the conversations admin pages share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib import admin
from django.contrib.postgres.search import SearchQuery
from django.db import transaction
from django.db.models.functions import Substr
from django.http import HttpRequest

from core.admin import preview

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise  # a development dependency

PREVIEW_CHARS = 80
NARROW_PREVIEW_CHARS = 50  # where two previews share a row of the list


class PurgeMixin:
    """A superuser's permanent delete goes through the purge service (files, rows the collector does
    not see), moving an alive row to the trash first."""

    if TYPE_CHECKING:  # provided by the SoftDeleteAdmin this is mixed into, and by each admin
        model: Any

        def soft_delete_object(self, request: HttpRequest, obj: Any) -> None: ...

        def purge_object(self, request: HttpRequest, obj: Any) -> None: ...

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            if obj.deleted_at is None:
                self.soft_delete_object(request, obj)
            self.purge_object(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for pk in list(queryset.values_list("pk", flat=True)):
                # Read each row afresh: purging a folder may already have taken later ones.
                obj = self.model.all_objects.filter(pk=pk).first()
                if obj is not None:
                    self.delete_model(request, obj)


class FullTextSearchMixin:
    """Search the message text through its generated `search_vector` (GIN index), not `ILIKE`."""

    # Typed as ModelAdmin's, which this is mixed into.
    search_fields: ClassVar[list[str] | tuple[str, ...]] = ("content",)
    search_help_text: ClassVar[StrOrPromise | None] = (
        'Full-text search of the message (words, "phrases", -excluded).'
    )

    def get_search_results(self, request, queryset, search_term: str):
        if not search_term.strip():
            return queryset, False
        query = SearchQuery(search_term, config="english", search_type="websearch")
        return queryset.filter(search_vector=query), False


class AnswerPreviewMixin:
    """A list column with the start of the answer, read by the list's own query."""

    def get_queryset(self, request):
        answer_start = Substr("response__content", 1, PREVIEW_CHARS + 1)
        return super().get_queryset(request).annotate(answer_start=answer_start)

    @admin.display(description="answer")
    def answer_preview(self, obj) -> str:
        return preview(obj.answer_start, NARROW_PREVIEW_CHARS)
