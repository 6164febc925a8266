"""Operations of the project's backend: a flush with nothing to truncate does not connect."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.backends.postgresql.operations import DatabaseOperations as PostgresDatabaseOperations


class DatabaseOperations(PostgresDatabaseOperations):
    def execute_sql_flush(self, sql_list: Iterable[str]) -> None:
        # A read replica has no table to truncate (nothing migrates there; its primary's truncation
        # reaches it by replication): the test runner's flush between transactional tests must not
        # open a transaction on it, nor fail when it is down.
        statements = list(sql_list)
        if statements:
            super().execute_sql_flush(statements)
