"""Writes on the catalogue: models, tags and the tags of a model; which models a role may use.

Every write invalidates the catalogue cache (Explore) once its transaction commits, and keeps each
model's denormalised `tag_names` (what full-text search weighs tags by) in step with its alive tags.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from django.contrib.postgres.aggregates import StringAgg
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from django.utils.text import slugify

from auth_app import selectors as account_selectors
from core import services as core_services
from core.exceptions import ValidationFailed
from models_app.cache import catalogue_cache
from models_app.models import AIModel, InstallStatus, ModelTag, RoleModelAccess, Tag
from models_app.selectors import normalise_model_name

# What callers may set on a model; publication, install state and tags have services of their own.
AIMODEL_EDITABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "model_version",
        "digest",
        "size",
        "size_label",
        "released_at",
        "reference_link",
        "image_url",
        "model_type",
        "format",
        "family",
        "families",
        "languages",
        "architecture",
        "parameter_size",
        "parameter_count",
        "context_length",
        "capabilities",
        "quantization_level",
        "quantization_version",
        "file_type",
        "license",
        "modelfile",
        "template",
        "parent_model",
    }
)


@dataclass(frozen=True)
class TagsChange:
    """Outcome of changing a model's tags: the tags `changed`, those `unchanged` (already as asked),
    and the given ids matching no alive tag."""

    changed: list[Tag] = field(default_factory=list)
    unchanged: list[Tag] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)


class TagsAdded(TagsChange):
    """Outcome of adding tags: `added`, `already_present`, `not_found`."""

    added = property(attrgetter("changed"))
    already_present = property(attrgetter("unchanged"))


class TagsRemoved(TagsChange):
    """Outcome of removing tags: `removed`, `not_present`, `not_found`."""

    removed = property(attrgetter("changed"))
    not_present = property(attrgetter("unchanged"))


def _check_fields(fields: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValidationFailed(fields={name: ["This field cannot be set here."] for name in unknown})


def _ensure_model_name_free(name: str, *, exclude_pk: uuid.UUID | None = None) -> None:
    taken = AIModel.objects.alias(lower_name=Lower("name")).filter(lower_name=name.lower())
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"name": ["A model with this name already exists."]})


def refresh_tag_names(model_ids: Iterable[uuid.UUID] | QuerySet) -> None:
    """Recompute `tag_names` (the names of alive tags, by name) of the given models in one UPDATE;
    the generated search vector follows."""
    names = (
        ModelTag.objects.filter(model=OuterRef("pk"), tag__deleted_at__isnull=True)
        .order_by()
        .values("model")
        .annotate(names=StringAgg("tag__name", delimiter=" ", order_by="tag__name"))
        .values("names")
    )
    AIModel.all_objects.filter(pk__in=model_ids).update(tag_names=Coalesce(Subquery(names), Value("")))


# --- models -------------------------------------------------------------------------------------------


def aimodel_create(
    *,
    name: str,
    owner: Any = None,
    is_active: bool = False,
    install_status: str = InstallStatus.NOT_INSTALLED,
    tag_ids: Iterable[uuid.UUID | str] = (),
    **fields: Any,
) -> AIModel:
    """Add a model to the catalogue (unpublished unless `is_active`), optionally with tags.

    `name` is normalised the way Ollama reads it (`mistral` → `mistral:latest`) and must be unique,
    case-insensitively, among alive models. Unknown tag ids are a validation error here.
    """
    _check_fields(fields, AIMODEL_EDITABLE_FIELDS - {"name"})
    name = normalise_model_name(name)
    model = AIModel(name=name, owner=owner, is_active=is_active, install_status=install_status, **fields)
    _ensure_model_name_free(name)
    model.full_clean()
    with transaction.atomic():
        model.save(force_insert=True)
        tag_ids = list(tag_ids)
        if tag_ids:
            outcome = _add_tags(model, tag_ids)
            if outcome.not_found:
                raise ValidationFailed(fields={"tag_ids": [f"Unknown tag: {t}" for t in outcome.not_found]})
            refresh_tag_names([model.pk])
        catalogue_cache.invalidate_on_commit()
    model.refresh_from_db()
    return model


def aimodel_update(*, model: AIModel, expected_version: int | None = None, **fields: Any) -> AIModel:
    """Change a model's attributes with one conditional UPDATE (412 when `expected_version`, the
    client's If-Match, is stale). Unchanged values are not written."""
    _check_fields(fields, AIMODEL_EDITABLE_FIELDS)
    if "name" in fields:
        fields["name"] = normalise_model_name(fields["name"])
    changed, candidate = core_services.changes_of(model, fields)
    if not changed:
        core_services.ensure_version(model, expected_version)
        return model
    if "name" in changed:
        _ensure_model_name_free(changed["name"], exclude_pk=model.pk)
    candidate.full_clean()
    with transaction.atomic():
        model = core_services.versioned_update(model, fields=changed, expected_version=expected_version)
        catalogue_cache.invalidate_on_commit()
    return model


