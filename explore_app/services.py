"""Writes of Explore: the leaderboard, recomputed from what people did (conversations_app's selectors)
and stored whole, one row per model and period, for the API to read as is."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from conversations_app.selectors import answer_preferences, feedback_by_model_and_user
from explore_app.models import LeaderboardEntry, LeaderboardPeriod
from explore_app.rating import Record, fit_ratings, tally, wilson_interval
from models_app.cache import catalogue_cache
from models_app.selectors import aimodel_by_names, normalise_model_name

PERIOD_DAYS: dict[str, int | None] = {
    LeaderboardPeriod.WEEK: 7,
    LeaderboardPeriod.MONTH: 30,
    LeaderboardPeriod.ALL: None,
}


def _period_entries(period: str, *, now: datetime.datetime) -> Iterable[dict[str, Any]]:
    """The rows of one period, best first, keyed by model name (not yet matched to the catalogue)."""
    days = PERIOD_DAYS[period]
    since = now - datetime.timedelta(days=days) if days is not None else None
    comparisons = [(p.user_id, p.winner, p.loser, p.kept_earlier) for p in answer_preferences(since=since)]
    votes = [
        (row["user_id"], row["model_name"], row["up"], row["down"])
        for row in feedback_by_model_and_user(since=since)
    ]
    records = tally(comparisons=comparisons, votes=votes)
    ratings = fit_ratings(records)
    for name, record in records.items():
        yield {"name": name, "elo": ratings[name], **_measures(record)}


def _measures(record: Record) -> dict[str, Any]:
    weight = record.wins + record.losses
    interval = wilson_interval(record.wins, weight)
    return {
        "win_rate": record.wins / weight if weight else None,
        "confidence_low": interval[0] if interval else None,
        "confidence_high": interval[1] if interval else None,
        "comparisons": record.comparisons,
        "thumbs_up": record.thumbs_up,
        "thumbs_down": record.thumbs_down,
        "self_comparisons": record.self_comparisons,
        "consistency": record.kept_earlier / record.self_comparisons if record.self_comparisons else None,
    }


def leaderboard_refresh(*, now: datetime.datetime | None = None) -> int:
    """Recompute every period's leaderboard and replace the stored one in one transaction; returns the
    number of rows written. Answers of models no longer in the catalogue are left out; the Explore cache
    is invalidated once the new rows are committed. Idempotent: the same data gives the same rows."""
    now = now or timezone.now()
    rows: list[LeaderboardEntry] = []
    for period in LeaderboardPeriod.values:
        entries = list(_period_entries(period, now=now))
        catalogue = aimodel_by_names(names=[entry["name"] for entry in entries])
        matched = []
        for entry in entries:
            model = catalogue.get(normalise_model_name(entry.pop("name")).lower())
            if model is not None:
                matched.append((model, entry))
        matched.sort(
            key=lambda item: (-item[1]["elo"], -item[1]["comparisons"], item[0].name, str(item[0].pk))
        )
        rows.extend(
            LeaderboardEntry(period=period, model=model, rank=rank, computed_at=now, **entry)
            for rank, (model, entry) in enumerate(matched, start=1)
        )
    with transaction.atomic():
        LeaderboardEntry.objects.all().delete()
        LeaderboardEntry.objects.bulk_create(rows)
        catalogue_cache.invalidate_on_commit()
    return len(rows)
