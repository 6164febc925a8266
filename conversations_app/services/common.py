"""Small pieces the conversations services share: the "not given" marker and advisory locks."""

from __future__ import annotations

from typing import Any, Final

from django.db import connection, transaction


class _Unset:
    """Marks a keyword argument the caller did not pass (None is a real value: "no folder")."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final[Any] = _Unset()


def advisory_xact_lock(key: str) -> None:
    """Hold a PostgreSQL advisory lock named `key` until the current transaction ends.

    For invariants no row lock covers: the shape of a user's folder tree, the one stored file of
    a SHA-256 that uploads and purges share.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("advisory_xact_lock must run inside transaction.atomic")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
