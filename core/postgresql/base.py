"""Django's PostgreSQL backend, with django_prometheus's query metrics, whose connection pool throws
away every broken idle connection as soon as it meets one.

Django's pool (`OPTIONS["pool"]`, with `CONN_HEALTH_CHECKS`) checks a connection before handing it
out, but one at a time: after a PostgreSQL restart every idle connection is dead, and psycopg_pool
waits 1 s, then 2 s, before trying the next one, so a request meeting three of them times out. Here
a failed check makes the pool check all its idle connections at once (an empty query each, failing
at once on a closed socket); the dead ones are replaced in the background, and the request gets the
next good connection without waiting.

While PostgreSQL is known to be unreachable (a request failed on it less than CACHE_OUTAGE_COOLDOWN
seconds ago), a request waits for a pooled connection only `OUTAGE_POOL_TIMEOUT`, not DB_POOL_TIMEOUT:
under ASGI the synchronous views of a worker run one at a time, and each waiting the full timeout
would queue the others behind it. The pool keeps reconnecting in the background meanwhile, and the
first connection it gets is used at once. A read replica (core.db_router) does the same after its
own outage.
"""

from __future__ import annotations

from typing import Any

from django_prometheus.db.backends.postgresql.base import DatabaseWrapper as PrometheusDatabaseWrapper
from psycopg_pool import ConnectionPool

from core.postgresql.creation import DatabaseCreation
from core.postgresql.operations import DatabaseOperations

# Seconds a request waits for a pooled connection while PostgreSQL is known to be unreachable.
OUTAGE_POOL_TIMEOUT = 0.25


def check_connection(conn: Any) -> None:
    """psycopg_pool's check; on failure, the whole pool's idle connections are checked too."""
    try:
        ConnectionPool.check_connection(conn)
    except Exception:
        pool = getattr(conn, "_pool", None)  # set by the pool on the connection it is handing out
        if pool is not None:
            pool.check()
        raise


class DatabaseWrapper(PrometheusDatabaseWrapper):
    creation_class = DatabaseCreation
    ops_class = DatabaseOperations

    @property
    def pool(self) -> ConnectionPool | None:
        pool = super().pool
        # The pool is created closed on first use, with Django's check when CONN_HEALTH_CHECKS is on
        # (a `check` in OPTIONS["pool"] would clash with the one Django passes itself).
        if pool is not None and pool._check is ConnectionPool.check_connection:
            pool._check = check_connection
        return pool

    def in_outage(self) -> bool:
        """Whether this database failed lately: the primary's outage (a 503 for a while), or the read
        replica's (core.db_router), whose tries stay short for a minute after it failed."""
        # Imported here: a database backend is loaded while the apps are, before DRF can be imported.
        if self.settings_dict.get("REPLICA_OF"):
            from core.db_router import replica_outage

            return replica_outage.recent()
        from core.exceptions import database_outage

        return database_outage.active()

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        pool = self.pool
        if pool is not None and self.in_outage():
            # Fail fast (PoolTimeout, a 503) unless the pool has a connection again by now.
            pool.open()
            pool.putconn(pool.getconn(timeout=OUTAGE_POOL_TIMEOUT))
        return super().get_new_connection(conn_params)
