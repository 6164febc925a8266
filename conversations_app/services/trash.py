"""Writes on conversations_app's tables. Other apps call these, never the ORM on these models."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, models, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from conversations_app.models import (
    AIResponse,
    Attachment,
    Conversation,
    ConversationPromptResponse,
    Feedback,
    Folder,
    Note,
    Prompt,
)
from conversations_app.selectors.history import deepest_leaf_id
from conversations_app.services.attachments import attachment_files_release
from core import services as core_services
from core.exceptions import Conflict, NotFound

if TYPE_CHECKING:
    from auth_app.models import User


def _conversation_rows(conversations: models.QuerySet) -> list[models.QuerySet]:
    """Everything a conversation owns, in the project's lock order (core.services): exchanges,
    responses, prompts, then feedback, notes and attachments of the given conversations (alive or
    not; callers filter)."""
    return [
        ConversationPromptResponse.all_objects.filter(conversation__in=conversations),
        AIResponse.all_objects.filter(exchange__conversation__in=conversations),
        Prompt.all_objects.filter(exchange__conversation__in=conversations),
        Feedback.all_objects.filter(response__exchange__conversation__in=conversations),
        Note.all_objects.filter(response__exchange__conversation__in=conversations),
        Attachment.all_objects.filter(conversation__in=conversations),
    ]


def _single_conversation_rows(conversation: Conversation) -> Iterable[models.QuerySet]:
    return _conversation_rows(Conversation.all_objects.filter(pk=conversation.pk))


def folder_descendant_ids(*, folder: Folder) -> list:
    """Ids of every folder below `folder`, deleted or not (one recursive query)."""
    table = Folder._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE tree(id) AS (
                SELECT id FROM {table} WHERE parent_id = %s
                UNION ALL
                SELECT f.id FROM {table} f JOIN tree t ON f.parent_id = t.id
            )
            SELECT id FROM tree
            """,  # noqa: S608 - the table name is ours, the value is a parameter
            [folder.pk],
        )
        return [row[0] for row in cursor.fetchall()]


def _folder_rows(folder: Folder) -> Iterable[models.QuerySet]:
    """A folder's subfolders, their conversations, then what those own: parents before children, so
    a cascade waits for an answer being finished (conversation, then response) instead of
    deadlocking with it."""
    folder_ids = [folder.pk, *folder_descendant_ids(folder=folder)]
    conversations = Conversation.all_objects.filter(folder_id__in=folder_ids)
    return [
        Folder.all_objects.filter(pk__in=folder_ids[1:]),
        conversations,
        *_conversation_rows(conversations),
    ]


def conversation_soft_delete(
    *, conversation: Conversation, expected_version: int | None = None
) -> Conversation:
    """Move a conversation to the trash with its exchanges, prompts, responses, feedback, notes and
    attachments, in one transaction; 412 when `expected_version` (the caller's If-Match) is stale."""
    return core_services.soft_delete(
        conversation, related=_single_conversation_rows, expected_version=expected_version
    )


def conversation_restore(*, conversation: Conversation) -> Conversation:
    """Bring a conversation back with exactly what its deletion took. A conversation whose folder is
    still in the trash comes back at the top level."""
    with transaction.atomic():
        restored = core_services.restore(conversation, related=_single_conversation_rows)
        if restored.folder_id and not Folder.objects.filter(pk=restored.folder_id).exists():
            restored = core_services.versioned_update(restored, fields={"folder": None})
    return restored


def folder_soft_delete(*, folder: Folder, expected_version: int | None = None) -> Folder:
    """Move a folder to the trash with its subfolders and their conversations (and what those own);
    412 when `expected_version` (the caller's If-Match) is stale."""
    return core_services.soft_delete(folder, related=_folder_rows, expected_version=expected_version)


def folder_restore(*, folder: Folder) -> Folder:
    """Bring a folder back with the subfolders and conversations its deletion took. A folder whose
    parent is still in the trash comes back at the top level."""
    with transaction.atomic():
        restored = core_services.restore(folder, related=_folder_rows)
        if restored.parent_id and not Folder.objects.filter(pk=restored.parent_id).exists():
            restored = core_services.versioned_update(restored, fields={"parent": None})
    return restored


# --- Exchanges: a branch to the trash and back -----------------------------------------------------------

_EXCHANGES = ConversationPromptResponse._meta.db_table


