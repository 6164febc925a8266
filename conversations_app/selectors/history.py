"""Reads of a conversation's history: the current branch, one exchange, the ancestors of one.

A conversation's exchanges form a tree (`parent`, `position` = depth). The *current branch* is the
path from the root down to `conversation.current_exchange`; it is read with one recursive CTE
walking up the parent chain, and every exchange comes with its prompt, its response, the caller's
feedback, the caller's note count and its siblings, in the same query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, JSONObject

from conversations_app.models import AIResponse, ConversationPromptResponse, Feedback, Note, Prompt
from core.exceptions import NotFound

_EXCHANGES = ConversationPromptResponse._meta.db_table

# The exchange itself and all its ancestors, alive ones only (a conversation is deleted whole).
_ANCESTRY_SQL = f"""
    WITH RECURSIVE ancestry(id, parent_id) AS (
        SELECT id, parent_id FROM {_EXCHANGES} WHERE id = %s AND deleted_at IS NULL
        UNION ALL
        SELECT e.id, e.parent_id FROM {_EXCHANGES} e JOIN ancestry a ON e.id = a.parent_id
        WHERE e.deleted_at IS NULL
    )
    SELECT id FROM ancestry
"""  # noqa: S608 - the table name is ours, the value is a parameter


# What a history entry shows, as the keys of its row (search vectors and bookkeeping columns stay out).
ROW_FIELDS = (
    "id",
    "conversation_id",
    "parent_id",
    "position",
    "created_at",
    "prompt_id",
    "prompt__content",
    "prompt__options",
    "prompt__token_count",
    "prompt__history_omitted",
    "prompt__documents",
    "prompt__created_at",
    "response_id",
    "response__content",
    "response__model_name",
    "response__status",
    "response__done_reason",
    "response__error",
    "response__thinking",
    "response__total_duration",
    "response__load_duration",
    "response__prompt_eval_count",
    "response__prompt_eval_duration",
    "response__eval_count",
    "response__eval_duration",
    "response__created_at",
    "response__completed_at",
    "caller_feedback",
    "note_count",
    "sibling_ids",
)


def _siblings(outer: str = "") -> QuerySet[ConversationPromptResponse]:
    """Alive exchanges sharing the outer exchange's parent (roots: position 0), oldest first.

    Position equals depth, so "same conversation and position, same parent" also matches the roots,
    whose parent is NULL, and uses the (conversation, position) index.
    """
    return (
        ConversationPromptResponse.objects.filter(
            conversation_id=OuterRef(f"{outer}conversation_id"), position=OuterRef(f"{outer}position")
        )
        .filter(Q(parent_id=OuterRef(f"{outer}parent_id")) | Q(position=0))
        .order_by("created_at", "id")
    )


def exchange_rows(*, user: Any, where: Q | None = None, order_by: tuple[str, ...] = ()) -> QuerySet:
    """Alive exchanges matching `where` as rows (dicts keyed by ROW_FIELDS) with prompt and response
    joined and, per exchange: the caller's feedback on the response (`caller_feedback`, a dict or
    None), the caller's alive notes on it (`note_count`) and the ids of its siblings in creation
    order (`sibling_ids`, itself included). Rows, not instances: history is read, never written.

    Filtering and ordering are applied before the annotations, which makes the queryset cheaper to
    build (every clone copies the annotations' subqueries).
    """
    feedback = Feedback.objects.filter(response_id=OuterRef("response_id"), user=user).values(
        data=JSONObject(id="id", rating="rating", reason="reason", comment="comment", version="version")
    )[:1]
    notes = (
        Note.objects.filter(response_id=OuterRef("response_id"), owner=user)
        .order_by()
        .values("response_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        ConversationPromptResponse.objects.filter(
            where or Q(), prompt__deleted_at__isnull=True, response__deleted_at__isnull=True
        )
        .order_by(*order_by)
        .annotate(
            caller_feedback=Subquery(feedback),
            note_count=Coalesce(Subquery(notes, output_field=IntegerField()), Value(0)),
            sibling_ids=ArraySubquery(_siblings().values("id")),
        )
        .values(*ROW_FIELDS)
    )


def branch_rows(*, user: Any, leaf_id: UUID | None) -> QuerySet:
    """The exchanges from the root down to `leaf_id`, as `exchange_rows`, ordered by position.
    Empty when the conversation has no exchange yet (`leaf_id` None)."""
    if leaf_id is None:
        return ConversationPromptResponse.objects.none()
    ancestry = RawSQL(_ANCESTRY_SQL, [leaf_id])  # noqa: S611 - constant SQL, the id is a parameter
    return exchange_rows(user=user, where=Q(id__in=ancestry), order_by=("position",))


def conversation_branch(*, user: Any, conversation: Any) -> QuerySet:
    """The conversation's current branch as rows, oldest exchange first (paginate it by position)."""
    return branch_rows(user=user, leaf_id=conversation.current_exchange_id)


_PROMPTS = Prompt._meta.db_table
_RESPONSES = AIResponse._meta.db_table

# The turns above an exchange, newest first, each with the UTF-8 size of the turns from the start of the
# walk down to it; the walk stops once that size passes the budget, so its cost follows the budget,
# not the length of the conversation. An answer without text (failed before its first token) weighs
# nothing here and is left out by the caller.
_TURNS_WITHIN_SQL = f"""
    WITH RECURSIVE turns(id, parent_id, position, prompt, answer, total) AS (
        SELECT e.id, e.parent_id, e.position, p.content, r.content,
               octet_length(p.content) + octet_length(r.content)
        FROM {_EXCHANGES} e
        JOIN {_PROMPTS} p ON p.id = e.prompt_id
        JOIN {_RESPONSES} r ON r.id = e.response_id
        WHERE e.id = %(start)s AND e.deleted_at IS NULL
        UNION ALL
        SELECT e.id, e.parent_id, e.position, p.content, r.content,
               t.total + octet_length(p.content) + octet_length(r.content)
        FROM turns t
        JOIN {_EXCHANGES} e ON e.id = t.parent_id
        JOIN {_PROMPTS} p ON p.id = e.prompt_id
        JOIN {_RESPONSES} r ON r.id = e.response_id
        WHERE e.deleted_at IS NULL AND t.total <= %(budget)s
    )
    SELECT position, prompt, answer, total FROM turns WHERE total <= %(budget)s ORDER BY position
"""  # noqa: S608 - the table names are ours, the values are parameters


@dataclass(frozen=True)
class Turn:
    """An earlier exchange as the model is shown it: the prompt and the answer's text."""

    position: int
    prompt: str
    answer: str


def ancestor_turns_within(*, exchange: ConversationPromptResponse, budget_bytes: int) -> list[Turn]:
    """The newest exchanges above `exchange` (not itself) whose texts fit in `budget_bytes` (UTF-8),
    oldest first: only their text columns, in one query whose cost follows the budget."""
    if exchange.parent_id is None or budget_bytes <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_TURNS_WITHIN_SQL, {"start": exchange.parent_id, "budget": budget_bytes})
        return [Turn(position, prompt, answer) for position, prompt, answer, _total in cursor.fetchall()]


