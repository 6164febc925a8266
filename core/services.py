"""Service helpers shared by every app: optimistic-concurrency updates and soft delete/restore.

Lock order
----------
Every transaction that locks or updates more than one row takes its locks in this one order, so two
transactions wait for each other instead of deadlocking:

1. user (auth_app), then catalogue rows (models_app: model, tag) when a service locks them;
2. folder (parent before child), then conversation;
3. exchange, then response, then prompt;
4. feedback, note, attachment.

Within one kind, rows are taken in primary-key order (an UPDATE of many rows of one kind is one
statement). A cascade (soft delete, restore, purge) walks the same order from the row it starts at:
parents before children. `lock_for_update` is the way to take a row lock explicitly.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone

from core.exceptions import Conflict, NotFound, PreconditionFailed

M = TypeVar("M", bound=models.Model)


def parse_if_match(header: str | None) -> int | None:
    """`If-Match: "3"` (or W/"3", or 3) → 3; absent → None; anything else is a stale precondition."""
    if not header:
        return None
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not value.isdigit():
        raise PreconditionFailed('If-Match must carry the ETag of the resource, e.g. "3".')
    return int(value)


def ensure_version(instance: models.Model, expected_version: int | None) -> None:
    """412 when the caller's `If-Match` names another version than `instance` has (None: no check)."""
    if expected_version is not None and instance.version != expected_version:  # type: ignore[attr-defined]
        raise PreconditionFailed()


def versioned_update(instance: M, *, fields: Mapping[str, Any], expected_version: int | None = None) -> M:
    """Write `fields` to `instance` with one conditional UPDATE and bump its `version`.

    When `expected_version` is given and the row no longer has it, nothing is written and
    PreconditionFailed (412) is raised. The instance is refreshed with the new values.
    """
    model = type(instance)
    manager = model._base_manager
    lookup: dict[str, Any] = {"pk": instance.pk}
    if expected_version is not None:
        lookup["version"] = expected_version
    values = dict(fields)
    values["version"] = F("version") + 1
    if any(f.name == "updated_at" for f in model._meta.concrete_fields):
        values["updated_at"] = timezone.now()
    updated = manager.filter(**lookup).update(**values)
    if updated == 0:
        if not manager.filter(pk=instance.pk).exists():
            raise NotFound()
        raise PreconditionFailed()
    instance.refresh_from_db(
        fields=[*fields.keys(), "version", *(["updated_at"] if "updated_at" in values else [])]
    )
    return instance


def field_errors(instance: models.Model) -> dict[str, list[str]]:
    """What the model's field rules say against `instance`, by field (empty when it passes).
    Uniqueness and constraints are the caller's explicit checks and, in a race, the database's."""
    try:
        instance.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        return dict(exc.message_dict)
    return {}


def changes_of(instance: M, values: Mapping[str, Any]) -> tuple[dict[str, Any], M]:
    """The `values` that differ from `instance`, and an unsaved copy of it carrying them, to validate
    before anything is written."""
    changed = {name: value for name, value in values.items() if getattr(instance, name) != value}
    candidate = copy.copy(instance)
    for name, value in changed.items():
        setattr(candidate, name, value)
    return changed, candidate


def versioned_change(instance: M, *, fields: Mapping[str, Any], expected_version: int | None = None) -> M:
    """`versioned_update` of what the caller changes; with nothing to write, only the version the
    caller read is checked (412 when stale) and nothing is bumped."""
    if not fields:
        ensure_version(instance, expected_version)
        return instance
    return versioned_update(instance, fields=fields, expected_version=expected_version)


def soft_delete_rows(querysets: Iterable[models.QuerySet], *, at: datetime.datetime) -> None:
    """Mark alive rows of each queryset deleted at the same instant `at` (one UPDATE each).

    Sharing one timestamp is how a restore later tells what a cascade took from rows that had
    been deleted on their own before.
    """
    for queryset in querysets:
        queryset.filter(deleted_at__isnull=True).update(deleted_at=at)


def restore_rows(querysets: Iterable[models.QuerySet], *, at: datetime.datetime) -> None:
    """Bring back the rows of each queryset that were deleted at exactly `at` (by the cascade)."""
    for queryset in querysets:
        queryset.filter(deleted_at=at).update(deleted_at=None)


def lock_for_update(model: type[M], pk: Any) -> M:
    """Lock one row (alive or not) inside the current transaction; NotFound if it does not exist."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_for_update must run inside transaction.atomic")
    try:
        return model._base_manager.select_for_update().get(pk=pk)
    except ObjectDoesNotExist as exc:
        raise NotFound() from exc


def lock_at_version(model: type[M], pk: Any, *, expected_version: int | None) -> M:
    """Lock one row inside the current transaction and hold the client's If-Match against it:
    PreconditionFailed (412) when the row has changed since the client read it."""
    locked = lock_for_update(model, pk)
    ensure_version(locked, expected_version)
    return locked


def ensure_deleted(instance: models.Model) -> None:
    if instance.deleted_at is None:  # type: ignore[attr-defined]
        raise Conflict("This item is not in the trash.", code="not_deleted")


def ensure_alive(instance: models.Model) -> None:
    if instance.deleted_at is not None:  # type: ignore[attr-defined]
        raise Conflict("This item is already deleted.", code="already_deleted")


RelatedRows = Callable[[M], Iterable[models.QuerySet]]


def _no_related(instance: models.Model) -> Iterable[models.QuerySet]:
    return ()


def _bump_fields(model: type[models.Model]) -> dict[str, Any]:
    names = {f.name for f in model._meta.concrete_fields}
    values: dict[str, Any] = {}
    version = model._meta.get_field("version") if "version" in names else None
    if isinstance(version, models.Field) and version.default == 1:
        values["version"] = F("version") + 1
    if "updated_at" in names:
        values["updated_at"] = timezone.now()
    return values


def soft_delete(
    instance: M, *, related: RelatedRows[M] = _no_related, expected_version: int | None = None
) -> M:
    """Soft-delete `instance` and, at the same instant, the alive rows `related(instance)` yields.

    One transaction; the row is locked first so two deletes cannot interleave, and held against the
    caller's If-Match (`expected_version`: 412 when stale).
    """
    model = type(instance)
    with transaction.atomic():
        locked = lock_at_version(model, instance.pk, expected_version=expected_version)
        ensure_alive(locked)
        at = timezone.now()
        model._base_manager.filter(pk=instance.pk).update(deleted_at=at, **_bump_fields(model))
        soft_delete_rows(related(locked), at=at)
    instance.refresh_from_db()
    return instance


def restore(instance: M, *, related: RelatedRows[M] = _no_related, expected_version: int | None = None) -> M:
    """Restore `instance` and exactly the rows its soft delete took with it (412 when
    `expected_version`, the caller's If-Match, is stale).

    Rows deleted on their own earlier carry another timestamp and stay in the trash. When an alive
    row has taken the name since, the database refuses and Conflict (409) says so.
    """
    model = type(instance)
    with transaction.atomic():
        locked = lock_at_version(model, instance.pk, expected_version=expected_version)
        ensure_deleted(locked)
        at = locked.deleted_at  # type: ignore[attr-defined]
        try:
            with transaction.atomic():
                model._base_manager.filter(pk=instance.pk).update(deleted_at=None, **_bump_fields(model))
                restore_rows(related(locked), at=at)
        except IntegrityError as exc:
            raise Conflict(
                f"This {model._meta.verbose_name} cannot be restored: another one with the same name "
                "exists now. Rename or delete that one first.",
                code="restore_conflict",
            ) from exc
    instance.refresh_from_db()
    return instance
