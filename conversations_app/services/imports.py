"""Import: conversations from Open WebUI, ChatGPT, LibreChat and OllamaNet exports into a user's account.

Each conversation is imported in a transaction of its own, so a bad one is reported and skipped and
leaves nothing behind, while the others go on. A conversation remembers where it came from
(`import_source`, `import_source_id`; unique per owner among alive conversations): importing it again
adds only the exchanges it does not have yet (matched by their place in the tree and their text) and
the changed title and flags, and says `unchanged` when there is nothing new.

Small files are imported during the request; larger ones by a Celery task (`TransferJob`), which
records its progress and the outcome of every conversation.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from uuid6 import uuid7

from conversations_app.formats.reader import MalformedFile, UnknownFormat, open_documents
from conversations_app.formats.sources import (
    UNKNOWN_MODEL,
    BadConversation,
    ImportedConversation,
    ImportedTurn,
    imported_conversation,
)
from conversations_app.models import (
    AIResponse,
    Conversation,
    ConversationPromptResponse,
    Feedback,
    Folder,
    Note,
    Prompt,
    TransferJob,
)
from core.exceptions import ValidationFailed
from core.queue import enqueue_on_commit, require_task_queue
from models_app.selectors import aimodel_by_names, normalise_model_name
from models_app.services import aimodel_create

if TYPE_CHECKING:
    from auth_app.models import User
    from models_app.models import AIModel

logger = logging.getLogger(__name__)

PLACEHOLDER_DESCRIPTION = (
    "Placeholder for conversations imported with a model that is not in the catalogue; staff can map "
    "or publish it."
)
PROGRESS_EVERY = 25  # conversations between two progress writes of a job


@dataclass
class ImportOutcome:
    """What became of one conversation of the file."""

    status: str  # created, updated, unchanged, skipped
    source_id: str = ""
    title: str = ""
    conversation: str | None = None
    exchanges_added: int = 0
    reason: str = ""


# --- models and folders --------------------------------------------------------------------------------


def _model_named(name: str) -> AIModel:
    """The catalogue model with this name, published or not; a new inactive placeholder when there is
    none (kept by name, so staff can map it later). A name the catalogue cannot hold falls back to the
    `unknown` placeholder."""
    key = normalise_model_name(name).lower()
    found = aimodel_by_names(names=[name]).get(key)
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return aimodel_create(name=name, is_active=False, description=PLACEHOLDER_DESCRIPTION)
    except (ValidationFailed, IntegrityError):
        found = aimodel_by_names(names=[name]).get(key)  # another import created it meanwhile
        if found is not None:
            return found
        if name != UNKNOWN_MODEL:
            return _model_named(UNKNOWN_MODEL)
        raise


def _folder_named(owner: User, name: str) -> Folder | None:
    """The owner's top-level folder with this name (case-insensitive), created when missing."""
    if not name.strip():
        return None
    existing = Folder.objects.filter(owner=owner, parent=None, name__iexact=name.strip()).first()
    if existing is not None:
        return existing
    folder = Folder(owner=owner, name=name.strip())
    folder.save(force_insert=True)
    return folder


# --- the tree ------------------------------------------------------------------------------------------


@dataclass
class _Added:
    exchanges: int = 0
    messages: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    last_at: Any = None


def _valid_feedback(item: dict[str, Any]) -> bool:
    return item.get("rating") in (1, -1) and (item.get("reason") or "") in ["", *Feedback.Reason.values]


def _valid_note(item: dict[str, Any], answer: str) -> bool:
    start, end, content = item.get("from_index"), item.get("to_index"), item.get("content")
    return (
        isinstance(start, int)
        and isinstance(end, int)
        and 0 <= start < end <= len(answer)
        and isinstance(content, str)
        and bool(content.strip())
    )


