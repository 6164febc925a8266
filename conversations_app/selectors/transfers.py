"""Reads of import and export jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from conversations_app.models import TransferJob
from core.exceptions import NotFound

if TYPE_CHECKING:
    from auth_app.models import User


def transfer_job_get(*, owner: User, job_id: UUID | str, kind: str) -> TransferJob:
    """The owner's import or export job (one query); NotFound for another user's."""
    job = TransferJob.objects.filter(owner=owner, pk=job_id, kind=kind).first()
    if job is None:
        raise NotFound("No such job.")
    return job
