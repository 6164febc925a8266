"""Background work of conversations: attachment text extraction (and the sweep that queues it again
when it was lost), the trash retention purge, the sweep of answers left `streaming` by a process
that died, the titles of conversations nobody named, imports and account exports, and the purge of
deleted accounts."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from conversations_app import services
from conversations_app.formats.account import export_job_run


@shared_task(ignore_result=True)
def extract_attachment_text(attachment_id: str) -> None:
    """Extract the text of an attachment (idempotent: a finished attachment is left alone)."""
    services.attachment_extract_text(attachment_id=attachment_id)


@shared_task(ignore_result=True)
def purge_trash(retention_days: int | None = None) -> dict[str, int]:
    """Purge what has been in the trash longer than TRASH_RETENTION_DAYS, files included."""
    days = settings.TRASH_RETENTION_DAYS if retention_days is None else retention_days
    return services.trash_purge_expired(deleted_before=timezone.now() - timedelta(days=days))


@shared_task(ignore_result=True)
def interrupt_stale_answers() -> int:
    """Mark `interrupted` the answers left `streaming` longer than the read timeout plus a margin."""
    older_than = timedelta(seconds=settings.OLLAMA_READ_TIMEOUT + settings.CHAT_STALE_MARGIN_SECONDS)
    return services.exchange_interrupt_stale(older_than=older_than)


@shared_task(ignore_result=True)
def title_conversation(conversation_id: str, exchange_id: str) -> str:
    """Title an untitled conversation after its first answer (the user's own title always wins)."""
    return services.conversation_title_generate(conversation_id=conversation_id, exchange_id=exchange_id)


@shared_task(ignore_result=True)
def queue_pending_attachments() -> int:
    """Queue again the text extraction of attachments left `pending` (the task queue was down)."""
    return services.attachments_queue_pending(
        older_than=timedelta(minutes=settings.ATTACHMENT_REQUEUE_MINUTES)
    )


@shared_task(ignore_result=True)
def run_import(job_id: str) -> None:
    """Import the conversations of an uploaded file (idempotent: a finished job is left alone)."""
    services.import_job_run(job_id=job_id)


@shared_task(ignore_result=True)
def run_export(job_id: str) -> None:
    """Build the archive of everything a user owns (idempotent: only a queued job is run)."""
    export_job_run(job_id=job_id)


@shared_task(ignore_result=True)
def purge_deleted_accounts(retention_days: int | None = None) -> int:
    """Purge accounts deleted longer than ACCOUNT_RETENTION_DAYS ago with everything they held, files
    included, and the archives of exports whose download link has expired."""
    days = settings.ACCOUNT_RETENTION_DAYS if retention_days is None else retention_days
    services.transfer_files_purge_expired()
    return services.account_purge_expired(deleted_before=timezone.now() - timedelta(days=days))
