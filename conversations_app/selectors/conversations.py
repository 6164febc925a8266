"""Reads of conversations: the owner's list, one conversation, one answer the owner may annotate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from conversations_app.models import (
    AIResponse,
    Attachment,
    Conversation,
    ConversationLabel,
    ConversationPromptResponse,
    Feedback,
    Label,
    Note,
)
from core.exceptions import NotFound

if TYPE_CHECKING:
    from auth_app.models import User


def with_label_ids(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Each conversation with `label_ids`: the ids of its alive labels by name (a subquery per row of
    the page, no N+1)."""
    labels = (
        ConversationLabel.objects.filter(conversation_id=OuterRef("pk"), label__deleted_at__isnull=True)
        .order_by("label__name", "label_id")
        .values("label_id")
    )
    return conversations.annotate(label_ids=ArraySubquery(labels))


def conversation_list(*, owner: User) -> QuerySet[Conversation]:
    """The owner's alive conversations with their labels; the list orders them by last activity
    (partial index conv_owner_last_msg_idx serves owner + last_message_at DESC + id DESC)."""
    return with_label_ids(Conversation.objects.filter(owner=owner))


def label_list(*, owner: User) -> QuerySet[Label]:
    """The owner's alive labels."""
    return Label.objects.filter(owner=owner)


def conversation_get(*, owner: User, conversation_id: UUID | str) -> Conversation:
    """The owner's alive conversation; NotFound for a missing, deleted or foreign one."""
    conversation = Conversation.objects.filter(owner=owner, pk=conversation_id).first()
    if conversation is None:
        raise NotFound("Conversation not found.")
    return conversation


def conversation_for_api_history(*, api_key_id: UUID, model_id: UUID, digest: str) -> Conversation | None:
    """The alive conversation started with this key, with this model, whose turns so far have this
    digest (the one an API call continues), with its model; None when there is none. The latest
    one if a client repeated itself."""
    return (
        Conversation.objects.filter(api_key_id=api_key_id, api_history_digest=digest, model_id=model_id)
        .order_by("-last_message_at")
        .first()
    )


def owned_answer(owner: User, *, path: str = "") -> Q:
    """An alive answer in an alive exchange of the owner's alive conversation; `path` leads from the
    queried model to the answer (e.g. "response__" from feedback or notes)."""
    return Q(
        **{
            f"{path}deleted_at__isnull": True,
            f"{path}exchange__deleted_at__isnull": True,
            f"{path}exchange__conversation__deleted_at__isnull": True,
            f"{path}exchange__conversation__owner": owner,
        }
    )


def response_get_owned(*, owner: User, response_id: UUID | str) -> AIResponse:
    """An alive answer in an alive exchange of the owner's alive conversation; NotFound otherwise."""
    response = AIResponse.objects.filter(owned_answer(owner), pk=response_id).only("id", "content").first()
    if response is None:
        raise NotFound("Response not found.")
    return response


@dataclass(frozen=True)
class ConversationExport:
    """Everything a conversation holds, for a lossless export: every branch, feedback, notes, files."""

    conversation: Conversation
    exchanges: list[ConversationPromptResponse]
    feedback: list[Feedback]
    notes: list[Note]
    attachments: list[Attachment]


def conversation_export(*, owner: User, conversation_id: UUID | str) -> ConversationExport:
    """The owner's alive conversation (with its alive labels) with all its alive exchanges (prompt and
    response joined), the owner's feedback and notes on them, and its attachments: six queries
    whatever the size."""
    conversation = (
        Conversation.objects.filter(owner=owner, pk=conversation_id)
        .select_related("system_message", "folder")
        .prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name", "id")))
        .first()
    )
    if conversation is None:
        raise NotFound("Conversation not found.")
    on_conversation = owned_answer(owner, path="response__") & Q(
        response__exchange__conversation=conversation
    )
    return ConversationExport(
        conversation=conversation,
        exchanges=list(
            ConversationPromptResponse.objects.filter(conversation=conversation)
            .select_related("prompt", "response")
            .order_by("position", "created_at", "id")
        ),
        feedback=list(Feedback.objects.filter(on_conversation, user=owner).order_by("created_at", "id")),
        notes=list(
            Note.objects.filter(on_conversation, owner=owner).order_by("from_index", "created_at", "id")
        ),
        attachments=list(Attachment.objects.filter(conversation=conversation).order_by("created_at", "id")),
    )


def conversation_count_per_model() -> Coalesce:
    """For a query over catalogue models: the number of alive conversations with each model (the
    outer row's `pk`), as a correlated subquery (no join, no N+1). How the catalogue measures
    popularity."""
    counts = (
        Conversation.objects.filter(model=OuterRef("pk"))
        .order_by()
        .values("model")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)
