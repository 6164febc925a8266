"""The PostgreSQL server as staff see it: health, tables, connections, slow statements, migrations,
replication.

Read-only SQL on PostgreSQL's catalogue and statistics views; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connection, connections, transaction
from django.db.migrations.loader import MigrationLoader

from core.db_router import replica_alias, replica_outage
from core.exceptions import DATABASE_ERRORS

HEALTH_SQL = """
SELECT current_setting('server_version') AS server_version,
       version() AS server_version_full,
       current_database() AS database,
       pg_postmaster_start_time() AS started_at,
       floor(extract(epoch FROM now() - pg_postmaster_start_time()))::bigint AS uptime_seconds,
       pg_database_size(current_database()) AS size_bytes,
       pg_size_pretty(pg_database_size(current_database())) AS size_pretty,
       pg_is_in_recovery() AS in_recovery,
       current_setting('max_connections')::int AS max_connections
"""

# Ordinary and partitioned tables of the application's schemas, largest first. `reltuples` is -1 for a
# table never vacuumed or analysed: no estimate yet.
TABLES_SQL = """
SELECT n.nspname AS schema,
       c.relname AS name,
       pg_total_relation_size(c.oid) AS total_bytes,
       pg_relation_size(c.oid) AS table_bytes,
       pg_indexes_size(c.oid) AS index_bytes,
       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS row_estimate,
       s.n_live_tup AS live_tuples,
       s.n_dead_tup AS dead_tuples,
       greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
       greatest(s.last_analyze, s.last_autoanalyze) AS last_analyze
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname !~ '^pg_toast'
 ORDER BY total_bytes DESC, schema, name
"""

CONNECTIONS_BY_STATE_SQL = """
SELECT coalesce(state, 'unknown') AS state,
       count(*)::int AS connections,
       count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS waiting_on_locks,
       round(extract(epoch FROM max(now() - xact_start))::numeric, 3)::float AS longest_transaction_seconds
  FROM pg_stat_activity
 WHERE datname = current_database() AND backend_type = 'client backend'
 GROUP BY 1
 ORDER BY 1
"""

SERVER_CONNECTIONS_SQL = """
SELECT count(*) FILTER (WHERE backend_type = 'client backend')::int AS client_connections,
       current_setting('max_connections')::int AS max_connections
  FROM pg_stat_activity
"""

STATEMENTS_EXTENSION_SQL = """
SELECT n.nspname AS schema
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'pg_stat_statements'
"""

STATEMENTS_SQL = """
SELECT s.queryid::text AS query_id,
       s.query,
       s.calls,
       round(s.total_exec_time::numeric, 3)::float AS total_ms,
       round(s.mean_exec_time::numeric, 3)::float AS mean_ms,
       round(s.max_exec_time::numeric, 3)::float AS max_ms,
       s.rows,
       s.shared_blks_hit,
       s.shared_blks_read
  FROM {schema}.pg_stat_statements s
 WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY s.{order} DESC, s.queryid
 LIMIT %s
"""

STATEMENT_ORDERINGS = {
    "mean": "mean_exec_time",
    "total": "total_exec_time",
    "max": "max_exec_time",
    "calls": "calls",
}

NOT_INSTALLED_MESSAGE = (
    "pg_stat_statements is not enabled in this database. Add it to shared_preload_libraries in "
    "postgresql.conf, restart PostgreSQL, then run CREATE EXTENSION pg_stat_statements; as a superuser."
)


# The primary's view of the standbys streaming from it (the details need a superuser or pg_monitor).
# `replay_lag` is what the standby last reported; PostgreSQL clears it once the standby is idle and
# caught up, so the bytes behind are computed too.
STANDBYS_SQL = """
SELECT application_name,
       client_addr::text AS client_addr,
       state,
       sync_state,
       sent_lsn::text AS sent_lsn,
       replay_lsn::text AS replay_lsn,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS replay_lag_bytes,
       extract(epoch FROM replay_lag)::float AS replay_lag_seconds,
       backend_start
  FROM pg_stat_replication
 ORDER BY application_name, pid
