"""Small pieces the conversations services share: the "not given" marker and advisory locks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from django.db import connection, models, transaction

from core import services as core_services
from core.exceptions import PreconditionFailed

M = TypeVar("M", bound=models.Model)


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


def ensure_version(instance: Any, expected_version: int | None) -> None:
    """412 when the caller's `If-Match` names another version than the row has (None: no check)."""
    if expected_version is not None and instance.version != expected_version:
        raise PreconditionFailed()


def versioned_change(instance: M, *, fields: dict[str, Any], expected_version: int | None) -> M:
    """Write `fields` in one conditional UPDATE that bumps the version (412 when stale); with nothing
    to write, only check the version the caller read."""
    if not fields:
        ensure_version(instance, expected_version)
        return instance
    return core_services.versioned_update(instance, fields=fields, expected_version=expected_version)


def delete_if_current(instance: M, *, expected_version: int | None, delete: Callable[[M], M]) -> M:
    """Run `delete(instance)` once its row, locked, still has the version the caller read (412 if not)."""
    with transaction.atomic():
        ensure_version(core_services.lock_for_update(type(instance), instance.pk), expected_version)
        return delete(instance)
