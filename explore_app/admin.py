"""The stored leaderboard, for staff to look at (it is written only by its refresh)."""

from __future__ import annotations

from django.contrib import admin

from core.admin import BaseModelAdmin, ViewOnlyAdminMixin
from explore_app.models import LeaderboardEntry


@admin.register(LeaderboardEntry)
class LeaderboardEntryAdmin(ViewOnlyAdminMixin, BaseModelAdmin):
    list_display = ("period", "rank", "model", "elo", "win_rate", "comparisons", "thumbs_up", "thumbs_down")
    list_select_related = ("model",)
    list_filter = ("period",)
    search_fields = ("model__name",)
    ordering = ("period", "rank")
    actions = None

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