def _add_turns(
    *, conversation: Conversation, turns: Iterable[ImportedTurn], existing: list[tuple[Any, ...]]
) -> tuple[dict[str, Any], _Added]:
    """Create the exchanges of `turns` the conversation does not have yet. `existing` holds its
    exchanges as (id, parent id, position, prompt, answer); an imported exchange matches one with the
    same parent, prompt and answer. Returns the exchange id of every turn key and what was added."""
    owner_id = conversation.owner_id
    available: dict[tuple[Any, str, str], deque] = defaultdict(deque)
    positions: dict[Any, int] = {}
    for exchange_id, parent_id, position, prompt, answer in existing:
        available[(parent_id, prompt, answer)].append(exchange_id)
        positions[exchange_id] = position
    exchange_of: dict[str, Any] = {}
    prompts, responses, exchanges = [], [], []
    feedback, notes = [], []
    stamps: dict[Any, Any] = {}
    added = _Added()
    for turn in turns:
        parent_id = exchange_of[turn.parent_key] if turn.parent_key is not None else None
        if turn.parent_key is not None and parent_id is None:
            raise BadConversation("An exchange's parent comes after it.")
        matches = available.get((parent_id, turn.prompt, turn.answer))
        if matches:
            exchange_of[turn.key] = matches.popleft()
            continue
        position = positions[parent_id] + 1 if parent_id is not None else 0
        prompt = Prompt(
            id=uuid7(),
            content=turn.prompt,
            options=turn.options,
            token_count=turn.token_count,
            history_omitted=min(turn.history_omitted, position),
            owner_id=owner_id,
        )
        metrics = dict(turn.metrics)
        response = AIResponse(
            id=uuid7(),
            content=turn.answer,
            model_name=turn.model_name,
            status=turn.status,
            error=turn.error,
            done_reason=turn.done_reason,
            completed_at=turn.answer_at,
            owner_id=owner_id,
            **metrics,
        )
        exchange = ConversationPromptResponse(
            id=uuid7(),
            conversation=conversation,
            prompt_id=prompt.pk,
            response_id=response.pk,
            parent_id=parent_id,
            position=position,
        )
        stamps |= {prompt.pk: turn.prompt_at, response.pk: turn.answer_at, exchange.pk: turn.prompt_at}
        prompts.append(prompt)
        responses.append(response)
        exchanges.append(exchange)
        positions[exchange.pk] = position
        exchange_of[turn.key] = exchange.pk
        feedback += [
            Feedback(
                response_id=response.pk,
                user_id=owner_id,
                rating=item["rating"],
                reason=item.get("reason") or "",
                comment=str(item.get("comment") or "")[:2000],
            )
            for item in turn.feedback[:1]
            if _valid_feedback(item)
        ]
        notes += [
            Note(
                response_id=response.pk,
                owner_id=owner_id,
                content=item["content"][:10_000],
                from_index=item["from_index"],
                to_index=item["to_index"],
            )
            for item in turn.notes
            if _valid_note(item, turn.answer)
        ]
        added.exchanges += 1
        added.messages += 1 + (1 if turn.answer else 0)
        added.prompt_tokens += metrics.get("prompt_eval_count") or 0
        added.completion_tokens += metrics.get("eval_count") or 0
        added.last_at = max(filter(None, [added.last_at, turn.answer_at]))
    if exchanges:
        Prompt.objects.bulk_create(prompts)
        AIResponse.objects.bulk_create(responses)
        ConversationPromptResponse.objects.bulk_create(exchanges)
        # `created_at` is set on insert (auto_now_add): the source's instants are written afterwards.
        for rows in (prompts, responses, exchanges):
            for row in rows:
                row.created_at = stamps[row.pk]
            type(rows[0]).objects.bulk_update(rows, ["created_at"], batch_size=500)
        Feedback.objects.bulk_create(feedback)
        Note.objects.bulk_create(notes)
    return exchange_of, added


