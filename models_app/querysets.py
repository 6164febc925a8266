"""Catalogue QuerySets."""

from __future__ import annotations

from typing import Self

from core.querysets import AliveManager, AllObjectsManager, SoftDeleteQuerySet


class AIModelQuerySet(SoftDeleteQuerySet):
    def published(self) -> Self:
        """Alive models that are published (visible in Explore and selectable for chat)."""
        return self.alive().filter(is_active=True)


class AIModelManager(AliveManager.from_queryset(AIModelQuerySet)):  # type: ignore[misc]
    """Alive models."""


class AllAIModelsManager(AllObjectsManager.from_queryset(AIModelQuerySet)):  # type: ignore[misc]
    """Every model, soft-deleted included."""
