"""Reads of inference: the models Ollama has (with their catalogue entries) and the pulls staff started."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from admin_app.models import ModelPull
from core.exceptions import NotFound
from core.ollama import OllamaClient
from models_app.models import AIModel
from models_app.selectors import aimodel_by_names


@dataclass(frozen=True)
class InstalledModel:
    """A model installed in Ollama (`/api/tags`), and the catalogue model of the same name, if any."""

    name: str
    size: int | None
    digest: str
    modified_at: str
    details: dict[str, Any]
    catalogue: AIModel | None


def ollama_model_list() -> list[InstalledModel]:
    """The models installed in Ollama by name, each with its alive catalogue entry (one query for the
    whole list). ServiceUnavailable (503) when Ollama is unreachable."""
    with OllamaClient() as client:
        entries = [entry for entry in client.tags() if isinstance(entry, dict) and entry.get("name")]
    catalogue = aimodel_by_names(names=[entry["name"] for entry in entries])
    models = [
        InstalledModel(
            name=str(entry["name"]),
            size=entry.get("size") if isinstance(entry.get("size"), int) else None,
            digest=str(entry.get("digest") or ""),
            modified_at=str(entry.get("modified_at") or ""),
            details=details if isinstance(details := entry.get("details"), dict) else {},
            catalogue=catalogue.get(str(entry["name"]).lower()),
        )
        for entry in entries
    ]
    return sorted(models, key=lambda model: model.name.lower())


def model_pull_list() -> QuerySet[ModelPull]:
    """Every pull, newest first, with who asked for it (one query per page)."""
    return ModelPull.objects.select_related("requested_by").order_by("-created_at", "-id")


def model_pull_get(*, pull_id: uuid.UUID | str) -> ModelPull:
    """A pull by id; NotFound otherwise."""
    try:
        pk = uuid.UUID(str(pull_id))
    except ValueError:
        pk = None
    pull = model_pull_list().filter(pk=pk).first() if pk is not None else None
    if pull is None:
        raise NotFound("No model pull has this id.")
    return pull
