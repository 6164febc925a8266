"""Abstract base models: time-ordered UUID keys, timestamps, soft delete, optimistic version."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now
from uuid6 import uuid7

from core.querysets import AliveManager, AllObjectsManager


class UUIDModel(models.Model):
    """Primary key is a UUIDv7: unguessable, yet time-ordered so B-tree inserts stay local."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)

    class Meta:
        abstract = True


class TimeStampedModel(models.Model):
    """`created_at` / `updated_at`, also defaulted by the database for rows inserted by raw SQL."""

    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        abstract = True


class SoftDeleteModel(models.Model):
    """Soft-deletable row: `deleted_at` NULL means alive.

    `objects` hides deleted rows, `all_objects` sees all, and the base manager (used by forward
    relations, saves and the delete collector) stays Django's unfiltered default.
    """

    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = AliveManager()
    all_objects = AllObjectsManager()

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class VersionedModel(models.Model):
    """Integer `version` for optimistic concurrency (ETag / If-Match)."""

    version = models.PositiveIntegerField(default=1, db_default=1, editable=False)

    class Meta:
        abstract = True

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


class BaseModel(UUIDModel, TimeStampedModel):
    """UUID key + timestamps: the base of every table."""

    class Meta:
        abstract = True
