"""Usage view of the caller."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations_app.api.serializers import UsageQuerySerializer, UsageSerializer
from conversations_app.selectors import usage_by_model_and_day, usage_totals
from core.api import ReplicaReadsMixin, validated

USER_DEFAULT_USAGE_DAYS = 30


class UserUsageView(ReplicaReadsMixin, APIView):
    """Your token usage across conversations."""

    @extend_schema(
        summary="Your tokens and answers by model and day",
        description=f"Days are UTC; without `date_from` the last {USER_DEFAULT_USAGE_DAYS} days. Answers in "
        "the trash count (their tokens were spent); purged ones no longer do.",
        parameters=[UsageQuerySerializer],
        responses=UsageSerializer,
    )
    def get(self, request) -> Response:
        params = validated(UsageQuerySerializer, request.query_params)
        until = params.get("date_to") or timezone.now().date()
        # By default the last days up to `until`, but none before the first day of the calendar.
        default_days = min(USER_DEFAULT_USAGE_DAYS - 1, until.toordinal() - 1)
        since = params.get("date_from") or until - timedelta(days=default_days)
        rows = usage_by_model_and_day(owner=request.user, since=since, until=until)
        return Response(UsageSerializer({"totals": usage_totals(rows), "by_model_and_day": rows}).data)
