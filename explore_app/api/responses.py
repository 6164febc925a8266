"""Explore's responses: the public catalogue, served cache-aside from Redis.

Each function returns a CachedValue holding the JSON the API answers with (shaped by the API's output
serializers, which is why this lives in the API layer), so a cache hit costs no SQL and no
serialization. The rows come from models_app's selectors, popularity from conversations_app's. Keys are
`explore:<resource>:<normalised params>:v<catalogue version>`; catalogue writes in models_app bump
the version after commit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.paginator import EmptyPage, Paginator
from django.db.models import QuerySet

from conversations_app.selectors import conversation_count_per_model
from core.cache import CachedValue
from core.exceptions import NotFound
from explore_app.api.serializers import (
    ExploreModelDetailSerializer,
    ExploreModelListItemSerializer,
    ExploreTagWithCountSerializer,
    LeaderboardEntrySerializer,
)
from explore_app.models import LeaderboardEntry
from explore_app.selectors import leaderboard_entries
from models_app.cache import catalogue_cache
from models_app.selectors import (
    aimodel_get_published_by_ref,
    aimodel_list_published,
    aimodel_search_published,
    tag_get_by_slug,
    tag_list_with_model_counts,
)


def _page(
    queryset: QuerySet, *, page: int, page_size: int, serialize: Callable[[list], Any]
) -> dict[str, Any]:
    """One page in the shape of core.pagination.PageNumberPagination (links are added per request)."""
    paginator = Paginator(queryset, page_size)
    try:
        current = paginator.page(page)
    except EmptyPage as exc:
        raise NotFound("Invalid page.") from exc
    return {
        "count": paginator.count,
        "total_pages": paginator.num_pages,
        "page": current.number,
        "results": serialize(list(current.object_list)),
    }


def _model_rows(context: Mapping[str, Any] | None = None) -> Callable[[list], Any]:
    return lambda rows: ExploreModelListItemSerializer(rows, many=True, context=dict(context or {})).data


def explore_model_list(
    *, page: int, page_size: int, ordering: str, q: str = "", **filters: Any
) -> CachedValue:
    """A page of published models matching `filters`; with `q`, ranked search results instead."""
    params = {"page": page, "page_size": page_size, "ordering": ordering, "q": q, **filters}
    if q:

        def search() -> dict[str, Any]:
            found = aimodel_search_published(
                query=q, filters=filters, ordering=ordering, popularity=conversation_count_per_model()
            )
            serialize = _model_rows({"match": found.match})
            return _page(found.queryset, page=page, page_size=page_size, serialize=serialize)

        return catalogue_cache.fetch("search", params, search)

    def listing() -> dict[str, Any]:
        queryset = aimodel_list_published(
            filters=filters, ordering=ordering, popularity=conversation_count_per_model()
        )
        return _page(queryset, page=page, page_size=page_size, serialize=_model_rows())

    return catalogue_cache.fetch("models", params, listing)


def explore_model_detail(*, ref: str) -> CachedValue:
    """A published model by id or Ollama name, with its tags (NotFound is not cached)."""

    def detail() -> dict[str, Any]:
        return ExploreModelDetailSerializer(aimodel_get_published_by_ref(ref=ref)).data

    return catalogue_cache.fetch("model", {"ref": ref.strip().lower()}, detail)


def explore_tag_list(*, page: int, page_size: int) -> CachedValue:
    """A page of alive tags by name with their number of published models."""

    def tags() -> dict[str, Any]:
        serialize = lambda rows: ExploreTagWithCountSerializer(rows, many=True).data  # noqa: E731
        return _page(tag_list_with_model_counts(), page=page, page_size=page_size, serialize=serialize)

    return catalogue_cache.fetch("tags", {"page": page, "page_size": page_size}, tags)


def explore_tag_models(*, slug: str, page: int, page_size: int, ordering: str, **filters: Any) -> CachedValue:
    """A page of the published models of an alive tag (NotFound for an unknown or deleted tag)."""
    params = {"slug": slug, "page": page, "page_size": page_size, "ordering": ordering, **filters}

    def models_of_tag() -> dict[str, Any]:
        tag_get_by_slug(slug=slug)
        queryset = aimodel_list_published(
            filters={**filters, "tag": slug}, ordering=ordering, popularity=conversation_count_per_model()
        )
        return _page(queryset, page=page, page_size=page_size, serialize=_model_rows())

    return catalogue_cache.fetch("tag_models", params, models_of_tag)


def explore_leaderboard(*, period: str, page: int, page_size: int, tag: str = "") -> CachedValue:
    """A page of the stored leaderboard of `period` (models of `tag` only, when given), with when it was
    computed; refreshing the leaderboard invalidates the Explore cache."""

    def leaderboard() -> dict[str, Any]:
        shown: list[LeaderboardEntry] = []

        def serialize(rows: list[LeaderboardEntry]) -> Any:
            shown.extend(rows)
            return LeaderboardEntrySerializer(rows, many=True).data

        body = _page(
            leaderboard_entries(period=period, tag=tag), page=page, page_size=page_size, serialize=serialize
        )
        # Every row of a refresh carries the same instant.
        return {"period": period, "computed_at": shown[0].computed_at if shown else None, **body}

    params = {"period": period, "tag": tag, "page": page, "page_size": page_size}
    return catalogue_cache.fetch("leaderboard", params, leaderboard)
