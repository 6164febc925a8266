"""Explore reads the catalogue through models_app's selectors; the one table it owns is the leaderboard
it computes from what people did (explore_app.services.leaderboard_refresh)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from core.models import BaseModel


class LeaderboardPeriod(models.TextChoices):
    WEEK = "7d", "Last 7 days"
    MONTH = "30d", "Last 30 days"
    ALL = "all", "All time"


class LeaderboardEntry(BaseModel):
    """A catalogue model's standing over a period, as last computed (see explore_app.rating): written
    whole by each refresh, read as is by the API."""

    Period = LeaderboardPeriod

    period = models.CharField(max_length=8, choices=LeaderboardPeriod.choices)
    model = models.ForeignKey(
        "models_app.AIModel", on_delete=models.CASCADE, related_name="leaderboard_entries"
    )
    # Positive by explore_leaderboard_rank_positive.
    rank = models.IntegerField(help_text="1 for the highest rating of the period")
    elo = models.FloatField()
    win_rate = models.FloatField(null=True, blank=True, help_text="Weighted wins over weighted comparisons")
    confidence_low = models.FloatField(null=True, blank=True)
    confidence_high = models.FloatField(null=True, blank=True)
    comparisons = models.PositiveIntegerField(default=0)
    thumbs_up = models.PositiveIntegerField(default=0)
    thumbs_down = models.PositiveIntegerField(default=0)
    self_comparisons = models.PositiveIntegerField(default=0)
    consistency = models.FloatField(
        null=True, blank=True, help_text="Share of same-model regenerations where the earlier answer was kept"
    )
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "leaderboard entries"
        constraints = [
            models.UniqueConstraint(fields=["period", "model"], name="explore_leaderboard_period_model_uniq"),
            models.UniqueConstraint(fields=["period", "rank"], name="explore_leaderboard_period_rank_uniq"),
            models.CheckConstraint(
                condition=Q(period__in=LeaderboardPeriod.values), name="explore_leaderboard_period_valid"
            ),
            models.CheckConstraint(condition=Q(rank__gt=0), name="explore_leaderboard_rank_positive"),
            models.CheckConstraint(
                condition=Q(win_rate__isnull=True) | Q(win_rate__gte=0, win_rate__lte=1),
                name="explore_leaderboard_win_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(confidence_low__isnull=True, confidence_high__isnull=True)
                | Q(confidence_low__gte=0, confidence_low__lte=F("confidence_high"), confidence_high__lte=1),
                name="explore_leaderboard_confidence_range",
            ),
            models.CheckConstraint(
                condition=Q(consistency__isnull=True) | Q(consistency__gte=0, consistency__lte=1),
                name="explore_leaderboard_consistency_range",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} ({self.period})"