def exchange_subtree_ids(*, exchange_id: Any) -> list:
    """The exchange and every exchange below it, deleted or not (one recursive query)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE subtree(id) AS (
                SELECT id FROM {_EXCHANGES} WHERE id = %s
                UNION ALL
                SELECT e.id FROM {_EXCHANGES} e JOIN subtree s ON e.parent_id = s.id
            )
            SELECT id FROM subtree
            """,  # noqa: S608 - the table name is ours, the value is a parameter
            [exchange_id],
        )
        return [row[0] for row in cursor.fetchall()]


def _exchange_rows(exchange_ids: list) -> list[models.QuerySet]:
    """What a branch of exchanges owns, in the project's lock order (core.services)."""
    return [
        ConversationPromptResponse.all_objects.filter(pk__in=exchange_ids),
        AIResponse.all_objects.filter(exchange__in=exchange_ids),
        Prompt.all_objects.filter(exchange__in=exchange_ids),
        Feedback.all_objects.filter(response__exchange__in=exchange_ids),
        Note.all_objects.filter(response__exchange__in=exchange_ids),
    ]


def _messages_in(exchanges: models.QuerySet) -> int:
    """How many messages these exchanges count for in `Conversation.message_count`: each prompt, and
    each answer with text."""
    answered = exchanges.exclude(response__content="").count()
    return exchanges.count() + answered


def _nearest_sibling_id(exchange: ConversationPromptResponse) -> Any:
    """The alive sibling created closest before `exchange`, else the closest after it."""
    siblings = ConversationPromptResponse.objects.filter(
        conversation_id=exchange.conversation_id, parent_id=exchange.parent_id, position=exchange.position
    ).exclude(pk=exchange.pk)
    before = siblings.filter(
        Q(created_at__lt=exchange.created_at) | Q(created_at=exchange.created_at, pk__lt=exchange.pk)
    ).order_by("-created_at", "-pk")
    after = siblings.order_by("created_at", "pk")
    return before.values_list("pk", flat=True).first() or after.values_list("pk", flat=True).first()


def exchange_soft_delete(*, exchange: ConversationPromptResponse) -> ConversationPromptResponse:
    """Move an exchange to the trash with everything below it (prompts, answers, feedback, notes).

    Conflict (409) while an answer of that branch is still being written. When the current branch ran
    through it, the conversation follows the nearest surviving sibling (down to its latest leaf), else
    the parent (no exchange at all when the first one goes without a sibling).
    """
    with transaction.atomic():
        conversation = core_services.lock_for_update(Conversation, exchange.conversation_id)
        core_services.ensure_alive(conversation)
        locked = ConversationPromptResponse.objects.select_for_update().filter(pk=exchange.pk).first()
        if locked is None or locked.conversation_id != conversation.pk:
            raise NotFound("Exchange not found.")
        subtree = exchange_subtree_ids(exchange_id=locked.pk)
        alive = ConversationPromptResponse.objects.filter(pk__in=subtree)
        if alive.filter(response__status=AIResponse.Status.STREAMING).exists():
            raise Conflict(
                "An answer in this branch is still being written; stop it or wait for it to end.",
                code="exchange_streaming",
            )
        removed = _messages_in(alive)
        # Never below zero, whatever rows written outside the services left behind.
        changes: dict = {
            "message_count": Greatest(F("message_count") - removed, 0),
            "updated_at": timezone.now(),
        }
        if conversation.current_exchange_id in subtree:
            sibling_id = _nearest_sibling_id(locked)
            changes["current_exchange_id"] = (
                deepest_leaf_id(sibling_id) if sibling_id is not None else locked.parent_id
            )
        core_services.soft_delete_rows(_exchange_rows(subtree), at=timezone.now())
        Conversation.objects.filter(pk=conversation.pk).update(**changes)
    return ConversationPromptResponse.all_objects.get(pk=locked.pk)


