"""Message search view."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations_app.api.serializers import SearchQuerySerializer, SearchResultsSerializer
from conversations_app.selectors import message_search
from core.api import ReplicaReadsMixin, validated


class SearchView(ReplicaReadsMixin, APIView):
    """Full-text search across your prompts and answers."""

    @extend_schema(
        summary="Search your prompts and answers",
        description="Full-text search over the prompts and answers of your alive conversations (English "
        'stemming; web-search syntax: words, "quoted phrases", -excluded, or), best match first, with '
        "HTML-escaped snippets whose matches are in <mark>. A word found in more than 2,000 of your prompts "
        "(or answers) is ranked among the newest 2,000 of them.",
        parameters=[SearchQuerySerializer],
        responses=SearchResultsSerializer,
    )
    def get(self, request) -> Response:
        params = validated(SearchQuerySerializer, request.query_params)
        query, limit, offset = (params[key] for key in ("q", "limit", "offset"))
        hits = message_search(owner=request.user, query=query, limit=limit + 1, offset=offset)
        data = {
            "query": query,
            "results": hits[:limit],
            "next_offset": offset + limit if len(hits) > limit else None,
        }
        return Response(SearchResultsSerializer(data).data)
