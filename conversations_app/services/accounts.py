"""A user's account as a whole: deleting it with everything it holds, and purging deleted accounts
after the retention period (ACCOUNT_RETENTION_DAYS), stored files included."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from auth_app.services import user_close_own_account, user_purge, users_deleted_before
from conversations_app.models import Conversation, Folder, TransferJob
from conversations_app.services.trash import (
    _conversation_rows,
    _purge_conversation_rows,
    _release_files_on_commit,
)
from core import services as core_services

if TYPE_CHECKING:
    from auth_app.models import User


def account_delete(*, user: User, password: str) -> User:
    """Delete the caller's account (see `user_close_own_account`: password, last admin, sessions and
    keys revoked, audited) and, in the same transaction and at the same instant, move everything it
    owns to the trash: folders, conversations and what they hold. It all disappears from every list
    at once, and is purged for good after ACCOUNT_RETENTION_DAYS."""
    with transaction.atomic():
        closed = user_close_own_account(user=user, password=password)
        conversations = Conversation.all_objects.filter(owner=closed)
        core_services.soft_delete_rows(
            [Folder.all_objects.filter(owner=closed), conversations, *_conversation_rows(conversations)],
            at=closed.deleted_at or timezone.now(),
        )
    return closed


def account_purge(*, user: User) -> None:
    """Delete a deleted account for good: its conversations with everything they hold and the files
    no other attachment shares, its folders and transfer files, then the account itself."""
    with transaction.atomic():
        conversation_ids = list(Conversation.all_objects.filter(owner=user).values_list("pk", flat=True))
        _release_files_on_commit(_purge_conversation_rows(conversation_ids))
        Folder.all_objects.filter(owner=user).update(parent=None)
        Folder.all_objects.filter(owner=user).delete()
        jobs = list(TransferJob.objects.filter(owner=user).exclude(file=""))
        names = [job.file.name for job in jobs]
        TransferJob.objects.filter(owner=user).delete()
        user_purge(user=user)
        if names:
            storage = TransferJob._meta.get_field("file").storage  # type: ignore[attr-defined]
            transaction.on_commit(lambda: _delete_files(storage, names))


def _delete_files(storage: Any, names: list[str]) -> None:
    for name in names:
        storage.delete(name)


def account_purge_expired(*, deleted_before: dt.datetime | None = None, retention_days: int = 30) -> int:
    """Purge every account deleted before `deleted_before` (default: `retention_days` ago), each in
    its own transaction; returns how many were purged."""
    cutoff = deleted_before or timezone.now() - dt.timedelta(days=retention_days)
    users = users_deleted_before(deleted_before=cutoff)
    for user in users:
        account_purge(user=user)
    return len(users)
