"""Changelist pieces: list filters, and the paginator and settings of tables that grow with usage."""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR
from django.core.paginator import Paginator
from django.db import connections, models
from django.utils.functional import cached_property


class ConditionFilter(admin.SimpleListFilter):
    """A list filter whose few choices each narrow the list by one condition."""

    def conditions(self) -> dict[str, tuple[str, models.Q]]:
        """Choice value -> (label, condition); evaluated per request (conditions may read the clock)."""
        raise NotImplementedError

    def lookups(self, request, model_admin):
        return [(value, label) for value, (label, _) in self.conditions().items()]

    def queryset(self, request, queryset):
        chosen = self.conditions().get(self.value() or "")
        return queryset.filter(chosen[1]) if chosen else queryset


class DeletedFilter(admin.SimpleListFilter):
    """Alive rows unless the trash (`?deleted=yes`) or everything (`?deleted=all`) is asked for."""

    title = "deleted"
    parameter_name = "deleted"
    TRASH, EVERYTHING = "yes", "all"

    def lookups(self, request, model_admin):
        return [(self.TRASH, "In the trash"), (self.EVERYTHING, "All")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Alive",
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        if self.value() == self.EVERYTHING:
            return queryset
        return queryset.filter(deleted_at__isnull=self.value() != self.TRASH)


def shows_deleted_rows(request) -> bool:
    """Whether the list asked for includes rows in the trash."""
    return request.GET.get(DeletedFilter.parameter_name) in (DeletedFilter.TRASH, DeletedFilter.EVERYTHING)


def table_row_estimate(model: type[models.Model], *, using: str = "default") -> int:
    """PostgreSQL's planner estimate of the rows in the model's table (-1 when never analysed)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [model._meta.db_table]
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else -1


class EstimatedCountPaginator(Paginator):
    """An unfiltered list of a big table takes PostgreSQL's row estimate instead of a `COUNT(*)` that
    scans the whole table; filtered or searched lists, and small tables, are counted exactly. A list
    the admin only narrowed by default (alive rows) counts as unfiltered: `unfiltered` says so."""

    exact_below = 50_000
    unfiltered = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if isinstance(queryset, models.QuerySet) and (self.unfiltered or not queryset.query.where):
            estimate = table_row_estimate(queryset.model, using=queryset.db)
            if estimate >= self.exact_below:
                return estimate
        return queryset.count() if isinstance(queryset, models.QuerySet) else len(queryset)


class LargeTableAdminMixin:
    """Changelist settings for tables that grow with usage: no full count, estimated totals."""

    show_full_result_count = False
    paginator: ClassVar[type] = EstimatedCountPaginator
    list_per_page = 50

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = super().get_paginator(  # type: ignore[misc]
            request, queryset, per_page, orphans, allow_empty_first_page
        )
        # Only ordering and the page number asked for: the list is the default one.
        paginator.unfiltered = not set(request.GET) - {ORDER_VAR, PAGE_VAR}
        return paginator