def exchange_restore(*, exchange: ConversationPromptResponse) -> ConversationPromptResponse:
    """Bring back a deleted exchange with exactly what its deletion took. Conflict (409) when it is
    not in the trash, or when the exchange it follows is itself deleted (restore that one first).
    The current branch stays where it is; the restored one is a sibling to switch to."""
    with transaction.atomic():
        conversation = core_services.lock_for_update(Conversation, exchange.conversation_id)
        core_services.ensure_alive(conversation)
        locked = core_services.lock_for_update(ConversationPromptResponse, exchange.pk)
        core_services.ensure_deleted(locked)
        if (
            locked.parent_id is not None
            and not ConversationPromptResponse.objects.filter(pk=locked.parent_id).exists()
        ):
            raise Conflict(
                "The exchange this one follows is deleted too; restore that one first.",
                code="restore_parent_deleted",
            )
        subtree = exchange_subtree_ids(exchange_id=locked.pk)
        at = locked.deleted_at
        assert at is not None  # ensure_deleted
        taken = ConversationPromptResponse.all_objects.filter(pk__in=subtree, deleted_at=at)
        taken_ids = list(taken.values_list("pk", flat=True))
        core_services.restore_rows(_exchange_rows(taken_ids), at=at)
        restored = _messages_in(ConversationPromptResponse.objects.filter(pk__in=taken_ids))
        Conversation.objects.filter(pk=conversation.pk).update(
            message_count=F("message_count") + restored, updated_at=timezone.now()
        )
    return ConversationPromptResponse.objects.select_related("prompt", "response").get(pk=locked.pk)


def _purge_exchange_rows(exchange_ids: list) -> None:
    """Hard-delete these exchanges with their prompts, answers, feedback and notes (children first:
    the tree's foreign key cascades, the one-to-one rows are read before)."""
    exchanges = ConversationPromptResponse.all_objects.filter(pk__in=exchange_ids)
    pairs = list(exchanges.values_list("prompt_id", "response_id"))
    response_ids = [response_id for _, response_id in pairs]
    Feedback.all_objects.filter(response_id__in=response_ids).delete()
    Note.all_objects.filter(response_id__in=response_ids).delete()
    exchanges.delete()
    Prompt.all_objects.filter(pk__in=[prompt_id for prompt_id, _ in pairs]).delete()
    AIResponse.all_objects.filter(pk__in=response_ids).delete()


def _trashed_exchange_roots() -> models.QuerySet:
    """Deleted exchanges that were deleted on their own (not with their parent, nor with their
    conversation)."""
    return (
        ConversationPromptResponse.all_objects.dead()
        .filter(conversation__deleted_at__isnull=True)
        .exclude(parent__deleted_at=F("deleted_at"))
    )


def _purge_exchange_trees(roots: Iterable[ConversationPromptResponse]) -> int:
    purged = 0
    for root in roots:
        subtree = exchange_subtree_ids(exchange_id=root.pk)
        _purge_exchange_rows(subtree)
        purged += 1
    return purged


def exchange_purge(*, exchange: ConversationPromptResponse) -> None:
    """Delete an exchange in the trash for good, with the branch below it. Conflict (409) when it is
    not in the trash."""
    with transaction.atomic():
        core_services.lock_for_update(Conversation, exchange.conversation_id)
        locked = core_services.lock_for_update(ConversationPromptResponse, exchange.pk)
        core_services.ensure_deleted(locked)
        _purge_exchange_trees([locked])


# --- Purge: hard delete from the trash, stored files included ---------------------------------------------

PURGE_BATCH_SIZE = 200


def _purge_conversation_rows(conversation_ids: list) -> set[str]:
    """Hard-delete these conversations and every row they own; returns the digests of their files.

    Prompts and responses hang off the exchanges (the exchange holds the one-to-one keys), so their
    ids are read before the exchanges go.
    """
    if not conversation_ids:
        return set()
    exchanges = ConversationPromptResponse.all_objects.filter(conversation_id__in=conversation_ids)
    prompt_ids, response_ids = [], []
    for prompt_id, response_id in exchanges.values_list("prompt_id", "response_id"):
        prompt_ids.append(prompt_id)
        response_ids.append(response_id)
    attachments = Attachment.all_objects.filter(conversation_id__in=conversation_ids)
    digests = set(attachments.values_list("sha256", flat=True))
    Conversation.all_objects.filter(pk__in=conversation_ids).update(current_exchange=None)
    Feedback.all_objects.filter(response_id__in=response_ids).delete()
    Note.all_objects.filter(response_id__in=response_ids).delete()
    attachments.delete()
    exchanges.delete()
    Prompt.all_objects.filter(pk__in=prompt_ids).delete()
    AIResponse.all_objects.filter(pk__in=response_ids).delete()
    Conversation.all_objects.filter(pk__in=conversation_ids).delete()
    return digests


def _release_files_on_commit(digests: set[str]) -> None:
    if digests:
        transaction.on_commit(lambda: attachment_files_release(sha256s=digests))


