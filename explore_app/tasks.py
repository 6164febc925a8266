"""Background work of Explore: recomputing the leaderboard (periodically, and when staff ask)."""

from __future__ import annotations

from celery import shared_task

from explore_app import services


@shared_task(ignore_result=True)
def refresh_leaderboard() -> int:
    """Recompute and store every period's leaderboard (idempotent)."""
    return services.leaderboard_refresh()