"""

# The replica's own view: how far it has received and replayed the primary's WAL. The time since the
# last replayed transaction is lag only while WAL is waiting to be replayed (an idle primary sends
# none, and the replica is then fully caught up however old that transaction is).
REPLICA_SQL = """
SELECT pg_is_in_recovery() AS in_recovery,
       (SELECT status FROM pg_stat_wal_receiver) AS receiver_status,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       pg_last_xact_replay_timestamp() AS last_replayed_at,
       CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
            ELSE greatest(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float
       END AS lag_seconds
"""

LAG_BYTES_SQL = "SELECT greatest(pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn), 0)::bigint AS lag_bytes"


def _rows(sql: str, params: Sequence[Any] | None = None, *, using: str = "default") -> list[dict[str, Any]]:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def database_health() -> dict[str, Any]:
    """Server version, start time and uptime, this database's size, whether it is a replica."""
    return _rows(HEALTH_SQL)[0]


def database_tables() -> list[dict[str, Any]]:
    """Every table with its total, heap and index size, row estimate (`reltuples`), live and dead
    tuples and last (auto)vacuum/analyze, largest first: one query, however many tables."""
    return _rows(TABLES_SQL)


@dataclass(frozen=True)
class ConnectionsSummary:
    """Client connections to this database by state, the server's limit, and the application's pool."""

    by_state: list[dict[str, Any]]
    server: dict[str, Any]
    pool: dict[str, int] | None = None

    @property
    def total(self) -> int:
        return sum(row["connections"] for row in self.by_state)


def connection_pool() -> Any:
    """The psycopg pool this process's connections come from (Django's `OPTIONS["pool"]`), or None."""
    return getattr(connection, "pool", None)


def database_connections() -> ConnectionsSummary:
    """`pg_stat_activity` summed by state for this database, the server's totals, and the psycopg pool's
    statistics when the pool is configured (None otherwise)."""
    pool = connection_pool()
    return ConnectionsSummary(
        by_state=_rows(CONNECTIONS_BY_STATE_SQL),
        server=_rows(SERVER_CONNECTIONS_SQL)[0],
        pool=dict(pool.get_stats()) if pool is not None else None,
    )


@dataclass(frozen=True)
class SlowStatements:
    """The statements that took longest (`pg_stat_statements`), or why they cannot be shown."""

    enabled: bool
    message: str = ""
    statements: list[dict[str, Any]] = field(default_factory=list)


def database_slow_statements(*, order_by: str = "mean", limit: int = 20) -> SlowStatements:
    """The `limit` statements of this database with the highest mean (or total, max) execution time, or
    the most calls. Not enabled when the extension is not installed here or cannot be read."""
    extension = _rows(STATEMENTS_EXTENSION_SQL)
    if not extension:
        return SlowStatements(enabled=False, message=NOT_INSTALLED_MESSAGE)
    sql = STATEMENTS_SQL.format(
        schema=connection.ops.quote_name(extension[0]["schema"]), order=STATEMENT_ORDERINGS[order_by]
    )
    try:
        with transaction.atomic():
            statements = _rows(sql, [limit])
    except DatabaseError as exc:
        # Installed but unusable, typically because the server does not preload the library.
        message = f"pg_stat_statements is installed but cannot be read: {str(exc).strip()}"
        return SlowStatements(enabled=False, message=message)
    return SlowStatements(enabled=True, statements=statements)


def database_migrations() -> list[dict[str, Any]]:
    """Per app, in dependency order: the migrations applied and those not applied yet."""
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    applied = loader.applied_migrations or {}
    plan: dict[tuple[str, str], None] = {}
    for leaf in loader.graph.leaf_nodes():
        plan.update(dict.fromkeys(loader.graph.forwards_plan(leaf)))
    apps: dict[str, dict[str, Any]] = {}
    for app_label, name in plan:
        entry = apps.setdefault(app_label, {"app": app_label, "applied": [], "unapplied": []})
        entry["applied" if (app_label, name) in applied else "unapplied"].append(name)
    return sorted(apps.values(), key=lambda entry: entry["app"])


@dataclass(frozen=True)
class ReplicationReport:
    """The read replica as this process reaches it (None without one), and the standbys the primary
    streams to."""

    replica: dict[str, Any] | None
    standbys: list[dict[str, Any]]


def _replica_status(alias: str) -> dict[str, Any]:
    """The replica's recovery state and lag (time, and bytes of WAL behind the primary), or why it
    cannot be read. An unreachable replica is also noted as an outage (core.db_router)."""
    try:
        status = _rows(REPLICA_SQL, using=alias)[0]
    except DATABASE_ERRORS as exc:
        replica_outage.record(exc, "replication report")
        return {"alias": alias, "reachable": False, "error": str(exc).strip().splitlines()[0]}
    lag_bytes = None
    if status["replay_lsn"] is not None:
        lag_bytes = _rows(LAG_BYTES_SQL, [status["replay_lsn"]])[0]["lag_bytes"]
    return {"alias": alias, "reachable": True, "error": "", **status, "lag_bytes": lag_bytes}


def database_replication() -> ReplicationReport:
    """The read replica's state and lag, and the primary's standbys (`pg_stat_replication`)."""
    alias = replica_alias()
    return ReplicationReport(
        replica=_replica_status(alias) if alias is not None else None, standbys=_rows(STANDBYS_SQL)
    )
