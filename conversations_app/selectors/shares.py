"""Reads of shared links: the owner's links, the branch a new link freezes, an open link by its token."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from conversations_app.models import Conversation, ConversationPromptResponse, SharedLink
from conversations_app.selectors.history import _ANCESTRY_SQL
from core.exceptions import NotFound

if TYPE_CHECKING:
    from auth_app.models import User

# What a snapshot keeps of each exchange of the branch: texts, model and dates, nothing of the owner's
# (no feedback, no notes, no ids, no generation options).
SNAPSHOT_FIELDS = (
    "position",
    "prompt__content",
    "prompt__created_at",
    "response__content",
    "response__model_name",
    "response__status",
    "response__created_at",
    "response__completed_at",
)


def token_digest(token: str) -> str:
    """The SHA-256 (hex) a share token is stored and looked up as."""
    return hashlib.sha256(token.encode()).hexdigest()


def shared_link_list(*, owner: User) -> QuerySet[SharedLink]:
    """The owner's links that are not revoked (expired ones included, they say so), newest first;
    the snapshot itself is left out (the list shows what it is, not what it holds)."""
    return SharedLink.objects.filter(owner=owner, revoked_at__isnull=True).defer("snapshot")


def shared_link_get_owned(*, owner: User, link_id: UUID | str) -> SharedLink:
    """The owner's link that is not revoked; NotFound for a missing, revoked or foreign one."""
    link = shared_link_list(owner=owner).filter(pk=link_id).first()
    if link is None:
        raise NotFound("Shared link not found.")
    return link


def open_link_filter(*, path: str = "") -> Q:
    """A link anyone holding its token may open: not revoked, not expired, its conversation alive and
    its owner an active account (`path` leads from the queried model to the link)."""
    return Q(
        **{
            f"{path}revoked_at__isnull": True,
            f"{path}expires_at__gt": timezone.now(),
            f"{path}conversation__deleted_at__isnull": True,
            f"{path}owner__deleted_at__isnull": True,
            f"{path}owner__is_active": True,
        }
    )


def shared_link_get_open(*, token: str) -> SharedLink:
    """The open link of this token, snapshot included; NotFound otherwise (never saying why)."""
    link = SharedLink.objects.filter(open_link_filter(), token_hash=token_digest(token)).first()
    if link is None:
        raise NotFound("Shared conversation not found.")
    return link


def conversation_branch_snapshot(*, conversation: Conversation) -> list[dict[str, Any]]:
    """The conversation's current branch, oldest exchange first, as the plain rows a snapshot keeps
    (SNAPSHOT_FIELDS): one query whatever its length."""
    if conversation.current_exchange_id is None:
        return []
    ancestry = RawSQL(_ANCESTRY_SQL, [conversation.current_exchange_id])  # noqa: S611 - id as parameter
    rows = (
        ConversationPromptResponse.objects.filter(
            id__in=ancestry, prompt__deleted_at__isnull=True, response__deleted_at__isnull=True
        )
        .order_by("position")
        .values(*SNAPSHOT_FIELDS)
    )
    return list(rows)
