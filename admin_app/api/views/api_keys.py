"""Staff views of API keys and API use: every key with its owner and usage, a key's own limits,
revocation; the API usage report per day, user and key.

The services record each change in the audit trail (`api_key_quota_changed`, `api_key_revoked`).
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from admin_app.api.filters import ApiKeyFilter
from admin_app.api.serializers import (
    AdminApiKeySerializer,
    ApiKeyQuotaSerializer,
    ApiUsageReportSerializer,
    ApiUsageRowSerializer,
    ApiUsageTotalsSerializer,
    DateRangeQuerySerializer,
)
from admin_app.api.views.base import AdminReportView, AdminViewSet
from auth_app import selectors as account_selectors
from auth_app.models import ApiKey
from auth_app.services import api_keys as api_key_services
from core.api import NO_CONTENT, validated


@extend_schema_view(
    list=extend_schema(summary="List API keys (every user's, revoked ones too) with their use"),
    retrieve=extend_schema(summary="An API key with its owner and use"),
    quota=extend_schema(
        summary="Set an API key's own limits",
        description="null returns the key to its owner's quotas; 0 is unlimited; an absent field stays "
        "as it is. A key with its own limit is counted alone, not in its owner's budget. In the audit "
        "trail.",
        request=ApiKeyQuotaSerializer,
        responses=AdminApiKeySerializer,
    ),
    destroy=extend_schema(
        summary="Revoke an API key (refused from the next request on)", responses=NO_CONTENT
    ),
)
class ApiKeyAdminViewSet(AdminViewSet):
    serializer_class = AdminApiKeySerializer
    input_serializer_classes = {"quota": ApiKeyQuotaSerializer}
    filterset_class = ApiKeyFilter

    def owned_queryset(self) -> QuerySet[ApiKey]:
        return account_selectors.api_keys_for_admin()

    def get_object(self) -> ApiKey:
        return account_selectors.api_key_get_for_admin(key_id=self.kwargs["pk"])

    @action(detail=True, methods=["put"])
    def quota(self, request, pk=None) -> Response:
        key = api_key_services.api_key_quota_set(api_key=self.get_object(), **self.validated_input())
        return self.respond(account_selectors.api_key_get_for_admin(key_id=key.pk))

    def destroy(self, request, *args, **kwargs) -> Response:
        api_key_services.revoke_api_key(api_key=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiUsageView(AdminReportView):
    @extend_schema(
        summary="API use (API keys and the compatible endpoints) per day, user and key",
        description="Requests and tokens recorded per UTC day; `api_key` null is signed-in use without "
        "a key. Revoked keys keep their use.",
        parameters=[DateRangeQuerySerializer],
        responses=ApiUsageReportSerializer,
    )
    def get(self, request: Request) -> Response:
        params = validated(DateRangeQuerySerializer, request.query_params)
        start, end = params["date_from"], params["date_to"]
        return self.paginated(
            account_selectors.api_usage_report(start=start, end=end),
            ApiUsageRowSerializer,
            date_from=start,
            date_to=end,
            totals=ApiUsageTotalsSerializer(account_selectors.api_usage_totals(start=start, end=end)).data,
        )
