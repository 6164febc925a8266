"""Models in Ollama: pulls run as background tasks that record their progress, and deletes.

A pull is a `ModelPull` row. Asking for one:
- returns the pull already queued or running for that model (the partial unique index decides races);
- finishes at once when Ollama already has the model;
- otherwise queues a Celery task (`admin_app.tasks.pull_model`) once the row is committed.

The task streams Ollama's NDJSON progress lines and writes the row at most once per whole percent or
per `INFERENCE_PULL_PROGRESS_INTERVAL` seconds; a failure ends the row `failed` with the message. The
catalogue model of the same name (when there is one) follows: pulling, installed or failed.

Audit: asking for a pull and deleting a model from Ollama are recorded explicitly (the triggers cannot
see Ollama); the catalogue's install status changes record themselves.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone

from admin_app.models import ACTIVE_PULL_STATUSES, ModelPull, PullStatus
from admin_app.services.catalogue import ollama_listing_entry
from core.audit import audit_record
from core.exceptions import (
    ApplicationError,
    BadGateway,
    Conflict,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from core.ollama import UNREACHABLE_MESSAGE, OllamaClient, pool
from core.queue import enqueue_on_commit, require_task_queue
from models_app import services as catalogue
from models_app.models import AIModel, InstallStatus
from models_app.selectors import aimodel_by_names, normalise_model_name

logger = logging.getLogger(__name__)

PULL_REQUESTED = "model_pull_requested"
OLLAMA_MODEL_DELETED = "ollama_model_deleted"
DETAIL_MAX_LENGTH = ModelPull._meta.get_field("detail").max_length


@dataclass(frozen=True)
class PullRequestOutcome:
    """The pull that answers a request, and whether the request started it (a new download) rather
    than found one running or found the model installed already."""

    pull: ModelPull
    started: bool


@dataclass
class PullProgress:
    """Ollama's pull lines folded into one figure: bytes over every layer announced so far, and a
    percent that never goes back and reaches 100 only with Ollama's `success`."""

    detail: str = ""
    layers: dict[str, tuple[int, int]] = field(default_factory=dict)
    percent: int = 0
    succeeded: bool = False

    @property
    def completed_bytes(self) -> int:
        return sum(completed for completed, _ in self.layers.values())

    @property
    def total_bytes(self) -> int:
        return sum(total for _, total in self.layers.values())

    def advance(self, line: dict[str, Any]) -> None:
        """Take one progress object (`status`, and for a layer `digest`, `total`, `completed`)."""
        status = str(line.get("status") or "")
        self.detail = status[:DETAIL_MAX_LENGTH]
        digest, total = line.get("digest"), line.get("total")
        if digest and isinstance(total, int) and total > 0:
            completed = line.get("completed")
            completed = completed if isinstance(completed, int) else 0
            self.layers[str(digest)] = (max(0, min(completed, total)), total)
        if status == "success":
            self.succeeded = True
            self.percent = 100
        elif self.total_bytes:
            self.percent = max(self.percent, min(99, self.completed_bytes * 100 // self.total_bytes))


class ServersPullProgress:
    """The progress of one pull onto several servers, one after the other: bytes added up, the percent
    the mean of the servers' (so 100 only once every server succeeded)."""

    def __init__(self, servers: list[str]) -> None:
        self.servers = servers
        self.parts = [PullProgress() for _ in servers]
        self.current = 0

    def advance(self, line: dict[str, Any]) -> None:
        self.parts[self.current].advance(line)

    @property
    def detail(self) -> str:
        detail = self.parts[self.current].detail
        if len(self.servers) > 1:
            detail = f"{detail} ({self.servers[self.current]})"
        return detail[:DETAIL_MAX_LENGTH]

    @property
    def completed_bytes(self) -> int:
        return sum(part.completed_bytes for part in self.parts)

    @property
    def total_bytes(self) -> int:
        return sum(part.total_bytes for part in self.parts)

    @property
    def percent(self) -> int:
        return sum(part.percent for part in self.parts) // len(self.parts)

    @property
    def succeeded(self) -> bool:
        return all(part.succeeded for part in self.parts)

    @property
    def any_succeeded(self) -> bool:
        return any(part.succeeded for part in self.parts)


class ProgressThrottle:
    """Says when progress is worth writing: on each new whole percent, or once `interval` seconds
    have passed since the last write."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.written_percent = -1
        self.written_at = float("-inf")

    def due(self, percent: int) -> bool:
        now = time.monotonic()
        if percent > self.written_percent or now - self.written_at >= self.interval:
            self.written_percent, self.written_at = percent, now
            return True
        return False


def _active_pull(model_name: str) -> ModelPull | None:
    return (
        ModelPull.objects.alias(lower_name=Lower("model_name"))
        .filter(lower_name=model_name.lower(), status__in=ACTIVE_PULL_STATUSES)
        .first()
    )


def _catalogue_model(model_name: str) -> AIModel | None:
    return aimodel_by_names(names=[model_name]).get(model_name.lower())


def _is_stale(pull: ModelPull) -> bool:
    return timezone.now() - pull.updated_at > timedelta(seconds=settings.INFERENCE_PULL_STALE_SECONDS)


def _finish(pull: ModelPull, *, status: str, error: str = "", **values: Any) -> ModelPull:
    """End a queued or running pull; one that has ended already keeps its outcome."""
    now = timezone.now()
    ModelPull.objects.filter(pk=pull.pk, status__in=ACTIVE_PULL_STATUSES).update(
        status=status, error=error, finished_at=now, updated_at=now, **values
    )
    pull.refresh_from_db()
    return pull


def _enqueue_on_commit(pull: ModelPull) -> None:
    """Queue the pull's task once its row is committed; a pull the broker would not take is ended
    `failed` at once rather than left `queued` with no task behind it."""

    def not_queued() -> None:
        _finish(pull, status=PullStatus.FAILED, error="The pull could not be queued; ask for it again.")

    enqueue_on_commit("admin_app.tasks.pull_model", str(pull.pk), task_id=pull.task_id, on_failure=not_queued)


def target_servers(server: str | None) -> list[str]:
    """The servers a pull or delete is for: the one named (one of the pool's), or all of them."""
    urls = pool.server_urls()
    if server is None or server == "":
        return urls
    wanted = server.strip().rstrip("/")
    if wanted not in urls:
        raise ValidationFailed(fields={"server": [f"Not one of the Ollama servers: {', '.join(urls)}."]})
    return [wanted]


def _record_installed(
    model_name: str, listing: Mapping[str, Any], requested_by: Any, servers: list[str]
) -> ModelPull:
    """The servers have the model already: a pull that is done the moment it is asked for."""
    size = listing.get("size")
    if not isinstance(size, int):
        size = 0
    now = timezone.now()
    with transaction.atomic():
        pull = ModelPull.objects.create(
            model_name=model_name,
            status=PullStatus.SUCCESS,
            detail="already installed",
            completed_bytes=size,
            total_bytes=size,
            percent=100,
            requested_by=requested_by,
            servers=servers,
            started_at=now,
            finished_at=now,
        )
        audit_record(
            action=PULL_REQUESTED, target=pull, after={"model_name": model_name, "status": pull.status}
        )
        model = _catalogue_model(model_name)
        if model is not None and model.install_status != InstallStatus.INSTALLED:
            catalogue.aimodel_install_state_set(model=model, status=InstallStatus.INSTALLED)
    return pull


def model_pull_request(
    *, model_name: str, requested_by: Any = None, server: str | None = None
) -> PullRequestOutcome:
    """Ask Ollama to download a model, in the background (see the module's docstring), onto `server`
    or every server of the pool that answers and lacks it (400 for a server not in the pool).

    ServiceUnavailable (503) when no server targeted is reachable, TaskQueueUnavailable (503) when
    the task queue is: nothing is queued then. A queued or running
    pull without progress for INFERENCE_PULL_STALE_SECONDS is taken for dead, ended `failed`, and
    replaced by a new one.
    """
    model_name = normalise_model_name(model_name)
    longest = ModelPull._meta.get_field("model_name").max_length
    assert longest is not None  # a CharField's
    if not model_name or len(model_name) > longest:
        raise ValidationFailed(fields={"model": [f"A model name has 1 to {longest} characters."]})
    targets = target_servers(server)
    active = _active_pull(model_name)
    if active is not None and not _is_stale(active):
        return PullRequestOutcome(pull=active, started=False)
    if active is not None:
        _finish(
            active, status=PullStatus.FAILED, error="The pull made no progress for too long; it was given up."
        )
    checked = pool.refresh_servers(force=True, urls=targets)
    states = [state for state in checked.states if state.url in targets and state.status == pool.HEALTHY]
    if not states:
        raise ServiceUnavailable(UNREACHABLE_MESSAGE, code="ollama_unavailable")
    lacking = [state.url for state in states if not state.has(model_name)]
    if not lacking:
        listing = ollama_listing_entry(checked.tags.get(states[0].url, []), model_name) or {}
        holders = [state.url for state in states]
        return PullRequestOutcome(
            pull=_record_installed(model_name, listing, requested_by, holders), started=False
        )
    require_task_queue()  # 503 rather than a pull that nothing will run
    try:
        with transaction.atomic():
            pull = ModelPull.objects.create(
                model_name=model_name, requested_by=requested_by, task_id=str(uuid.uuid4()), servers=lacking
            )
            audit_record(
                action=PULL_REQUESTED, target=pull, after={"model_name": model_name, "status": pull.status}
            )
            _enqueue_on_commit(pull)
    except IntegrityError:
        # Another request queued the same model between the check above and this insert.
        active = _active_pull(model_name)
        if active is None:
            raise
        return PullRequestOutcome(pull=active, started=False)
    return PullRequestOutcome(pull=pull, started=True)


def _write_progress(pull: ModelPull, model: AIModel | None, progress: ServersPullProgress) -> None:
    ModelPull.objects.filter(pk=pull.pk, status=PullStatus.RUNNING).update(
        detail=progress.detail,
        completed_bytes=progress.completed_bytes,
        total_bytes=progress.total_bytes,
        percent=progress.percent,
        updated_at=timezone.now(),
    )
    if model is not None:
        catalogue.aimodel_install_state_set(
            model=model, status=InstallStatus.PULLING, progress=progress.percent
        )


def _fail(pull: ModelPull, model: AIModel | None, progress: ServersPullProgress, message: str) -> ModelPull:
    with transaction.atomic():
        pull = _finish(
            pull,
            status=PullStatus.FAILED,
            error=message,
            detail=progress.detail,
            completed_bytes=progress.completed_bytes,
            total_bytes=progress.total_bytes,
            percent=progress.percent,
        )
        if model is not None and progress.any_succeeded:  # some servers have it now
            catalogue.aimodel_install_state_set(model=model, status=InstallStatus.INSTALLED, error=message)
        elif model is not None:
            catalogue.aimodel_install_state_set(
                model=model, status=InstallStatus.FAILED, progress=progress.percent, error=message
            )
    return pull


def model_pull_run(*, pull_id: uuid.UUID | str) -> ModelPull | None:
    """Download the model of a queued pull, recording progress on the row (the body of the Celery task).

    Idempotent: a finished pull (or an unknown id) is left alone; a pull found running, because the
    worker that ran it died, is run again (Ollama resumes a download where it stopped).
    """
    now = timezone.now()
    started = ModelPull.objects.filter(pk=pull_id, status__in=ACTIVE_PULL_STATUSES).update(
        status=PullStatus.RUNNING, started_at=Coalesce(F("started_at"), Value(now)), updated_at=now
    )
    pull = ModelPull.objects.filter(pk=pull_id).first()
    if not started or pull is None:
        return pull
    model = _catalogue_model(pull.model_name)
    servers = list(pull.servers) or pool.server_urls()
    progress = ServersPullProgress(servers)
    throttle = ProgressThrottle(settings.INFERENCE_PULL_PROGRESS_INTERVAL)
    if model is not None:
        catalogue.aimodel_install_state_set(model=model, status=InstallStatus.PULLING, progress=0)
    try:
        _pull_onto(pull, servers, progress, throttle, model)
    except ApplicationError as exc:
        message = exc.message
        if exc.code == "model_not_installed":  # Ollama's 404: the registry has no such model
            message = (
                f"Ollama cannot find this model: {'; '.join(exc.fields.get('model', [])) or 'not found'}"
            )
        if len(servers) > 1:
            message = f"{servers[progress.current]}: {message}"
        logger.warning("pull of %s failed: %s", pull.model_name, message)
        return _fail(pull, model, progress, message)
    except Exception as exc:
        _fail(pull, model, progress, f"The pull failed unexpectedly ({type(exc).__name__}).")
        raise
    finally:
        pool.refresh_servers(force=True, urls=servers)  # chats find the model at once
    with transaction.atomic():
        pull = _finish(
            pull,
            status=PullStatus.SUCCESS,
            detail=progress.detail,
            completed_bytes=progress.total_bytes,
            total_bytes=progress.total_bytes,
            percent=100,
        )
        if model is not None:
            catalogue.aimodel_install_state_set(model=model, status=InstallStatus.INSTALLED, progress=100)
    return pull


def _pull_onto(
    pull: ModelPull,
    servers: list[str],
    progress: ServersPullProgress,
    throttle: ProgressThrottle,
    model: AIModel | None,
) -> None:
    """Download the model onto each server in turn, writing progress as it goes."""
    for index, url in enumerate(servers):
        progress.current = index
        with OllamaClient(url) as client:
            for line in client.pull(pull.model_name):
                progress.advance(line)
                if progress.parts[index].succeeded:
                    break
                if throttle.due(progress.percent):
                    _write_progress(pull, model, progress)
        if not progress.parts[index].succeeded:
            raise BadGateway("Ollama ended the pull before it succeeded.", code="ollama_stream")


def ollama_model_delete(*, model_name: str, server: str | None = None) -> list[str]:
    """Remove a model from `server` or from every server of the pool that has it; the catalogue entry
    (if any) stays installed while another server holds the model, not installed otherwise. Returns
    the servers it was removed from.

    NotFound (404) when no server targeted has the model, Conflict (409) while a pull of it is queued
    or running, ServiceUnavailable (503) when the servers that might have it are unreachable,
    ValidationFailed (400) for a server not in the pool.
    """
    model_name = normalise_model_name(model_name)
    targets = target_servers(server)
    if _active_pull(model_name) is not None:
        raise Conflict("A pull of this model is under way; wait for it to end.", code="pull_in_progress")
    deleted: list[str] = []
    unreachable: ApplicationError | None = None
    for url in targets:
        try:
            with OllamaClient(url) as client:
                client.delete(model_name)
        except Conflict as exc:
            if exc.code != "model_not_installed":
                raise
            continue
        except ServiceUnavailable as exc:
            logger.warning("deleting %s: Ollama server %s is unreachable", model_name, url)
            unreachable = unreachable or exc
            continue
        deleted.append(url)
    if not deleted and unreachable is not None:
        raise unreachable
    if not deleted:
        raise NotFound(f"Ollama has no model named '{model_name}'.", code="ollama_model_not_found")
    held_elsewhere = bool(pool.refresh_servers(force=True, urls=deleted).holders(model_name))
    with transaction.atomic():
        audit_record(
            action=OLLAMA_MODEL_DELETED,
            target_type="ollama.model",
            target_id=model_name[:64],
            before={"model_name": model_name},
            after={"deleted_from": deleted},
        )
        model = _catalogue_model(model_name)
        status = InstallStatus.INSTALLED if held_elsewhere else InstallStatus.NOT_INSTALLED
        if model is not None and model.install_status != status:
            catalogue.aimodel_install_state_set(
                model=model, status=status, progress=100 if held_elsewhere else 0
            )
    return deleted