def _set_published(model: AIModel, published: bool, expected_version: int | None) -> AIModel:
    core_services.ensure_alive(model)
    if model.is_active == published:
        core_services.ensure_version(model, expected_version)
        return model
    with transaction.atomic():
        model = core_services.versioned_update(
            model, fields={"is_active": published}, expected_version=expected_version
        )
        catalogue_cache.invalidate_on_commit()
    return model


def aimodel_publish(*, model: AIModel, expected_version: int | None = None) -> AIModel:
    """Show the model in Explore and allow chats with it (no-op when already published)."""
    return _set_published(model, True, expected_version)


def aimodel_unpublish(*, model: AIModel, expected_version: int | None = None) -> AIModel:
    """Hide the model from Explore and new chats (no-op when already unpublished)."""
    return _set_published(model, False, expected_version)


def aimodel_soft_delete(*, model: AIModel, expected_version: int | None = None) -> AIModel:
    """Move a model to the trash; its tag links stay, so a restore brings them back. 412 when
    `expected_version` (the client's If-Match) is stale."""
    with transaction.atomic():
        model = core_services.soft_delete(model, expected_version=expected_version)
        catalogue_cache.invalidate_on_commit()
    return model


def aimodel_restore(*, model: AIModel, expected_version: int | None = None) -> AIModel:
    """Bring a model back from the trash (409 when an alive model has taken its name since, 412 when
    `expected_version` is stale)."""
    with transaction.atomic():
        model = core_services.restore(model, expected_version=expected_version)
        catalogue_cache.invalidate_on_commit()
    return model


def aimodel_install_state_set(
    *, model: AIModel, status: str, progress: int | None = None, error: str = ""
) -> AIModel:
    """Record Ollama's install state of a model (pull progress, success, failure).

    Not a user edit, so `version` is not bumped (an admin's If-Match stays valid during a pull);
    the catalogue cache is invalidated only when the status itself changes.
    """
    if status not in InstallStatus.values:
        raise ValidationFailed(fields={"status": [f"Unknown install status {status!r}."]})
    if progress is None:
        progress = 100 if status == InstallStatus.INSTALLED else model.install_progress
    if not 0 <= progress <= 100:
        raise ValidationFailed(fields={"progress": ["Progress is a percentage between 0 and 100."]})
    status_changed = status != model.install_status
    with transaction.atomic():
        AIModel.all_objects.filter(pk=model.pk).update(
            install_status=status, install_progress=progress, install_error=error, updated_at=timezone.now()
        )
        if status_changed:
            catalogue_cache.invalidate_on_commit()
    model.refresh_from_db(fields=["install_status", "install_progress", "install_error", "updated_at"])
    return model


@dataclass(frozen=True)
class InstallSync:
    """What following the servers changed: names now installed, and names no longer installed."""

    installed: list[str] = field(default_factory=list)
    not_installed: list[str] = field(default_factory=list)


def aimodel_install_states_sync(*, installed_names: Iterable[str]) -> InstallSync:
    """Make the catalogue's install status follow what the Ollama servers hold: an alive model whose
    name is among `installed_names` becomes installed (it may have been pulled outside OllamaNet, or
    its failed pull retried by hand), an installed one that is not becomes not installed. Models being
    pulled are left to their pull. Two UPDATEs at most; the cache is invalidated when one changed rows.
    """
    wanted = {normalise_model_name(name).lower() for name in installed_names}
    rows = AIModel.objects.exclude(install_status=InstallStatus.PULLING).values_list(
        "pk", "name", "install_status"
    )
    gained = [
        (pk, name)
        for pk, name, status in rows
        if name.lower() in wanted and status != InstallStatus.INSTALLED
    ]
    lost = [
        (pk, name)
        for pk, name, status in rows
        if name.lower() not in wanted and status == InstallStatus.INSTALLED
    ]
    now = timezone.now()
    with transaction.atomic():
        if gained:
            AIModel.objects.filter(pk__in=[pk for pk, _ in gained]).exclude(
                install_status=InstallStatus.PULLING
            ).update(
                install_status=InstallStatus.INSTALLED, install_progress=100, install_error="", updated_at=now
            )
        if lost:
            AIModel.objects.filter(
                pk__in=[pk for pk, _ in lost], install_status=InstallStatus.INSTALLED
            ).update(install_status=InstallStatus.NOT_INSTALLED, install_progress=0, updated_at=now)
        if gained or lost:
            catalogue_cache.invalidate_on_commit()
    return InstallSync(
        installed=sorted(name for _, name in gained), not_installed=sorted(name for _, name in lost)
    )


# --- tags of a model ------------------------------------------------------------------------------


