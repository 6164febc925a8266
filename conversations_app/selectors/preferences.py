"""What people's actions say about the models that answered them, for the leaderboard (explore_app):
thumbs up/down per model and user, and the preferences implied by regenerated answers.

A regenerated answer is a sibling exchange (same conversation, parent and position). Of a set of
siblings, the one on the conversation's current branch is the one its owner *kept*: it beats each of
its siblings. Only alive rows of alive conversations count, and only answers that came out whole
(`complete`): a failed or interrupted answer lost to the network, not to the other model.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import Count, F, Q, QuerySet

from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, Feedback

_EXCHANGES = ConversationPromptResponse._meta.db_table
_CONVERSATIONS = Conversation._meta.db_table
_RESPONSES = AIResponse._meta.db_table

# The current branches of the conversations that have regenerated answers (the others imply nothing),
# then each kept exchange of those branches against every alive sibling.
_PREFERENCES_SQL = f"""
    WITH RECURSIVE regenerated AS (
        SELECT DISTINCT conversation_id FROM {_EXCHANGES}
        WHERE deleted_at IS NULL
        GROUP BY conversation_id, parent_id, position HAVING count(*) > 1
    ), branch(id, parent_id) AS (
        SELECT e.id, e.parent_id
        FROM {_CONVERSATIONS} c JOIN {_EXCHANGES} e ON e.id = c.current_exchange_id
        WHERE c.deleted_at IS NULL AND e.deleted_at IS NULL
          AND c.id IN (SELECT conversation_id FROM regenerated)
        UNION ALL
        SELECT e.id, e.parent_id FROM {_EXCHANGES} e JOIN branch b ON e.id = b.parent_id
        WHERE e.deleted_at IS NULL
    )
    SELECT c.owner_id, kept_answer.model_name, other_answer.model_name,
           greatest(kept.created_at, other.created_at), kept.created_at < other.created_at
    FROM branch b
    JOIN {_EXCHANGES} kept ON kept.id = b.id
    JOIN {_EXCHANGES} other
      ON other.conversation_id = kept.conversation_id AND other.position = kept.position
     AND other.parent_id IS NOT DISTINCT FROM kept.parent_id AND other.id <> kept.id
     AND other.deleted_at IS NULL
    JOIN {_CONVERSATIONS} c ON c.id = kept.conversation_id
    JOIN {_RESPONSES} kept_answer ON kept_answer.id = kept.response_id
    JOIN {_RESPONSES} other_answer ON other_answer.id = other.response_id
    WHERE kept_answer.deleted_at IS NULL AND kept_answer.status = 'complete'
      AND other_answer.deleted_at IS NULL AND other_answer.status = 'complete'
      AND greatest(kept.created_at, other.created_at) >= %(since)s
    ORDER BY 1, 2, 3, 4
"""  # noqa: S608 - the table names are ours, the value is a parameter

# Before any answer could have been written: "since the beginning".
_BEGINNING = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Preference:
    """One kept answer against one sibling: whose conversation, which models (the same one for a
    regeneration with the same model), when the second of the two was made, and whether the kept
    answer was the earlier of the two (the first answer held up against its retry)."""

    user_id: UUID
    winner: str
    loser: str
    at: datetime.datetime
    kept_earlier: bool


def answer_preferences(*, since: datetime.datetime | None = None) -> list[Preference]:
    """Every preference implied by regenerated answers (see the module), made since `since` (the
    later of the two answers): one query."""
    with connection.cursor() as cursor:
        cursor.execute(_PREFERENCES_SQL, {"since": since or _BEGINNING})
        return [Preference(*row) for row in cursor.fetchall()]


def feedback_by_model_and_user(*, since: datetime.datetime | None = None) -> QuerySet[Any]:
    """Alive thumbs given since `since` on alive answers of alive conversations, per model name of the
    answer and user: rows of `model_name`, `user_id`, `up`, `down`. One GROUP BY."""
    feedback = Feedback.objects.filter(
        response__deleted_at__isnull=True,
        response__exchange__deleted_at__isnull=True,
        response__exchange__conversation__deleted_at__isnull=True,
    )
    if since is not None:
        feedback = feedback.filter(created_at__gte=since)
    return (
        feedback.values("user_id", model_name=F("response__model_name"))
        .annotate(up=Count("id", filter=Q(rating=1)), down=Count("id", filter=Q(rating=-1)))
        .order_by("model_name", "user_id")
    )
