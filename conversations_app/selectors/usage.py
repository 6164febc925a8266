"""Token and message usage, aggregated in SQL by model and by day (UTC)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from django.db.models import Count, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from conversations_app.models import AIResponse

if TYPE_CHECKING:
    from auth_app.models import User


def usage_by_model_and_day(
    *,
    owner: User,
    conversation_id: UUID | str | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
) -> list[dict]:
    """One row per (day, model): answers generated and tokens spent, oldest day first.

    Every answer counts, regenerated ones and those of conversations in the trash included: the
    tokens were spent. A purged conversation no longer counts.
    """
    responses = AIResponse.all_objects.filter(exchange__conversation__owner=owner)
    if conversation_id is not None:
        responses = responses.filter(exchange__conversation_id=conversation_id)
    if since is not None:
        responses = responses.filter(created_at__date__gte=since)
    if until is not None:
        responses = responses.filter(created_at__date__lte=until)
    rows = (
        responses.annotate(day=TruncDate("created_at"))
        .values("day", "model_name")
        .annotate(
            messages=Count("id"),
            prompt_tokens=Coalesce(Sum("prompt_eval_count"), Value(0)),
            completion_tokens=Coalesce(Sum("eval_count"), Value(0)),
        )
        .order_by("day", "model_name")
    )
    return [
        {
            "day": row["day"],
            "model": row["model_name"],
            "messages": row["messages"],
            "prompt_tokens": row["prompt_tokens"],
            "completion_tokens": row["completion_tokens"],
            "total_tokens": row["prompt_tokens"] + row["completion_tokens"],
        }
        for row in rows
    ]


def usage_totals(rows: list[dict]) -> dict:
    """Sum of the per-(day, model) rows."""
    keys = ("messages", "prompt_tokens", "completion_tokens", "total_tokens")
    return {key: sum(row[key] for row in rows) for key in keys}
