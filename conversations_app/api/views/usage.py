"""Usage view of the caller."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from auth_app.selectors import api_usage_by_key_and_day
from conversations_app.api.serializers import UsageQuerySerializer, UserUsageSerializer
from conversations_app.selectors import usage_by_model_and_day, usage_totals
from core.api import ReplicaReadsMixin, validated

USER_DEFAULT_USAGE_DAYS = 30


class UserUsageView(ReplicaReadsMixin, APIView):
    """Your token usage across conversations."""

    @extend_schema(
        summary="Your tokens and answers by model and day, and your API use by key and day",
        description=f"Days are UTC; without `date_from` the last {USER_DEFAULT_USAGE_DAYS} days. Answers in "
        "the trash count (their tokens were spent); purged ones no longer do. `api_…`: requests and "
        "tokens through API keys and the compatible endpoints (revoked keys included).",
        parameters=[UsageQuerySerializer],
        responses=UserUsageSerializer,
    )
    def get(self, request) -> Response:
        params = validated(UsageQuerySerializer, request.query_params)
        until = params.get("date_to") or timezone.now().date()
        # By default the last days up to `until`, but none before the first day of the calendar.
        default_days = min(USER_DEFAULT_USAGE_DAYS - 1, until.toordinal() - 1)
        since = params.get("date_from") or until - timedelta(days=default_days)
        rows = usage_by_model_and_day(owner=request.user, since=since, until=until)
        api_rows = api_usage_by_key_and_day(user=request.user, since=since, until=until)
        api_totals = {
            measure: sum(row[measure] for row in api_rows)
            for measure in ("requests", "prompt_tokens", "eval_tokens")
        }
        return Response(
            UserUsageSerializer(
                {
                    "totals": usage_totals(rows),
                    "by_model_and_day": rows,
                    "api_totals": api_totals,
                    "api_by_key_and_day": api_rows,
                }
            ).data
        )
