"""Serializers of the database reports: health, tables, connections, slow statements, migrations,
replication."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from admin_app.selectors.database import STATEMENT_ORDERINGS


class DatabaseHealthSerializer(serializers.Serializer):
    server_version = serializers.CharField()
    server_version_full = serializers.CharField()
    database = serializers.CharField()
    started_at = serializers.DateTimeField()
    uptime_seconds = serializers.IntegerField()
    size_bytes = serializers.IntegerField()
    size_pretty = serializers.CharField()
    in_recovery = serializers.BooleanField(help_text="true on a replica")
    max_connections = serializers.IntegerField()


class DatabaseTableSerializer(serializers.Serializer):
    schema = serializers.CharField()
    name = serializers.CharField()
    total_bytes = serializers.IntegerField(help_text="Table, indexes and TOAST")
    table_bytes = serializers.IntegerField()
    index_bytes = serializers.IntegerField()
    row_estimate = serializers.IntegerField(
        allow_null=True, help_text="pg_class.reltuples; null before ANALYZE"
    )
    live_tuples = serializers.IntegerField(allow_null=True)
    dead_tuples = serializers.IntegerField(allow_null=True)
    last_vacuum = serializers.DateTimeField(allow_null=True)
    last_analyze = serializers.DateTimeField(allow_null=True)


class ConnectionStateSerializer(serializers.Serializer):
    state = serializers.CharField(help_text="active, idle, idle in transaction, …")
    connections = serializers.IntegerField()
    waiting_on_locks = serializers.IntegerField()
    longest_transaction_seconds = serializers.FloatField(allow_null=True)


class ServerConnectionsSerializer(serializers.Serializer):
    client_connections = serializers.IntegerField(help_text="To every database of the server")
    max_connections = serializers.IntegerField()


class PoolSerializer(serializers.Serializer):
    configured = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True)
    stats = serializers.DictField(
        child=serializers.IntegerField(), allow_null=True, help_text="psycopg_pool's get_stats()"
    )


class DatabaseConnectionsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Client connections to this database")
    by_state = ConnectionStateSerializer(many=True)
    server = ServerConnectionsSerializer()
    pool = serializers.SerializerMethodField()

    @extend_schema_field(PoolSerializer)
    def get_pool(self, summary: Any) -> dict[str, Any]:
        if summary.pool is None:
            message = "No connection pool is configured for this process (DATABASES OPTIONS 'pool')."
            return {"configured": False, "message": message, "stats": None}
        return {"configured": True, "message": "", "stats": summary.pool}


class SlowStatementsQuerySerializer(serializers.Serializer):
    order_by = serializers.ChoiceField(choices=sorted(STATEMENT_ORDERINGS), default="mean")
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class SlowStatementSerializer(serializers.Serializer):
    query_id = serializers.CharField()
    query = serializers.CharField()
    calls = serializers.IntegerField()
    total_ms = serializers.FloatField()
    mean_ms = serializers.FloatField()
    max_ms = serializers.FloatField()
    rows = serializers.IntegerField()
    shared_blks_hit = serializers.IntegerField()
    shared_blks_read = serializers.IntegerField()


class SlowStatementsSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True)
    statements = SlowStatementSerializer(many=True)


class AppMigrationsSerializer(serializers.Serializer):
    app = serializers.CharField()
    applied = serializers.ListField(child=serializers.CharField())
    unapplied = serializers.ListField(child=serializers.CharField())


class DatabaseMigrationsSerializer(serializers.Serializer):
    applied_count = serializers.IntegerField()
    unapplied_count = serializers.IntegerField()
    apps = AppMigrationsSerializer(many=True)


class StandbySerializer(serializers.Serializer):
    application_name = serializers.CharField()
    client_addr = serializers.CharField(allow_null=True)
    state = serializers.CharField(allow_null=True, help_text="`streaming` once caught up")
    sync_state = serializers.CharField(allow_null=True)
    sent_lsn = serializers.CharField(allow_null=True)
    replay_lsn = serializers.CharField(allow_null=True)
    replay_lag_bytes = serializers.IntegerField(allow_null=True, help_text="WAL not replayed there yet")
    replay_lag_seconds = serializers.FloatField(
        allow_null=True, help_text="As the standby last reported; null once idle and caught up"
    )
    backend_start = serializers.DateTimeField(allow_null=True)


class ReplicaStatusSerializer(serializers.Serializer):
    alias = serializers.CharField(help_text="The database alias the read-only views read through")
    reachable = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True, help_text="Why it cannot be reached; empty when it can")
    in_recovery = serializers.BooleanField(allow_null=True, help_text="true: a standby, as it should be")
    receiver_status = serializers.CharField(
        allow_null=True, help_text="`streaming` while it follows the primary"
    )
    receive_lsn = serializers.CharField(allow_null=True)
    replay_lsn = serializers.CharField(allow_null=True)
    last_replayed_at = serializers.DateTimeField(
        allow_null=True, help_text="Commit time of the last transaction replayed"
    )
    lag_seconds = serializers.FloatField(allow_null=True, help_text="0 when all WAL received is replayed")
    lag_bytes = serializers.IntegerField(
        allow_null=True, help_text="WAL the primary has written that is not replayed yet"
    )


class DatabaseReplicationSerializer(serializers.Serializer):
    replica = ReplicaStatusSerializer(allow_null=True, help_text="null when no read replica is configured")
    standbys = StandbySerializer(many=True, help_text="The standbys streaming from the primary")
