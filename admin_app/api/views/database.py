"""Staff reports on the PostgreSQL database: health, tables, connections, slow statements, migrations,
replication."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from admin_app import selectors
from admin_app.api.serializers import (
    DatabaseConnectionsSerializer,
    DatabaseHealthSerializer,
    DatabaseMigrationsSerializer,
    DatabaseReplicationSerializer,
    DatabaseTableSerializer,
    SlowStatementsQuerySerializer,
    SlowStatementsSerializer,
)
from admin_app.api.views.base import AdminReportView
from core.api import validated


class DatabaseHealthView(AdminReportView):
    @extend_schema(summary="PostgreSQL: version, uptime, database size", responses=DatabaseHealthSerializer)
    def get(self, request: Request) -> Response:
        return Response(DatabaseHealthSerializer(selectors.database_health()).data)


class DatabaseTablesView(AdminReportView):
    @extend_schema(
        summary="Tables by total size, with row estimates and dead tuples",
        responses=DatabaseTableSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return self.paginated(selectors.database_tables(), DatabaseTableSerializer)


class DatabaseConnectionsView(AdminReportView):
    @extend_schema(
        summary="Connections to this database by state, and the connection pool's statistics",
        responses=DatabaseConnectionsSerializer,
    )
    def get(self, request: Request) -> Response:
        return Response(DatabaseConnectionsSerializer(selectors.database_connections()).data)


class DatabaseSlowStatementsView(AdminReportView):
    @extend_schema(
        summary="Slowest statements (pg_stat_statements), or why they cannot be shown",
        parameters=[SlowStatementsQuerySerializer],
        responses=SlowStatementsSerializer,
    )
    def get(self, request: Request) -> Response:
        params = validated(SlowStatementsQuerySerializer, request.query_params)
        report = selectors.database_slow_statements(order_by=params["order_by"], limit=params["limit"])
        return Response(SlowStatementsSerializer(report).data)


class DatabaseMigrationsView(AdminReportView):
    @extend_schema(
        summary="Migrations applied and not applied yet, per app", responses=DatabaseMigrationsSerializer
    )
    def get(self, request: Request) -> Response:
        apps = selectors.database_migrations()
        report = {
            "applied_count": sum(len(app["applied"]) for app in apps),
            "unapplied_count": sum(len(app["unapplied"]) for app in apps),
            "apps": apps,
        }
        return Response(DatabaseMigrationsSerializer(report).data)


class DatabaseReplicationView(AdminReportView):
    @extend_schema(
        summary="Replication: the read replica's state and lag, and the primary's standbys",
        responses=DatabaseReplicationSerializer,
    )
    def get(self, request: Request) -> Response:
        return Response(DatabaseReplicationSerializer(selectors.database_replication()).data)
