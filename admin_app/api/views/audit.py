"""Staff view of the audit trail: its events, newest first, with filters."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view

from admin_app.api.filters import AuditEventFilter
from admin_app.api.serializers import AuditEventSerializer
from admin_app.api.views.base import AdminViewSet
from admin_app.selectors import audit_event_list
from core.pagination import CursorPagination


@extend_schema_view(
    list=extend_schema(summary="The audit trail, newest first, with filters"),
    retrieve=extend_schema(summary="One audit event with the fields it changed"),
)
class AuditEventViewSet(AdminViewSet):
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = CursorPagination  # (created_at, id) descending, as the time index is built
    http_method_names = ["get", "head", "options"]

    def owned_queryset(self) -> QuerySet:
        return audit_event_list()