def _resolve_tags(tag_ids: Iterable[uuid.UUID | str]) -> tuple[list[Tag], list[str]]:
    """Alive tags for the given ids (in the given order, duplicates dropped) and the ids not found."""
    wanted: dict[uuid.UUID, str] = {}
    not_found: list[str] = []
    for raw in tag_ids:
        try:
            wanted.setdefault(uuid.UUID(str(raw)), str(raw))
        except ValueError:
            not_found.append(str(raw))
    found = Tag.objects.in_bulk(list(wanted))
    tags = [found[pk] for pk in wanted if pk in found]
    not_found.extend(text for pk, text in wanted.items() if pk not in found)
    return tags, not_found


def _add_tags(model: AIModel, tag_ids: Iterable[uuid.UUID | str]) -> TagsAdded:
    tags, not_found = _resolve_tags(tag_ids)
    present = set(ModelTag.objects.filter(model=model, tag__in=tags).values_list("tag_id", flat=True))
    added = [tag for tag in tags if tag.pk not in present]
    ModelTag.objects.bulk_create([ModelTag(model=model, tag=tag) for tag in added])
    return TagsAdded(changed=added, unchanged=[tag for tag in tags if tag.pk in present], not_found=not_found)


def _touch(model: AIModel) -> None:
    """A model's tag set changed: bump its version and timestamp like any other edit."""
    AIModel.all_objects.filter(pk=model.pk).update(version=F("version") + 1, updated_at=timezone.now())
    model.refresh_from_db(fields=["version", "updated_at", "tag_names"])


def aimodel_tags_add(
    *, model: AIModel, tag_ids: Iterable[uuid.UUID | str], expected_version: int | None = None
) -> TagsAdded:
    """Add alive tags to a model (412 when `expected_version` is stale); says which were added,
    already present, or not found."""
    with transaction.atomic():
        core_services.ensure_alive(
            core_services.lock_at_version(AIModel, model.pk, expected_version=expected_version)
        )
        outcome = _add_tags(model, tag_ids)
        if outcome.added:
            refresh_tag_names([model.pk])
            _touch(model)
            catalogue_cache.invalidate_on_commit()
    return outcome


def aimodel_tags_remove(
    *, model: AIModel, tag_ids: Iterable[uuid.UUID | str], expected_version: int | None = None
) -> TagsRemoved:
    """Remove tags from a model (412 when `expected_version` is stale); says which were removed,
    not present, or not found."""
    with transaction.atomic():
        core_services.ensure_alive(
            core_services.lock_at_version(AIModel, model.pk, expected_version=expected_version)
        )
        tags, not_found = _resolve_tags(tag_ids)
        links = ModelTag.objects.filter(model=model, tag__in=tags)
        present = set(links.values_list("tag_id", flat=True))
        links.delete()
        removed = [tag for tag in tags if tag.pk in present]
        if removed:
            refresh_tag_names([model.pk])
            _touch(model)
            catalogue_cache.invalidate_on_commit()
    return TagsRemoved(
        changed=removed, unchanged=[tag for tag in tags if tag.pk not in present], not_found=not_found
    )


# --- tags -----------------------------------------------------------------------------------------


def _validate_tag(tag: Tag) -> None:
    errors = core_services.field_errors(tag)
    if tag.name and not tag.slug:
        errors["slug"] = ["Give a slug: none can be made from this name."]
    alive = Tag.objects.exclude(pk=tag.pk)
    if tag.name and alive.alias(lower_name=Lower("name")).filter(lower_name=tag.name.lower()).exists():
        errors.setdefault("name", ["A tag with this name already exists."])
    if tag.slug and alive.filter(slug=tag.slug).exists():
        errors.setdefault("slug", ["A tag with this slug already exists."])
    if errors:
        raise ValidationError(errors)


def _tagged_model_ids(tag: Tag) -> QuerySet:
    return ModelTag.objects.filter(tag=tag).values("model_id")


def tag_create(*, name: str, slug: str = "", description: str = "") -> Tag:
    """Create a tag; the slug is made from the name unless given. Names are unique
    case-insensitively among alive tags, and so are slugs."""
    name = name.strip()
    tag = Tag(name=name, slug=slug.strip() or slugify(name), description=description)
    _validate_tag(tag)
    with transaction.atomic():
        tag.save(force_insert=True)
        catalogue_cache.invalidate_on_commit()
    return tag


