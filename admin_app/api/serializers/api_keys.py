"""Serializers of the staff API's API keys and API quotas, and the API usage report."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from admin_app.api.serializers.usage import ReportPageSerializer
from auth_app.api.serializers import ApiKeySerializer
from core.api import StrictKeysMixin

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


class StrictIntegerField(serializers.IntegerField):
    """A whole JSON number: strings, booleans and fractions are refused, not converted."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


def quota_field(maximum: int, help_text: str) -> StrictIntegerField:
    return StrictIntegerField(
        min_value=0, max_value=maximum, allow_null=True, required=False, help_text=help_text
    )


class UserApiQuotaSerializer(StrictKeysMixin, serializers.Serializer):
    """The user's API quotas: null returns to the default (API_KEY_*), 0 is unlimited; an absent
    field is left as it is."""

    requests_per_minute = quota_field(INT32_MAX, "Requests per minute; null: the default; 0: unlimited")
    tokens_per_day = quota_field(INT64_MAX, "Tokens per UTC day; null: the default; 0: unlimited")


class ApiKeyQuotaSerializer(StrictKeysMixin, serializers.Serializer):
    """The key's own limits: null returns the key to its owner's quotas, 0 is unlimited; an absent
    field is left as it is."""

    requests_per_minute = quota_field(INT32_MAX, "Requests per minute; null: the owner's; 0: unlimited")
    tokens_per_day = quota_field(INT64_MAX, "Tokens per UTC day; null: the owner's; 0: unlimited")


class ApiKeyOwnerSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()


class AdminApiKeySerializer(ApiKeySerializer):
    """A key as staff see it: the owner's view plus its owner and revocation (never the secret)."""

    user = ApiKeyOwnerSerializer(read_only=True)

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "user", "revoked_at"]
        read_only_fields = fields


class ApiUsageMeasuresSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    eval_tokens = serializers.IntegerField(help_text="Tokens generated")


class ApiUsageTotalsSerializer(ApiUsageMeasuresSerializer):
    users = serializers.IntegerField(help_text="Users with API use in the range")
    api_keys = serializers.IntegerField(help_text="Keys used in the range")


class ApiKeyRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField()


class ApiUsageRowSerializer(ApiUsageMeasuresSerializer):
    day = serializers.DateField()
    user = serializers.SerializerMethodField()
    api_key = serializers.SerializerMethodField(help_text="null: signed-in use without a key")

    @extend_schema_field(ApiKeyOwnerSerializer)
    def get_user(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"id": row["user_id"], "username": row["username"]}

    @extend_schema_field(ApiKeyRefSerializer(allow_null=True))
    def get_api_key(self, row: dict[str, Any]) -> dict[str, Any] | None:
        if row["api_key_id"] is None:
            return None
        return {"id": row["api_key_id"], "name": row["api_key_name"], "prefix": row["api_key_prefix"]}


class ApiUsageReportSerializer(ReportPageSerializer):
    totals = ApiUsageTotalsSerializer()
    results = ApiUsageRowSerializer(many=True)
