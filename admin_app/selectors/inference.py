"""Reads of inference: the Ollama servers of the pool, the models they have (with their catalogue
entries) and the pulls staff started."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet

from admin_app.models import ModelPull
from core.exceptions import NotFound, ServiceUnavailable
from core.ollama import UNREACHABLE_MESSAGE, pool
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
    servers: list[str]


def ollama_model_list() -> list[InstalledModel]:
    """The models installed on the servers by name (each server checked now), each with the servers
    that have it and its alive catalogue entry (one query for the whole list). ServiceUnavailable (503)
    when no server is reachable."""
    checked = pool.refresh_servers(force=True)
    if not checked.healthy:
        raise ServiceUnavailable(UNREACHABLE_MESSAGE, code="ollama_unavailable")
    entries: dict[str, dict[str, Any]] = {}
    servers: dict[str, list[str]] = {}
    for state in checked.healthy:
        for entry in checked.tags.get(state.url, []):
            key = pool.model_key(str(entry["name"]))
            entries.setdefault(key, entry)
            servers.setdefault(key, []).append(state.url)
    catalogue = aimodel_by_names(names=[entry["name"] for entry in entries.values()])
    models = [
        InstalledModel(
            name=str(entry["name"]),
            size=entry.get("size") if isinstance(entry.get("size"), int) else None,
            digest=str(entry.get("digest") or ""),
            modified_at=str(entry.get("modified_at") or ""),
            details=details if isinstance(details := entry.get("details"), dict) else {},
            catalogue=catalogue.get(key),
            servers=servers[key],
        )
        for key, entry in entries.items()
    ]
    return sorted(models, key=lambda model: model.name.lower())


@dataclass(frozen=True)
class InferenceServer:
    """One Ollama server of the pool as its last check found it, with its requests in flight."""

    url: str
    status: str
    latency_ms: float | None
    version: str
    models: list[str]
    in_flight: int
    last_error: str
    failures: int
    checked_at: datetime | None
    next_check_at: datetime | None


def _instant(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None


def inference_server_list() -> list[InferenceServer]:
    """The servers of the pool in the order of `OLLAMA_URLS`; those due for a check are checked
    first. No database query."""
    current = pool.snapshot()
    return [
        InferenceServer(
            url=state.url,
            status=state.status,
            latency_ms=state.latency_ms,
            version=state.version,
            models=list(state.models),
            in_flight=current.in_flight.get(state.url, 0),
            last_error=state.last_error,
            failures=state.failures,
            checked_at=_instant(state.checked_at),
            next_check_at=_instant(state.next_check_at),
        )
        for state in current.states
    ]


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
