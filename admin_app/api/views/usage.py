"""Staff reports of usage: answers, tokens and speed per day; feedback per model."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from admin_app.api.serializers import (
    DateRangeQuerySerializer,
    ModelFeedbackMeasuresSerializer,
    ModelFeedbackReportSerializer,
    ModelFeedbackRowSerializer,
    PlatformUsageReportSerializer,
    PlatformUsageRowSerializer,
    PlatformUsageTotalsSerializer,
    UsageQuerySerializer,
)
from admin_app.api.views.base import AdminReportView
from conversations_app import selectors as conversation_selectors
from core.api import ReplicaReadsMixin, validated


class UsageView(ReplicaReadsMixin, AdminReportView):
    @extend_schema(
        summary="Answers, tokens and generation speed per day, by model or by user",
        parameters=[UsageQuerySerializer],
        responses=PlatformUsageReportSerializer,
    )
    def get(self, request: Request) -> Response:
        params = validated(UsageQuerySerializer, request.query_params)
        start, end, group_by = params["date_from"], params["date_to"], params["group_by"]
        totals = conversation_selectors.platform_usage_totals(start=start, end=end)
        return self.paginated(
            conversation_selectors.platform_usage_by_day(start=start, end=end, group_by=group_by),
            PlatformUsageRowSerializer,
            date_from=start,
            date_to=end,
            group_by=group_by,
            totals=PlatformUsageTotalsSerializer(totals).data,
        )


class FeedbackUsageView(ReplicaReadsMixin, AdminReportView):
    @extend_schema(
        summary="Feedback per model: thumbs up and down, and their ratio",
        parameters=[DateRangeQuerySerializer],
        responses=ModelFeedbackReportSerializer,
    )
    def get(self, request: Request) -> Response:
        params = validated(DateRangeQuerySerializer, request.query_params)
        start, end = params["date_from"], params["date_to"]
        totals = conversation_selectors.platform_feedback_totals(start=start, end=end)
        return self.paginated(
            conversation_selectors.platform_feedback_by_model(start=start, end=end),
            ModelFeedbackRowSerializer,
            date_from=start,
            date_to=end,
            totals=ModelFeedbackMeasuresSerializer(totals).data,
        )
