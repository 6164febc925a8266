"""Reads go to the PostgreSQL read replica where that is safe; everything else to the primary.

`DATABASE_REPLICA_URL` adds the `replica` alias (config/settings/base.py): a hot standby that streaming
replication keeps a moment behind the primary. `ReplicaRouter` (DATABASE_ROUTERS) sends a read there
only when all of these hold:

- the code asked for it: a read-only view entered `reads_from_replica()` for a safe request
  (`ReplicaReadsMixin` in core.api does it for the selectors of lists, details, history, search,
  Explore and reports);
- no transaction is open on the primary: a read inside a write transaction must see that
  transaction's writes (and a test's transaction is one, so tests read the primary unless they ask);
- the request's user has not written in the last REPLICA_READ_YOUR_WRITES_SECONDS (read your own
  writes): `ReadYourWritesMiddleware` notes each write request of a signed-in user in Redis, with
  that TTL; when Redis cannot say, the primary is read;
- the replica is reachable: a failure to connect is remembered for CACHE_OUTAGE_COOLDOWN seconds,
  during which reads go to the primary without trying it, and the tries of the next minute wait at
  most `OUTAGE_POOL_TIMEOUT` for a connection (core.postgresql), so a replica that is down costs no
  request more than a fraction of a second and never an error while the primary answers.

Writes always go to the primary, rows read from the replica included. Migrations never run on the
replica: it receives the primary's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections

from core.cache import CACHE_ERRORS, Outage, outage
from core.db import replica_reads

logger = logging.getLogger(__name__)

# Seconds after a replica outage during which connecting to it waits only OUTAGE_POOL_TIMEOUT.
REPLICA_RECENT_OUTAGE_SECONDS = 60.0


class ReplicaOutage(Outage):
    """The replica's outage: while active, reads go to the primary without trying the replica."""

    def recent(self) -> bool:
        """True while active and for REPLICA_RECENT_OUTAGE_SECONDS afterwards."""
        return time.monotonic() < self._until + REPLICA_RECENT_OUTAGE_SECONDS


replica_outage = ReplicaOutage(
    name="read replica", fallback="reading from the primary for the next {cooldown:.0f} s", log=logger
)


def is_replica(alias: str) -> bool:
    """True for a database alias that is a read replica (`REPLICA_OF` names its primary)."""
    return bool(connections.settings.get(alias, {}).get("REPLICA_OF"))


def replica_alias() -> str | None:
    """The replica's alias when one is configured and replica reads are on, else None."""
    alias = getattr(settings, "DATABASE_REPLICA_ALIAS", "replica")
    if not getattr(settings, "DATABASE_REPLICA_READS", True) or alias not in connections.settings:
        return None
    return alias


def _wrote_key(user_id: Any) -> str:
    return f"replica:wrote:{user_id}"


def note_write(user_id: Any) -> None:
    """Remember that `user_id` has just written: their reads go to the primary for a few seconds."""
    seconds = float(settings.REPLICA_READ_YOUR_WRITES_SECONDS)
    if replica_alias() is None or seconds <= 0 or outage.active():
        return
    try:
        cache.set(_wrote_key(user_id), 1, timeout=seconds)
    except CACHE_ERRORS as exc:
        outage.record(exc, "note a write for read-your-writes")


def wrote_recently(user_id: Any) -> bool:
    """True when `user_id` wrote in the last REPLICA_READ_YOUR_WRITES_SECONDS, or Redis cannot say."""
    if float(settings.REPLICA_READ_YOUR_WRITES_SECONDS) <= 0:
        return False
    if outage.active():
        return True
    try:
        return cache.get(_wrote_key(user_id)) is not None
    except CACHE_ERRORS as exc:
        outage.record(exc, "read-your-writes check")
        return True


def replica_reads_allowed(user: Any = None) -> bool:
    """Whether reads made for `user` (None or anonymous: public data) may go to the replica."""
    if replica_alias() is None:
        return False
    if user is not None and getattr(user, "is_authenticated", False):
        return not wrote_recently(user.pk)
    return True


@contextmanager
def reads_from_replica(user: Any = None) -> Iterator[bool]:
    """Within the block, reads for `user` may go to the replica (the router decides each one); yields
    whether they may at all."""
    allowed = replica_reads_allowed(user)
    token = replica_reads.set(allowed)
    try:
        yield allowed
    finally:
        replica_reads.reset(token)


def _replica_for_read() -> str | None:
    """The replica's alias if this read may and can go there, else None (the primary)."""
    if not replica_reads.get():
        return None
    alias = replica_alias()
    if alias is None or connections[DEFAULT_DB_ALIAS].in_atomic_block or replica_outage.active():
        return None
    replica = connections[alias]
    if replica.connection is None:
        # Imported here: core.exceptions imports DRF, which the settings must not load.
        from core.exceptions import DATABASE_ERRORS

        try:
            replica.ensure_connection()
        except DATABASE_ERRORS as exc:
            replica_outage.record(exc, "connect")
            return None
    return alias


class ReplicaRouter:
    """Database router: reads to the replica when `_replica_for_read` allows, the rest to the primary."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return _replica_for_read() or DEFAULT_DB_ALIAS

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # A row read from the replica is the primary's row: relating it to one of the primary is fine.
        databases = {obj1._state.db, obj2._state.db}
        if databases <= {DEFAULT_DB_ALIAS, getattr(settings, "DATABASE_REPLICA_ALIAS", "replica")}:
            return True
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        return False if is_replica(db) else None
