"""Reads of Explore's own table: the stored leaderboard."""

from __future__ import annotations

from django.db.models import QuerySet

from explore_app.models import LeaderboardEntry


def leaderboard_entries(*, period: str, tag: str = "") -> QuerySet[LeaderboardEntry]:
    """The stored leaderboard of `period`, best first, of the published, alive models (of the alive tag
    with slug `tag`, when given), each with its model."""
    entries = LeaderboardEntry.objects.filter(
        period=period, model__is_active=True, model__deleted_at__isnull=True
    ).select_related("model")
    if tag:
        entries = entries.filter(
            model__model_tags__tag__slug=tag, model__model_tags__tag__deleted_at__isnull=True
        )
    return entries.order_by("rank")