def conversation_purge(*, conversation: Conversation) -> None:
    """Delete a conversation in the trash for good, with everything it owns and the files no other
    attachment shares. Conflict (409) when it is not in the trash."""
    with transaction.atomic():
        core_services.ensure_deleted(core_services.lock_for_update(Conversation, conversation.pk))
        _release_files_on_commit(_purge_conversation_rows([conversation.pk]))


def _purge_folders(folders: Iterable[Folder]) -> tuple[set[str], int]:
    """Hard-delete these deleted folders with what their deletion took; rows that were deleted on
    their own (another instant) or are alive stay, moved to the top level. Returns the digests of the
    files the purged conversations had and the number of folders deleted."""
    digests: set[str] = set()
    purged = 0
    for folder in folders:
        subtree = [folder.pk, *folder_descendant_ids(folder=folder)]
        Folder.all_objects.filter(pk__in=subtree[1:]).exclude(deleted_at=folder.deleted_at).update(
            parent=None
        )
        subtree = [folder.pk, *folder_descendant_ids(folder=folder)]
        taken = Conversation.all_objects.filter(folder_id__in=subtree, deleted_at=folder.deleted_at)
        digests |= _purge_conversation_rows(list(taken.values_list("pk", flat=True)))
        Conversation.all_objects.filter(folder_id__in=subtree).update(folder=None)
        purged += Folder.all_objects.filter(pk__in=subtree).delete()[1].get(Folder._meta.label, 0)
    return digests, purged


def folder_purge(*, folder: Folder) -> None:
    """Delete a folder in the trash for good, with the subfolders and conversations its deletion took.
    Conflict (409) when it is not in the trash."""
    with transaction.atomic():
        locked = core_services.lock_for_update(Folder, folder.pk)
        core_services.ensure_deleted(locked)
        _release_files_on_commit(_purge_folders([locked])[0])


def trash_empty(*, owner: User) -> None:
    """Purge everything in the owner's trash."""
    with transaction.atomic():
        roots = (
            Folder.all_objects.dead().filter(owner=owner).exclude(parent__deleted_at=models.F("deleted_at"))
        )
        digests, _ = _purge_folders(list(roots))
        conversations = Conversation.all_objects.dead().filter(owner=owner)
        digests |= _purge_conversation_rows(list(conversations.values_list("pk", flat=True)))
        _purge_exchange_trees(_trashed_exchange_roots().filter(conversation__owner=owner))
        _release_files_on_commit(digests)


def trash_purge_expired(*, deleted_before: datetime) -> dict[str, int]:
    """Purge, for every user, what was deleted before `deleted_before`: folders, conversations, and
    attachments, notes and feedback deleted on their own. Works in batches, each its own transaction,
    so a long purge neither holds locks for long nor loses its progress. Returns counts by kind."""
    counts = {"folders": 0, "conversations": 0, "exchanges": 0, "attachments": 0, "notes": 0, "feedback": 0}
    # A folder deleted with its parent goes with that parent's purge: only the roots are picked here.
    expired_roots = Folder.all_objects.filter(deleted_at__lt=deleted_before).exclude(
        parent__deleted_at=models.F("deleted_at")
    )
    while batch := list(expired_roots.order_by("pk")[:PURGE_BATCH_SIZE]):
        with transaction.atomic():
            digests, purged = _purge_folders(batch)
            _release_files_on_commit(digests)
            counts["folders"] += purged
    expired_conversations = Conversation.all_objects.filter(deleted_at__lt=deleted_before)
    while batch := list(expired_conversations.values_list("pk", flat=True)[:PURGE_BATCH_SIZE]):
        with transaction.atomic():
            _release_files_on_commit(_purge_conversation_rows(batch))
            counts["conversations"] += len(batch)
    expired_exchanges = _trashed_exchange_roots().filter(deleted_at__lt=deleted_before)
    while batch := list(expired_exchanges.order_by("pk")[:PURGE_BATCH_SIZE]):
        with transaction.atomic():
            counts["exchanges"] += _purge_exchange_trees(batch)
    with transaction.atomic():
        attachments = Attachment.all_objects.filter(deleted_at__lt=deleted_before)
        digests = set(attachments.values_list("sha256", flat=True))
        counts["attachments"] = attachments.delete()[0]
        counts["notes"] = Note.all_objects.filter(deleted_at__lt=deleted_before).delete()[0]
        counts["feedback"] = Feedback.all_objects.filter(deleted_at__lt=deleted_before).delete()[0]
        _release_files_on_commit(digests)
    return counts