def exchange_get(*, user: Any, conversation_id: UUID, exchange_id: UUID) -> ConversationPromptResponse:
    """One alive exchange of the caller's alive conversation; NotFound otherwise."""
    exchange = ConversationPromptResponse.objects.filter(
        pk=exchange_id,
        conversation_id=conversation_id,
        conversation__owner=user,
        conversation__deleted_at__isnull=True,
    ).first()
    if exchange is None:
        raise NotFound("Exchange not found.")
    return exchange


def exchange_of_response_get(*, user: Any, response_id: UUID) -> ConversationPromptResponse:
    """The alive exchange of one of the caller's alive answers, with the answer; NotFound otherwise."""
    exchange = (
        ConversationPromptResponse.objects.select_related("response")
        .filter(
            response_id=response_id,
            response__deleted_at__isnull=True,
            conversation__owner=user,
            conversation__deleted_at__isnull=True,
        )
        .first()
    )
    if exchange is None:
        raise NotFound("Response not found.")
    return exchange


def exchange_row_get(*, user: Any, exchange_id: UUID) -> dict[str, Any]:
    """The row (as `exchange_rows`) of an exchange the caller was already allowed to see."""
    return exchange_rows(user=user, where=Q(pk=exchange_id)).get()


# From an exchange down to a leaf, taking at each level the most recently created alive child.
_DEEPEST_LEAF_SQL = f"""
    WITH RECURSIVE descent(id, depth) AS (
        SELECT id, 0 FROM {_EXCHANGES} WHERE id = %s
        UNION ALL
        SELECT child.id, d.depth + 1
        FROM descent d
        CROSS JOIN LATERAL (
            SELECT c.id FROM {_EXCHANGES} c
            WHERE c.parent_id = d.id AND c.deleted_at IS NULL
            ORDER BY c.created_at DESC, c.id DESC
            LIMIT 1
        ) child
    )
    SELECT id FROM descent ORDER BY depth DESC LIMIT 1
"""  # noqa: S608 - the table name is ours, the value is a parameter


def deepest_leaf_id(exchange_id: Any) -> Any:
    """The leaf reached from an exchange by taking, at each level, the most recently created alive
    child (the exchange itself when it has none)."""
    with connection.cursor() as cursor:
        cursor.execute(_DEEPEST_LEAF_SQL, [exchange_id])
        (leaf_id,) = cursor.fetchone()
    return leaf_id