def tag_update(
    *,
    tag: Tag,
    expected_version: int | None = None,
    name: str | None = None,
    slug: str | None = None,
    description: str | None = None,
) -> Tag:
    """Change a tag (412 when `expected_version` is stale); a rename reaches the search vectors of
    its models in the same transaction."""
    values = {"name": name.strip() if name is not None else None, "slug": slug, "description": description}
    changed, candidate = core_services.changes_of(tag, {k: v for k, v in values.items() if v is not None})
    if not changed:
        core_services.ensure_version(tag, expected_version)
        return tag
    _validate_tag(candidate)
    with transaction.atomic():
        tag = core_services.versioned_update(tag, fields=changed, expected_version=expected_version)
        if "name" in changed:
            refresh_tag_names(_tagged_model_ids(tag))
        catalogue_cache.invalidate_on_commit()
    return tag


def tag_soft_delete(*, tag: Tag, expected_version: int | None = None) -> Tag:
    """Move a tag to the trash: it disappears from Explore and from its models (whose links stay for
    a restore). 412 when `expected_version` is stale."""
    with transaction.atomic():
        tag = core_services.soft_delete(tag, expected_version=expected_version)
        refresh_tag_names(_tagged_model_ids(tag))
        catalogue_cache.invalidate_on_commit()
    return tag


def tag_restore(*, tag: Tag, expected_version: int | None = None) -> Tag:
    """Bring a tag back with its links (409 when an alive tag has taken its name or slug, 412 when
    `expected_version` is stale)."""
    with transaction.atomic():
        tag = core_services.restore(tag, expected_version=expected_version)
        refresh_tag_names(_tagged_model_ids(tag))
        catalogue_cache.invalidate_on_commit()
    return tag


# --- which models a role may use -----------------------------------------------------------------------


def _resolve_models(model_ids: Iterable[uuid.UUID | str]) -> tuple[list[AIModel], list[str]]:
    """Alive models (published or not) for the given ids, duplicates dropped, and the ids not found."""
    wanted: dict[uuid.UUID, str] = {}
    not_found: list[str] = []
    for raw in model_ids:
        try:
            wanted.setdefault(uuid.UUID(str(raw)), str(raw))
        except ValueError:
            not_found.append(str(raw))
    found = AIModel.objects.in_bulk(list(wanted))
    not_found.extend(text for pk, text in wanted.items() if pk not in found)
    return [found[pk] for pk in wanted if pk in found], not_found


def role_model_access_replace(
    *, role_id: Any, model_ids: Iterable[uuid.UUID | str], tag_ids: Iterable[uuid.UUID | str]
) -> tuple[list[AIModel], list[Tag]]:
    """Make the role's access entries exactly these models and tags (alive ones; unknown ids are a 400
    and nothing changes). Both empty lifts the restriction: the role may use every published model.

    The role's row is locked first, so two replacements of one role's list do not interleave. Only
    the entries that change are written; the audit trail records each one created or deleted (row
    triggers). Returns the role's models and tags as `role_model_access_get` does.
    """
    models, missing_models = _resolve_models(model_ids)
    tags, missing_tags = _resolve_tags(tag_ids)
    errors = {}
    if missing_models:
        errors["models"] = [f"No model has the id {value}." for value in missing_models]
    if missing_tags:
        errors["tags"] = [f"No tag has the id {value}." for value in missing_tags]
    if errors:
        raise ValidationFailed(fields=errors)
    with transaction.atomic():
        account_selectors.role_get_for_update(role_id=role_id)
        current = RoleModelAccess.objects.filter(role_id=role_id)
        wanted_models = {model.pk for model in models}
        wanted_tags = {tag.pk for tag in tags}
        current.exclude(model_id__in=wanted_models).exclude(tag_id__in=wanted_tags).delete()
        kept_models = set(current.filter(model__isnull=False).values_list("model_id", flat=True))
        kept_tags = set(current.filter(tag__isnull=False).values_list("tag_id", flat=True))
        RoleModelAccess.objects.bulk_create(
            [RoleModelAccess(role_id=role_id, model_id=pk) for pk in wanted_models - kept_models]
            + [RoleModelAccess(role_id=role_id, tag_id=pk) for pk in wanted_tags - kept_tags]
        )
    return sorted(models, key=attrgetter("name")), sorted(tags, key=attrgetter("name"))


def role_model_access_add(
    *, role_id: Any, model: AIModel | None = None, tag: Tag | None = None
) -> RoleModelAccess:
    """One access entry for the role: a model or a tag (exactly one); an existing one is returned as it
    is. 400 when neither or both are given."""
    if (model is None) == (tag is None):
        raise ValidationFailed(fields={"model": ["Choose a model or a tag, not both."]})
    with transaction.atomic():
        account_selectors.role_get_for_update(role_id=role_id)
        target = {"model": model} if model is not None else {"tag": tag}
        entry, _ = RoleModelAccess.objects.get_or_create(role_id=role_id, **target)
    return entry


def role_model_access_remove(*, entry_id: Any) -> None:
    """Remove one access entry (nothing when it is already gone). Removing a role's last entry lifts
    its restriction."""
    RoleModelAccess.objects.filter(pk=entry_id).delete()
