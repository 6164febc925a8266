"""Serializers of the usage reports: date-range queries, usage per day, feedback per model, pages."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from conversations_app.selectors import PLATFORM_USAGE_GROUPS, PLATFORM_USAGE_MAX_DAYS

DEFAULT_USAGE_DAYS = 30


class DateRangeQuerySerializer(serializers.Serializer):
    """`date_from` and `date_to` (UTC days, both included), named as in every other date filter of
    the API; by default the last 30 days up to today."""

    date_from = serializers.DateField(
        required=False, help_text="First day (UTC), inclusive; default 29 days before `date_to`"
    )
    date_to = serializers.DateField(required=False, help_text="Last day (UTC), inclusive; default today")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("date_to") or timezone.now().date()
        if end == datetime.date.max:  # the range runs up to the midnight after `date_to`
            raise serializers.ValidationError(
                {"date_to": [f"Must be before {datetime.date.max.isoformat()}."]}
            )
        # By default the last 30 days, but none before the first day of the calendar.
        start = attrs.get("date_from") or end - datetime.timedelta(
            days=min(DEFAULT_USAGE_DAYS - 1, end.toordinal() - 1)
        )
        if start > end:
            raise serializers.ValidationError({"date_from": ["Must not be after `date_to`."]})
        if (end - start).days + 1 > PLATFORM_USAGE_MAX_DAYS:
            raise serializers.ValidationError(
                {"date_from": [f"The range is limited to {PLATFORM_USAGE_MAX_DAYS} days."]}
            )
        return {**attrs, "date_from": start, "date_to": end}


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


class UsageQuerySerializer(DateRangeQuerySerializer):
    group_by = serializers.ChoiceField(choices=sorted(PLATFORM_USAGE_GROUPS), default="model")


class PlatformUsageMeasuresSerializer(serializers.Serializer):
    messages = serializers.IntegerField(help_text="Answers generated (regenerated ones included)")
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.SerializerMethodField()
    tokens_per_second = serializers.SerializerMethodField(
        help_text="Average generation speed: tokens generated over generation time (null without data)"
    )

    def get_total_tokens(self, row: dict[str, Any]) -> int:
        return row["prompt_tokens"] + row["completion_tokens"]

    def get_tokens_per_second(self, row: dict[str, Any]) -> float | None:
        return _rounded(row["tokens_per_second"], 2)


class PlatformUsageTotalsSerializer(PlatformUsageMeasuresSerializer):
    users = serializers.IntegerField(help_text="Users with answers in the range")
    models = serializers.IntegerField(help_text="Models that answered in the range")


class PlatformUsageRowSerializer(PlatformUsageMeasuresSerializer):
    day = serializers.DateField()
    model = serializers.CharField(
        source="model_name", default=None, allow_null=True, help_text="With group_by=model; null otherwise"
    )
    user = serializers.SerializerMethodField(help_text="With group_by=user; null otherwise")

    def get_user(self, row: dict[str, Any]) -> dict[str, Any] | None:
        if "owner_id" not in row:
            return None
        return {"id": row["owner_id"], "username": row["owner__username"]}


class PageSerializer(serializers.Serializer):
    """The page-number pagination envelope (core.pagination.PageNumberPagination)."""

    count = serializers.IntegerField()
    total_pages = serializers.IntegerField()
    page = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class ReportPageSerializer(PageSerializer):
    """A page of a report over a range of days, which it names."""

    date_from = serializers.DateField(help_text="First day (UTC) of the report")
    date_to = serializers.DateField(help_text="Last day (UTC) of the report")


class PlatformUsageReportSerializer(ReportPageSerializer):
    group_by = serializers.CharField()
    totals = PlatformUsageTotalsSerializer()
    results = PlatformUsageRowSerializer(many=True)


class ModelFeedbackMeasuresSerializer(serializers.Serializer):
    up = serializers.IntegerField()
    down = serializers.IntegerField()
    total = serializers.IntegerField()
    up_ratio = serializers.SerializerMethodField(help_text="up / total (null without feedback)")

    def get_up_ratio(self, row: dict[str, Any]) -> float | None:
        return _rounded(row["up_ratio"], 4)


class ModelFeedbackRowSerializer(ModelFeedbackMeasuresSerializer):
    model = serializers.CharField(source="model_name")


class ModelFeedbackReportSerializer(ReportPageSerializer):
    totals = ModelFeedbackMeasuresSerializer()
    results = ModelFeedbackRowSerializer(many=True)
