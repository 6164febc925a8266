"""Changelist pieces: list filters, and the paginator and settings of tables that grow with usage."""

from __future__ import annotations

from django.contrib import admin
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


class DeletedFilter(ConditionFilter):
    title = "deleted"
    parameter_name = "deleted"

    def conditions(self):
        return {
            "no": ("Alive", models.Q(deleted_at__isnull=True)),
            "yes": ("Deleted", models.Q(deleted_at__isnull=False)),
        }


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
    scans the whole table; filtered or searched lists, and small tables, are counted exactly."""

    exact_below = 50_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if isinstance(queryset, models.QuerySet) and not queryset.query.where:
            estimate = table_row_estimate(queryset.model, using=queryset.db)
            if estimate >= self.exact_below:
                return estimate
        return queryset.count() if isinstance(queryset, models.QuerySet) else len(queryset)


class LargeTableAdminMixin:
    """Changelist settings for tables that grow with usage: no full count, estimated totals."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
