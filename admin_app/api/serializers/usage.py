"""Serializers of the usage reports: date-range queries, usage per day, feedback per model, pages."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from conversations_app.selectors import PLATFORM_USAGE_GROUPS, PLATFORM_USAGE_MAX_DAYS

DEFAULT_USAGE_DAYS = 30


class FromFieldMixin:
    """Adds the field `from`: a Python keyword, so it cannot be declared as a class attribute."""

    from_field_kwargs: dict[str, Any] = {}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()  # type: ignore[misc]
        return {"from": serializers.DateField(**self.from_field_kwargs), **fields}


class DateRangeQuerySerializer(FromFieldMixin, serializers.Serializer):
    """`from` and `to` (UTC days, both included); by default the last 30 days up to today."""

    from_field_kwargs = {
        "required": False,
        "help_text": "First day (UTC), inclusive; default 29 days before `to`",
    }
    to = serializers.DateField(required=False, help_text="Last day (UTC), inclusive; default today")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("to") or timezone.now().date()
        if end == datetime.date.max:  # the range runs up to the midnight after `to`
            raise serializers.ValidationError({"to": [f"Must be before {datetime.date.max.isoformat()}."]})
        # By default the last 30 days, but none before the first day of the calendar.
        start = attrs.get("from") or end - datetime.timedelta(
            days=min(DEFAULT_USAGE_DAYS - 1, end.toordinal() - 1)
        )
        if start > end:
            raise serializers.ValidationError({"from": ["Must not be after `to`."]})
        if (end - start).days + 1 > PLATFORM_USAGE_MAX_DAYS:
            raise serializers.ValidationError(
                {"from": [f"The range is limited to {PLATFORM_USAGE_MAX_DAYS} days."]}
            )
        return {**attrs, "from": start, "to": end}


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


class ReportPageSerializer(FromFieldMixin, PageSerializer):
    """A page of a report over a range of days, which it names."""

    from_field_kwargs = {"help_text": "First day (UTC) of the report"}
    to = serializers.DateField(help_text="Last day (UTC) of the report")


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
