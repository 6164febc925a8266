"""Everything out: the export job of a user's whole account (a ZIP built by a background task,
`conversations_app.formats.account`), its signed, expiring download link, and the clean-up of
expired export files."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.utils import timezone

from conversations_app.models import TransferJob
from core.exceptions import NotFound
from core.queue import enqueue_on_commit, require_task_queue

if TYPE_CHECKING:
    from auth_app.models import User

DOWNLOAD_SALT = "conversations_app.account-export"


def export_job_create(*, owner: User) -> TransferJob:
    """Queue the export of everything `owner` owns (503 when the task queue cannot take it)."""
    require_task_queue()
    job = TransferJob(owner=owner, kind=TransferJob.Kind.EXPORT)
    job.save(force_insert=True)
    enqueue_on_commit("conversations_app.tasks.run_export", str(job.pk))
    return job


def export_job_start(*, job_id: Any) -> TransferJob | None:
    """Mark a queued export running and return it; None when it is not waiting to run (finished
    already, or unknown), so a task delivered twice does the work once."""
    now = timezone.now()
    started = TransferJob.objects.filter(
        pk=job_id, kind=TransferJob.Kind.EXPORT, status=TransferJob.Status.QUEUED
    ).update(status=TransferJob.Status.RUNNING, started_at=now, updated_at=now)
    if not started:
        return None
    return TransferJob.objects.select_related("owner").get(pk=job_id)


def export_job_finish(*, job: TransferJob, archive: File, counts: dict[str, int]) -> TransferJob:
    """Store the built archive and open its download for EXPORT_LINK_MAX_AGE seconds."""
    job.file.save(f"{job.pk}.zip", archive, save=False)
    now = timezone.now()
    TransferJob.objects.filter(pk=job.pk).update(
        file=job.file.name,
        size=job.file.size,
        counts=counts,
        processed=counts.get("conversations", 0),
        status=TransferJob.Status.SUCCEEDED,
        finished_at=now,
        expires_at=now + dt.timedelta(seconds=settings.EXPORT_LINK_MAX_AGE),
        updated_at=now,
    )
    job.refresh_from_db()
    return job


def export_job_fail(*, job_id: Any, error: str) -> None:
    now = timezone.now()
    TransferJob.objects.filter(pk=job_id).exclude(
        status__in=(TransferJob.Status.SUCCEEDED, TransferJob.Status.FAILED)
    ).update(status=TransferJob.Status.FAILED, error=error, finished_at=now, updated_at=now)


def export_download_token(*, job: TransferJob) -> str:
    """A signed token that lets whoever holds it download this export until its link expires."""
    return signing.dumps({"job": str(job.pk), "owner": str(job.owner_id)}, salt=DOWNLOAD_SALT)


def export_for_download(*, job_id: Any, token: str) -> TransferJob:
    """The finished export the token was made for, while its link lasts; NotFound otherwise (a wrong,
    tampered or expired token looks like a missing export)."""
    try:
        claims = signing.loads(token, salt=DOWNLOAD_SALT, max_age=settings.EXPORT_LINK_MAX_AGE)
    except signing.BadSignature as exc:
        raise NotFound("This download link is not valid or has expired.") from exc
    job = TransferJob.objects.filter(
        pk=job_id, kind=TransferJob.Kind.EXPORT, status=TransferJob.Status.SUCCEEDED
    ).first()
    if (
        job is None
        or claims.get("job") != str(job.pk)
        or claims.get("owner") != str(job.owner_id)
        or not job.file
        or (job.expires_at is not None and job.expires_at <= timezone.now())
    ):
        raise NotFound("This download link is not valid or has expired.")
    return job


def transfer_files_purge_expired(*, now: dt.datetime | None = None) -> int:
    """Delete the archives of exports whose link has expired; returns how many went."""
    now = now or timezone.now()
    expired = list(
        TransferJob.objects.filter(kind=TransferJob.Kind.EXPORT, expires_at__lte=now).exclude(file="")
    )
    for job in expired:
        job.file.delete(save=False)
    TransferJob.objects.filter(pk__in=[job.pk for job in expired]).update(file="")
    return len(expired)
