"""Tags, the model catalogue (Ollama library models) and system messages."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.text import slugify

from admin_app.demo_data.results import DemoDataResult
from admin_app.models import SystemMessage
from models_app import services as catalogue_services
from models_app.models import AIModel, Tag, size_label

SMALL_MODEL_PARAMETERS = 4_000_000_000
LARGE_MODEL_PARAMETERS = 30_000_000_000
# GGUF `general.file_type` numbers of the quantisation levels the catalogue uses.
GGUF_FILE_TYPES = {"F16": 1, "Q4_0": 2, "Q8_0": 7, "Q4_K_M": 15}
GGUF_QUANTIZATION_VERSION = 2

M = TypeVar("M", bound=models.Model)


def _existing_by_key(queryset: models.QuerySet, *key_fields: str) -> dict[str, Any]:
    """Rows of `queryset` (alive or in the trash) by each of their lower-cased `key_fields`; an
    alive row wins over deleted ones with the same key."""
    found: dict[str, Any] = {}
    for row in queryset.order_by(F("deleted_at").asc(nulls_first=True)):
        for key_field in key_fields:
            found.setdefault(str(getattr(row, key_field)).lower(), row)
    return found


def _validated(instance: M) -> M:
    """Field-level checks of a row built from the data file (the database checks the rest)."""
    instance.full_clean(validate_unique=False, validate_constraints=False)
    return instance


def tags_seed(*, specs: list[dict[str, str]], result: DemoDataResult) -> tuple[dict[str, Tag], set[Any]]:
    """Tags by their name in the data file (an existing tag matches by name or by slug), and the ids
    of those created now."""
    names = [spec["name"].lower() for spec in specs]
    existing = _existing_by_key(
        Tag.all_objects.annotate(name_ci=Lower("name")).filter(
            Q(name_ci__in=names) | Q(slug__in=[slugify(name) for name in names])
        ),
        "name_ci",
        "slug",
    )
    tags: dict[str, Tag] = {}
    new_ids: set[Any] = set()
    for spec in specs:
        tag = existing.get(spec["name"].lower()) or existing.get(slugify(spec["name"]))
        if tag is None:
            tag = catalogue_services.tag_create(name=spec["name"], description=spec["description"])
            new_ids.add(tag.pk)
        tags[spec["name"]] = tag
    result.record("tags", len(new_ids))
    return tags, new_ids


def _model_values(spec: dict[str, Any], families: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The entry's metadata over its family's (the family is the part of the name before the colon)."""
    return {**families[spec["name"].split(":")[0]], **spec}


def _tag_names(values: dict[str, Any]) -> list[str]:
    """The family's tags, the entry's extra ones, and "small" / "large" by parameter count."""
    names = [*values["tags"], *values.get("extra_tags", [])]
    if values["parameter_count"] < SMALL_MODEL_PARAMETERS:
        names.append("small")
    elif values["parameter_count"] >= LARGE_MODEL_PARAMETERS:
        names.append("large")
    return names


def _model_fields(values: dict[str, Any]) -> dict[str, Any]:
    """What `aimodel_create` is given for a catalogue entry: the data file's metadata plus what
    follows from it (size label, library link, GGUF file type)."""
    fields = {key: value for key, value in values.items() if key not in {"name", "tags", "extra_tags"}}
    return {
        **fields,
        "released_at": date.fromisoformat(fields["released_at"]),
        "size_label": size_label(fields["size"]),
        "reference_link": f"https://ollama.com/library/{values['name']}",
        "format": "gguf",
        "file_type": GGUF_FILE_TYPES[fields["quantization_level"]],
        "quantization_version": GGUF_QUANTIZATION_VERSION,
    }


def models_seed(
    *,
    families: dict[str, dict[str, Any]],
    specs: list[dict[str, Any]],
    tags: dict[str, Tag],
    new_tag_ids: set[Any],
    result: DemoDataResult,
) -> dict[str, AIModel]:
    """Published catalogue models by name, with their tags.

    A tag is attached only where the model or the tag is new, so a tag an operator took off a model
    stays off; deleted models and tags get no links.
    """
    existing = _existing_by_key(
        AIModel.all_objects.annotate(name_ci=Lower("name"))
        .filter(name_ci__in=[spec["name"].lower() for spec in specs])
        .only("id", "name", "is_active", "deleted_at"),
        "name_ci",
    )
    catalogue: dict[str, AIModel] = {}
    links = 0
    for spec in specs:
        values = _model_values(spec, families)
        alive_tags = [tags[name] for name in _tag_names(values) if tags[name].deleted_at is None]
        model = existing.get(spec["name"].lower())
        if model is None:
            tag_ids = [tag.pk for tag in alive_tags]
            model = catalogue_services.aimodel_create(
                name=spec["name"], is_active=True, tag_ids=tag_ids, **_model_fields(values)
            )
            result.record("models")
            links += len(tag_ids)
        elif model.deleted_at is None and (
            new_ids := [tag.pk for tag in alive_tags if tag.pk in new_tag_ids]
        ):
            links += len(catalogue_services.aimodel_tags_add(model=model, tag_ids=new_ids).added)
        catalogue[spec["name"]] = model
    result.record("model tags", links)
    return catalogue


def system_messages_seed(*, specs: list[dict[str, str]], result: DemoDataResult) -> dict[str, SystemMessage]:
    """System messages by name; an existing one (same name, any case) is left as it is."""
    existing = _existing_by_key(
        SystemMessage.all_objects.annotate(name_ci=Lower("name")).filter(
            name_ci__in=[spec["name"].lower() for spec in specs]
        ),
        "name_ci",
    )
    messages: dict[str, SystemMessage] = {}
    new: list[SystemMessage] = []
    for spec in specs:
        message = existing.get(spec["name"].lower())
        if message is None:
            message = _validated(SystemMessage(**spec))
            new.append(message)
        messages[spec["name"]] = message
    SystemMessage.objects.bulk_create(new)
    result.record("system messages", len(new))
    return messages
