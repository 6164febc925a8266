"""Full-text search over the caller's prompts and answers, ranked, with highlighted snippets.

One statement: the composite GIN indexes on (owner, search_vector) find the caller's matches without
a join, they are ranked, and only the requested page is joined to its exchange and conversation and
turned into snippets (ts_headline reads the whole text, so it runs on the page only).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import Q

from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, Prompt

if TYPE_CHECKING:
    from auth_app.models import User

SEARCH_CONFIG = "english"
# A word in more of the caller's prompts (or answers) than this: the newest ones are ranked. Ranking
# reads every candidate row, and past a few thousand matches relevance barely separates them while
# recency still does.
RANK_WINDOW = 2000
# Private-use code points mark the hits inside ts_headline's output; the snippet is HTML-escaped
# afterwards and only these markers become <mark> tags, so message text can never inject markup.
_START, _STOP = "\ue000", "\ue001"
_HEADLINE_OPTIONS = (
    f"StartSel={_START}, StopSel={_STOP}, MaxWords=30, MinWords=12, ShortWord=2, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)


@dataclass(frozen=True)
class SearchHit:
    """One matching prompt or answer, where it lives, and a snippet with <mark>ed terms."""

    kind: str
    message_id: UUID
    exchange_id: UUID
    conversation_id: UUID
    conversation_title: str
    created_at: datetime
    rank: float
    snippet: str


def _snippet(headline: str) -> str:
    return html.escape(headline).replace(_START, "<mark>").replace(_STOP, "</mark>")


def _search_sql() -> str:
    prompt = Prompt._meta.db_table
    response = AIResponse._meta.db_table
    exchange = ConversationPromptResponse._meta.db_table
    conversation = Conversation._meta.db_table
    tsquery = f"websearch_to_tsquery('{SEARCH_CONFIG}', %(q)s)"
    # Each kind of message: the owner's alive matches (composite GIN index on owner + search_vector,
    # no join), the newest RANK_WINDOW of them ranked.
    branch = """
        SELECT '{kind}' AS kind, m.id AS message_id, m.created_at, ts_rank(m.search_vector, {tsquery}) AS rank
        FROM (
            SELECT id, created_at, search_vector FROM {table}
            WHERE owner_id = %(owner)s AND deleted_at IS NULL AND search_vector @@ {tsquery}
            ORDER BY created_at DESC, id DESC
            LIMIT %(window)s
        ) m
    """
    prompts = branch.format(kind="prompt", table=prompt, tsquery=tsquery)
    responses = branch.format(kind="response", table=response, tsquery=tsquery)
    # Only the page's rows are joined to their exchange and conversation and get a snippet. Deleting a
    # conversation soft-deletes its messages with it, so the alive filters below only guard that rule.
    return f"""
        WITH page AS (
            ({prompts})
            UNION ALL
            ({responses})
            ORDER BY rank DESC, created_at DESC, message_id DESC
            LIMIT %(limit)s OFFSET %(offset)s
        )
        SELECT page.kind, page.message_id, coalesce(ep.id, er.id), c.id, c.title, page.created_at, page.rank,
               ts_headline('{SEARCH_CONFIG}', coalesce(p.content, r.content), {tsquery}, %(headline)s)
        FROM page
        LEFT JOIN {prompt} p ON page.kind = 'prompt' AND p.id = page.message_id
        LEFT JOIN {response} r ON page.kind = 'response' AND r.id = page.message_id
        LEFT JOIN {exchange} ep ON page.kind = 'prompt' AND ep.prompt_id = page.message_id
        LEFT JOIN {exchange} er ON page.kind = 'response' AND er.response_id = page.message_id
        JOIN {conversation} c ON c.id = coalesce(ep.conversation_id, er.conversation_id)
        WHERE coalesce(ep.deleted_at, er.deleted_at) IS NULL AND c.deleted_at IS NULL
        ORDER BY page.rank DESC, page.created_at DESC, page.message_id DESC
    """  # noqa: S608 - table names are ours; every value is a bound parameter


def message_search_statement(*, owner: User, query: str, limit: int, offset: int = 0) -> tuple[str, dict]:
    """The SQL and parameters `message_search` runs (EXPLAIN it to see the GIN indexes at work)."""
    params = {
        "q": query,
        "owner": owner.pk,
        "window": RANK_WINDOW,
        "limit": limit,
        "offset": offset,
        "headline": _HEADLINE_OPTIONS,
    }
    return _search_sql(), params


def message_search(*, owner: User, query: str, limit: int, offset: int = 0) -> list[SearchHit]:
    """The caller's prompts and answers in alive conversations matching `query` (web-search syntax:
    words, "quoted phrases", -excluded, or), best first; one SQL statement."""
    with connection.cursor() as cursor:
        cursor.execute(*message_search_statement(owner=owner, query=query, limit=limit, offset=offset))
        rows = cursor.fetchall()
    return [
        SearchHit(
            kind=kind,
            message_id=message_id,
            exchange_id=exchange_id,
            conversation_id=conversation_id,
            conversation_title=title,
            created_at=created_at,
            rank=float(rank),
            snippet=_snippet(headline),
        )
        for kind, message_id, exchange_id, conversation_id, title, created_at, rank, headline in rows
    ]


def conversation_matching(*, owner: User, text: str) -> Q:
    """For a query over the owner's conversations: those whose title is like `text` (trigram word
    similarity, so typos still match, or containing it) or with an alive prompt or answer matching it
    (full text, the composite GIN indexes on owner + search vector)."""
    tsquery = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
    in_prompts = ConversationPromptResponse.objects.filter(
        prompt__in=Prompt.objects.filter(owner=owner, search_vector=tsquery).values("pk")
    ).values("conversation_id")
    in_answers = ConversationPromptResponse.objects.filter(
        response__in=AIResponse.objects.filter(owner=owner, search_vector=tsquery).values("pk")
    ).values("conversation_id")
    return (
        Q(title__trigram_word_similar=text)
        | Q(title__icontains=text)
        | Q(pk__in=in_prompts)
        | Q(pk__in=in_answers)
    )