def _existing_exchanges(conversation: Conversation) -> list[tuple[Any, ...]]:
    return list(
        ConversationPromptResponse.objects.filter(conversation=conversation)
        .order_by("position", "created_at", "id")
        .values_list("id", "parent_id", "position", "prompt__content", "response__content")
    )


def _create(*, owner: User, imported: ImportedConversation) -> ImportOutcome:
    model = _model_named(imported.model_name)
    conversation = Conversation(
        owner=owner,
        model=model,
        model_name=model.name,
        title=imported.title,
        system_prompt=imported.system_prompt,
        default_options=imported.default_options,
        is_pinned=imported.is_pinned,
        is_archived=imported.is_archived,
        folder=_folder_named(owner, imported.folder_name),
        import_source=imported.source,
        import_source_id=imported.source_id,
    )
    conversation.save(force_insert=True)
    exchange_of, added = _add_turns(conversation=conversation, turns=imported.turns, existing=[])
    Conversation.objects.filter(pk=conversation.pk).update(
        created_at=imported.created_at,
        current_exchange_id=exchange_of.get(imported.current_key or ""),
        last_message_at=max(filter(None, [imported.last_message_at, added.last_at, imported.created_at])),
        message_count=added.messages,
        prompt_tokens=added.prompt_tokens,
        completion_tokens=added.completion_tokens,
    )
    return ImportOutcome(
        status="created",
        source_id=imported.source_id,
        title=imported.title,
        conversation=str(conversation.pk),
        exchanges_added=added.exchanges,
    )


def _merge(*, conversation: Conversation, imported: ImportedConversation) -> ImportOutcome:
    """Bring an earlier import up to date: new exchanges, and the title and flags the source changed."""
    exchange_of, added = _add_turns(
        conversation=conversation, turns=imported.turns, existing=_existing_exchanges(conversation)
    )
    changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("title", imported.title),
            ("is_pinned", imported.is_pinned),
            ("is_archived", imported.is_archived),
        )
        if getattr(conversation, name) != value
    }
    if added.exchanges:
        changes |= {
            "current_exchange_id": exchange_of.get(imported.current_key or ""),
            "last_message_at": max(filter(None, [conversation.last_message_at, added.last_at])),
            "message_count": F("message_count") + added.messages,
            "prompt_tokens": F("prompt_tokens") + added.prompt_tokens,
            "completion_tokens": F("completion_tokens") + added.completion_tokens,
        }
    if changes:
        Conversation.objects.filter(pk=conversation.pk).update(
            **changes, version=F("version") + 1, updated_at=timezone.now()
        )
    return ImportOutcome(
        status="updated" if changes else "unchanged",
        source_id=imported.source_id,
        title=imported.title,
        conversation=str(conversation.pk),
        exchanges_added=added.exchanges,
    )


def conversation_import(*, owner: User, imported: ImportedConversation) -> ImportOutcome:
    """Import one conversation into `owner`'s account in one transaction: create it, or bring the one
    an earlier import of the same source conversation made up to date."""

    def attempt() -> ImportOutcome:
        with transaction.atomic():
            existing = (
                Conversation.objects.select_for_update()
                .filter(owner=owner, import_source=imported.source, import_source_id=imported.source_id)
                .first()
            )
            if existing is not None:
                return _merge(conversation=existing, imported=imported)
            return _create(owner=owner, imported=imported)

    try:
        return attempt()
    except IntegrityError:
        # A concurrent import created the same conversation first: the unique constraint decided,
        # and this import now brings that one up to date.
        return attempt()


def _import_one(owner: User, source: str, data: Any) -> ImportOutcome:
    source_id = ""
    try:
        imported = imported_conversation(source, data)
        source_id = imported.source_id
        return conversation_import(owner=owner, imported=imported)
    except BadConversation as exc:
        return ImportOutcome(status="skipped", source_id=source_id or _guess_id(data), reason=str(exc))
    except (ValidationFailed, IntegrityError, ValueError) as exc:
        logger.info("imported conversation %s skipped: %s", source_id, exc)
        return ImportOutcome(
            status="skipped",
            source_id=source_id or _guess_id(data),
            reason="The conversation holds values the database refuses.",
        )


