"""Staff writes on the catalogue beyond models_app's services: a model made from what Ollama knows of
it (`/api/show` and `/api/tags`).

The catalogue rows are written by models_app's services only; each change of a row leaves one audit
event by itself (core.audit).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from core.ollama import OllamaClient, pool
from models_app import services as catalogue
from models_app.models import AIModel, InstallStatus, ModelType, size_label
from models_app.selectors import normalise_model_name

# Ollama's capabilities (`/api/show`) → the catalogue's model type, the first that applies.
CAPABILITY_MODEL_TYPES = (
    ("embedding", ModelType.EMBEDDING),
    ("vision", ModelType.VISION),
    ("thinking", ModelType.REASONING),
)


def _text(value: Any, field_name: str) -> str:
    """Ollama's string for a catalogue column, cut to the column's length (a list is joined)."""
    if isinstance(value, list):
        value = "\n\n".join(str(item) for item in value)
    text = "" if value is None else str(value)
    field = AIModel._meta.get_field(field_name)
    max_length = field.max_length if isinstance(field, models.Field) else None
    return text[:max_length] if max_length else text


def _count(value: Any) -> int | None:
    """A non-negative integer from Ollama's model_info, None when it is not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _capabilities(capabilities: Any) -> list[str]:
    """Ollama's capability names, as the catalogue keeps them (strings, each once, in order)."""
    if not isinstance(capabilities, list):
        return []
    names = [str(name)[:50] for name in capabilities if isinstance(name, str) and name]
    return list(dict.fromkeys(names))


def _model_type(capabilities: Any) -> str:
    names = set(capabilities or ())
    for capability, model_type in CAPABILITY_MODEL_TYPES:
        if capability in names and (capability != "embedding" or "completion" not in names):
            return model_type
    return ModelType.CHAT


def ollama_model_fields(show: Mapping[str, Any], listing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The catalogue fields described by Ollama's `/api/show` answer for a model, and by its entry in
    `/api/tags` (size and digest) when given."""
    details = show.get("details") or {}
    info = show.get("model_info") or {}
    families = details.get("families") or []
    fields: dict[str, Any] = {
        "format": _text(details.get("format"), "format"),
        "family": _text(details.get("family"), "family"),
        "families": [str(family)[:100] for family in families if family],
        "parameter_size": _text(details.get("parameter_size"), "parameter_size"),
        "quantization_level": _text(details.get("quantization_level"), "quantization_level"),
        "parent_model": _text(details.get("parent_model"), "parent_model"),
        "architecture": _text(info.get("general.architecture"), "architecture"),
        "parameter_count": _count(info.get("general.parameter_count")),
        "context_length": _count(info.get(f"{info.get('general.architecture')}.context_length")),
        "quantization_version": _count(info.get("general.quantization_version")),
        "file_type": _count(info.get("general.file_type")),
        "license": _text(show.get("license"), "license"),
        "template": _text(show.get("template"), "template"),
        "modelfile": _text(show.get("modelfile"), "modelfile"),
        "model_type": _model_type(show.get("capabilities")),
        "capabilities": _capabilities(show.get("capabilities")),
    }
    if listing:
        size = _count(listing.get("size"))
        fields.update(
            size=size,
            size_label=size_label(size) if size is not None else "",
            digest=_text(listing.get("digest"), "digest"),
        )
    return fields


def ollama_listing_entry(models: Iterable[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    """The entry of `/api/tags` for this model name (compared as Ollama reads names), if any."""
    wanted = normalise_model_name(name).lower()
    for entry in models:
        names = {str(entry.get(key) or "") for key in ("name", "model")}
        if wanted in {normalise_model_name(n).lower() for n in names if n}:
            return entry
    return None


def aimodel_create_from_ollama(
    *,
    name: str,
    owner: Any = None,
    description: str = "",
    is_active: bool = False,
    tag_ids: Iterable[uuid.UUID | str] = (),
) -> AIModel:
    """Add a model Ollama has installed to the catalogue, described by Ollama's `/api/show` (format,
    family, parameters, quantization, architecture, license, template, Modelfile, parent model) and
    `/api/tags` (size, digest).

    ServiceUnavailable (503) when Ollama is unreachable, Conflict (409) when it does not have the
    model; nothing is written then. The name must be free in the catalogue (400 otherwise).
    """
    name = normalise_model_name(name)
    holders = pool.refresh_servers().holders(name)  # a server that has it, by the last check
    with OllamaClient(holders[0] if holders else pool.server_urls()[0]) as client:
        show = client.show(name)
        listing = ollama_listing_entry(client.tags(), name)
    return catalogue.aimodel_create(
        name=name,
        owner=owner,
        description=description,
        is_active=is_active,
        install_status=InstallStatus.INSTALLED,
        tag_ids=tag_ids,
        **ollama_model_fields(show, listing),
    )
