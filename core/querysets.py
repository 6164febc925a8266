"""Soft-delete QuerySet and managers shared by every soft-deletable model."""

from __future__ import annotations

from typing import Self

from django.db import models


class SoftDeleteQuerySet(models.QuerySet):
    """QuerySet that knows alive (deleted_at IS NULL) from deleted rows.

    `delete()` keeps its Django meaning (a hard delete); soft deletion is an explicit service.
    """

    def alive(self) -> Self:
        """Rows that are not soft-deleted."""
        return self.filter(deleted_at__isnull=True)

    def dead(self) -> Self:
        """Rows that are soft-deleted (the trash)."""
        return self.filter(deleted_at__isnull=False)


class AliveManager(models.Manager.from_queryset(SoftDeleteQuerySet)):  # type: ignore[misc]
    """Default manager: hides soft-deleted rows (reverse relations use it too)."""

    def get_queryset(self) -> SoftDeleteQuerySet:
        return super().get_queryset().alive()


class AllObjectsManager(models.Manager.from_queryset(SoftDeleteQuerySet)):  # type: ignore[misc]
    """Sees every row, alive or deleted (admin, trash, restore)."""
