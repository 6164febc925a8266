"""Test databases of the project's backend: a read replica has none of its own.

A physical replica (an alias with `REPLICA_OF`) is a copy of its primary's whole cluster, and is read
only: the test database the runner creates on the primary appears on the replica by replication, and
goes away with it. So for a replica the runner only points the alias at that database's name, and
creates, migrates and drops nothing there; flushes between transactional tests find no table to
truncate on it (core.db_router: nothing migrates on a replica), and neither they nor the restore of
a `serialized_rollback` touch it: the primary's reach it by replication.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.postgresql.creation import DatabaseCreation as PostgresDatabaseCreation


class DatabaseCreation(PostgresDatabaseCreation):
    def _primary_alias(self) -> str | None:
        return self.connection.settings_dict.get("REPLICA_OF")

    def _use_database(self, name: str) -> None:
        self.connection.close()
        self.connection.close_pool()  # type: ignore[attr-defined]  # (PostgreSQL's wrapper has one)
        settings.DATABASES[self.connection.alias]["NAME"] = name
        self.connection.settings_dict["NAME"] = name

    def create_test_db(
        self, verbosity: int = 1, autoclobber: bool = False, serialize: bool = True, keepdb: bool = False
    ) -> str:
        primary = self._primary_alias()
        if primary is None:
            return super().create_test_db(verbosity, autoclobber, serialize, keepdb)
        name = connections[primary].creation._get_test_db_name()  # type: ignore[attr-defined]
        if verbosity >= 1:
            self.log(
                f"Using the test database of {primary!r} through its replica {self.connection.alias!r}..."
            )
        self._use_database(name)
        return name

    def destroy_test_db(
        self,
        old_database_name: str | None = None,
        verbosity: int = 1,
        keepdb: bool = False,
        suffix: Any = None,
    ) -> None:
        if self._primary_alias() is None:
            return super().destroy_test_db(old_database_name, verbosity, keepdb, suffix)
        if old_database_name is not None:
            self._use_database(old_database_name)
        return None

    def serialize_db_to_string(self) -> str:
        if self._primary_alias() is None:
            return super().serialize_db_to_string()
        return ""

    def deserialize_db_from_string(self, data: str) -> None:
        if self._primary_alias() is None:
            super().deserialize_db_from_string(data)
