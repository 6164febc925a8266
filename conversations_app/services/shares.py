"""Writes on shared links: freeze a conversation's branch behind a token, revoke it, count who opens it,
and continue a shared chat as one's own conversation.

A link's token is 256 random bits (`secrets.token_urlsafe(32)`), returned once, when the link is made,
and stored only as its SHA-256: the lookup by digest is an index probe on a value the caller cannot
steer, so no comparison of secrets happens in Python at all.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, Prompt, SharedLink
from conversations_app.selectors.shares import conversation_branch_snapshot, token_digest
from conversations_app.services.conversations import conversation_create
from core.audit import audit_record
from core.exceptions import Conflict, ValidationFailed

if TYPE_CHECKING:
    from auth_app.models import User

TOKEN_BYTES = 32
SHARE_MIN_SECONDS = 60
SHARE_MAX_SECONDS = 365 * 24 * 3600
SHARE_DEFAULT_SECONDS = 30 * 24 * 3600


def utc_text(instant: datetime) -> str:
    """An instant as the API writes them: ISO 8601 in UTC with a "Z"."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _snapshot(conversation: Conversation, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The frozen, public form of a branch: the title, the model, the dates and the texts only."""
    return {
        "title": conversation.title,
        "model_name": conversation.model_name,
        "conversation_created_at": utc_text(conversation.created_at),
        "exchanges": [
            {
                "position": row["position"],
                "prompt": {
                    "content": row["prompt__content"],
                    "created_at": utc_text(row["prompt__created_at"]),
                },
                "answer": {
                    "content": row["response__content"],
                    "model_name": row["response__model_name"],
                    "status": row["response__status"],
                    "created_at": utc_text(row["response__created_at"]),
                    "completed_at": (
                        utc_text(row["response__completed_at"]) if row["response__completed_at"] else None
                    ),
                },
            }
            for row in rows
        ],
    }


def shared_link_create(
    *, owner: User, conversation: Conversation, expires_in: int = SHARE_DEFAULT_SECONDS
) -> tuple[SharedLink, str]:
    """Freeze the conversation's current branch into a new link valid for `expires_in` seconds; returns
    the link and its token (the only time the token exists outside the caller's hands).

    Conflict (409) when the branch is empty. Every call makes a new snapshot: links made earlier keep
    showing what they showed.
    """
    rows = conversation_branch_snapshot(conversation=conversation)
    if not rows:
        raise Conflict("There is nothing to share yet: send a message first.", code="nothing_to_share")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = SharedLink(
        owner=owner,
        conversation=conversation,
        token_hash=token_digest(token),
        title=conversation.title,
        exchange_count=len(rows),
        snapshot=_snapshot(conversation, rows),
        expires_at=timezone.now() + timedelta(seconds=expires_in),
    )
    with transaction.atomic():
        link.save(force_insert=True)
        audit_record(
            action="shared_link_created",
            target=link,
            after={"conversation": str(conversation.pk), "expires_at": utc_text(link.expires_at)},
        )
    return link, token


def shared_link_revoke(*, link: SharedLink) -> SharedLink:
    """Close a link for good: its token opens nothing from now on (the row stays, for the record)."""
    now = timezone.now()
    with transaction.atomic():
        SharedLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=now, updated_at=now)
        audit_record(action="shared_link_revoked", target=link, before={"revoked_at": None})
    link.revoked_at = now
    return link


def shared_link_record_access(*, link: SharedLink) -> None:
    """Count one opening of the link: a single atomic UPDATE (no read-modify-write, no lock held beyond
    the statement), so concurrent readers never lose a count."""
    SharedLink.objects.filter(pk=link.pk).update(
        access_count=F("access_count") + 1, last_accessed_at=timezone.now()
    )


def _finished_status(status: str) -> str:
    # An answer that was still arriving when it was shared will never be finished in the copy.
    return AIResponse.Status.INTERRUPTED if status == AIResponse.Status.STREAMING else status


def conversation_fork_shared(*, user: User, link: SharedLink) -> Conversation:
    """A new conversation of `user` holding the link's exchanges as one linear branch, with the same
    model (Conflict 409 when the catalogue no longer offers it) and title, ready to go on.

    The copy spends no tokens (its token totals start at zero) and its messages are the caller's own:
    prompts, answers and exchanges are written in three bulk inserts, whatever the length.
    """
    snapshot = link.snapshot
    exchanges = snapshot["exchanges"]
    with transaction.atomic():
        try:
            conversation = conversation_create(
                owner=user, model_ref=snapshot["model_name"], title=snapshot["title"]
            )
        except ValidationFailed as exc:  # the model is no longer published
            raise Conflict(
                f"The model '{snapshot['model_name']}' is no longer offered; this chat cannot be continued.",
                code="model_unavailable",
            ) from exc
        now = timezone.now()
        prompts, responses, rows = [], [], []
        parent: ConversationPromptResponse | None = None
        for position, item in enumerate(exchanges):
            answer = item["answer"]
            prompt = Prompt(content=item["prompt"]["content"], owner_id=user.pk)
            response = AIResponse(
                content=answer["content"],
                model_name=answer["model_name"],
                status=_finished_status(answer["status"]),
                done_reason="stop" if answer["status"] == AIResponse.Status.COMPLETE else "",
                completed_at=now,
                owner_id=user.pk,
            )
            exchange = ConversationPromptResponse(
                conversation=conversation, prompt=prompt, response=response, parent=parent, position=position
            )
            prompts.append(prompt)
            responses.append(response)
            rows.append(exchange)
            parent = exchange
        Prompt.objects.bulk_create(prompts)
        AIResponse.objects.bulk_create(responses)
        ConversationPromptResponse.objects.bulk_create(rows)
        message_count = len(prompts) + sum(1 for response in responses if response.content)
        Conversation.objects.filter(pk=conversation.pk).update(
            current_exchange=rows[-1] if rows else None,
            message_count=message_count,
            last_message_at=now,
            updated_at=now,
        )
        conversation.refresh_from_db()
    return conversation