def _guess_id(data: Any) -> str:
    if isinstance(data, dict):
        for key in ("id", "conversation_id", "conversationId"):
            if isinstance(data.get(key), str):
                return data[key][:255]
    return ""


# --- jobs ----------------------------------------------------------------------------------------------


def _job_progress(job: TransferJob, outcomes: list[ImportOutcome]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        counts[outcome.status] += 1
    TransferJob.objects.filter(pk=job.pk).update(
        processed=len(outcomes), counts=dict(counts), updated_at=timezone.now()
    )
    return dict(counts)


def import_job_run(*, job_id: Any) -> TransferJob:
    """Run an import job (idempotent: a finished job is left as it is; running it again imports
    nothing twice). Every conversation of the file is imported in its own transaction; the job
    records its progress every few conversations and, at the end, the outcome of each."""
    job = TransferJob.objects.filter(pk=job_id, kind=TransferJob.Kind.IMPORT).select_related("owner").first()
    if job is None or job.status in (TransferJob.Status.SUCCEEDED, TransferJob.Status.FAILED):
        return job  # type: ignore[return-value]
    TransferJob.objects.filter(pk=job.pk).update(status=TransferJob.Status.RUNNING, started_at=timezone.now())
    outcomes: list[ImportOutcome] = []
    error = ""
    try:
        with job.file.open("rb") as binary:
            for document in open_documents(binary, name=job.original_name, max_bytes=_zip_budget()):
                for data in document.conversations():
                    outcomes.append(_import_one(job.owner, document.source, data))
                    if len(outcomes) % PROGRESS_EVERY == 0:
                        _job_progress(job, outcomes)
    except (UnknownFormat, MalformedFile) as exc:
        error = str(exc) if isinstance(exc, MalformedFile) else exc.message
        error = f"The file could not be read after {len(outcomes)} conversation(s): {error}"
    except OSError as exc:
        error = f"The uploaded file could not be read: {exc.strerror or exc}"
    counts = _job_progress(job, outcomes)
    TransferJob.objects.filter(pk=job.pk).update(
        status=TransferJob.Status.FAILED if error else TransferJob.Status.SUCCEEDED,
        error=error,
        results=[asdict(outcome) for outcome in outcomes],
        counts=counts,
        finished_at=timezone.now(),
    )
    job.file.delete(save=False)  # the upload has served its purpose
    TransferJob.objects.filter(pk=job.pk).update(file="")
    job.refresh_from_db()
    return job


def _zip_budget() -> int:
    """The most JSON a ZIP may unpack to (a guard against archives that expand enormously)."""
    return settings.IMPORT_MAX_BYTES * 5


def import_job_create(*, owner: User, upload: IO[bytes], name: str, size: int) -> TransferJob:
    """Take an uploaded export: its format is checked at once (400 naming what is expected), then
    the file is stored and imported, during the request when it is at most IMPORT_SYNC_MAX_BYTES
    (the returned job is finished), else by a background task (the job is `queued`; 503 when the task
    queue cannot take it)."""
    first = next(open_documents(upload, name=name, max_bytes=_zip_budget()))
    background = size > settings.IMPORT_SYNC_MAX_BYTES
    if background:
        require_task_queue()
    upload.seek(0)
    job = TransferJob(
        owner=owner,
        kind=TransferJob.Kind.IMPORT,
        original_name=name[:255],
        size=size,
        source_format=first.source,
    )
    job.file.save(name, File(upload), save=False)
    job.save(force_insert=True)
    if not background:
        return import_job_run(job_id=job.pk)
    enqueue_on_commit("conversations_app.tasks.run_import", str(job.pk))
    return job
