"""Platform usage for staff: answers, tokens and generation speed per day, by model or by user, and
feedback per model. Aggregated in SQL (one GROUP BY per report), over UTC days.

Every answer counts, regenerated ones and those in the trash included: the tokens were spent. The
generation speed is Ollama's `eval_count` over `eval_duration` summed over the answers that carry
both, in tokens per second.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from django.db.models import Count, F, FloatField, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Coalesce, NullIf, TruncDate

from conversations_app.models import AIResponse, Feedback

UsageGroup = Literal["model", "user"]
# The columns a report groups by, and its order within a day.
PLATFORM_USAGE_GROUPS: dict[str, tuple[str, ...]] = {
    "model": ("model_name",),
    "user": ("owner_id", "owner__username"),
}
PLATFORM_USAGE_ORDERINGS: dict[str, tuple[str, ...]] = {
    "model": ("model_name",),
    "user": ("owner__username", "owner_id"),
}
PLATFORM_USAGE_MAX_DAYS = 366
NANOSECONDS = 1_000_000_000


def _day_bounds(start: datetime.date, end: datetime.date) -> dict[str, datetime.datetime]:
    """`created_at` lookups for the UTC days from `start` to `end`, both included (index friendly)."""
    utc = datetime.UTC
    return {
        "created_at__gte": datetime.datetime.combine(start, datetime.time.min, tzinfo=utc),
        "created_at__lt": datetime.datetime.combine(
            end + datetime.timedelta(days=1), datetime.time.min, tzinfo=utc
        ),
    }


def _ratio(numerator: Any, denominator: Any, scale: float = 1.0) -> Any:
    """numerator * scale / denominator as a float in SQL; NULL when the denominator is 0 or NULL."""
    return Cast(numerator, FloatField()) * Value(scale) / NullIf(Cast(denominator, FloatField()), Value(0.0))


def _usage_measures() -> dict[str, Any]:
    timed = Q(eval_count__isnull=False, eval_duration__gt=0)
    return {
        "messages": Count("id"),
        "prompt_tokens": Coalesce(Sum("prompt_eval_count"), 0),
        "completion_tokens": Coalesce(Sum("eval_count"), 0),
        "tokens_per_second": _ratio(
            Sum("eval_count", filter=timed), Sum("eval_duration", filter=timed), scale=NANOSECONDS
        ),
    }


def _responses(start: datetime.date, end: datetime.date) -> QuerySet[AIResponse]:
    return AIResponse.all_objects.filter(**_day_bounds(start, end))


def platform_usage_by_day(*, start: datetime.date, end: datetime.date, group_by: UsageGroup) -> QuerySet:
    """One row per (UTC day, model name) or (UTC day, user): `day`, the group's key (`model_name`, or
    `owner_id` and `owner__username`), `messages` (answers), `prompt_tokens`, `completion_tokens` and
    `tokens_per_second` (NULL without timed answers). Oldest day first, then by the key."""
    keys = PLATFORM_USAGE_GROUPS[group_by]
    return (
        _responses(start, end)
        .annotate(day=TruncDate("created_at", tzinfo=datetime.UTC))
        .values("day", *keys)
        .annotate(**_usage_measures())
        .order_by("day", *PLATFORM_USAGE_ORDERINGS[group_by])
    )


def platform_usage_totals(*, start: datetime.date, end: datetime.date) -> dict[str, Any]:
    """The same measures over the whole range, with how many users and models had answers."""
    return _responses(start, end).aggregate(
        **_usage_measures(),
        users=Count("owner", distinct=True),
        models=Count("model_name", distinct=True),
    )


def _feedback(start: datetime.date, end: datetime.date) -> QuerySet[Feedback]:
    return Feedback.objects.filter(**_day_bounds(start, end))


def _feedback_measures() -> dict[str, Any]:
    return {
        "up": Count("id", filter=Q(rating=Feedback.Rating.UP)),
        "down": Count("id", filter=Q(rating=Feedback.Rating.DOWN)),
        "total": Count("id"),
    }


def platform_feedback_by_model(*, start: datetime.date, end: datetime.date) -> QuerySet:
    """Alive feedback given over the days, per model name of the rated answer: `up`, `down`, `total`
    and `up_ratio` (up / total), by model name."""
    return (
        _feedback(start, end)
        .values(model_name=F("response__model_name"))
        .annotate(**_feedback_measures())
        .annotate(up_ratio=_ratio(F("up"), F("total")))
        .order_by("model_name")
    )


def platform_feedback_totals(*, start: datetime.date, end: datetime.date) -> dict[str, Any]:
    """Feedback over the days, all models together."""
    totals = _feedback(start, end).aggregate(**_feedback_measures())
    totals["up_ratio"] = totals["up"] / totals["total"] if totals["total"] else None
    return totals
