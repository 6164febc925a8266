"""Explore: the public, cached, read-only catalogue (anonymous callers welcome, throttled)."""

from __future__ import annotations

from drf_orjson_renderer.renderers import ORJSONRenderer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from core.api import ReplicaReadsMixin, validated
from core.audit import audit_record
from core.cache import CachedValue, conditional_response
from core.pagination import PageNumberPagination
from core.permissions import IsAdminRole
from core.queue import enqueue, require_task_queue
from explore_app.api.responses import (
    explore_leaderboard,
    explore_model_detail,
    explore_model_list,
    explore_tag_list,
    explore_tag_models,
)
from explore_app.api.serializers import (
    ExploreModelDetailSerializer,
    ExploreModelListItemSerializer,
    ExploreTagWithCountSerializer,
    LeaderboardEntrySerializer,
    LeaderboardPageSerializer,
    LeaderboardQuerySerializer,
    ModelListQuerySerializer,
    PageQuerySerializer,
    TagModelsQuerySerializer,
)
from explore_app.api.throttles import ExploreRateThrottle
from explore_app.selectors import leaderboard_entries
from models_app.selectors import aimodel_list_published, tag_list_with_model_counts

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="An ETag from an earlier response: 304 without a body while it is still current.",
)


def explore_schema(summary: str, response: type, *parameters):
    """OpenAPI of an Explore read: its parameters, the If-None-Match header, 200 or 304."""
    return extend_schema(
        summary=summary,
        parameters=[*parameters, IF_NONE_MATCH],
        responses={
            200: response,
            304: OpenApiResponse(description="Not modified: the If-None-Match ETag is current."),
        },
    )


def path_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.PATH, description=description)


class ExploreViewSet(ReplicaReadsMixin, viewsets.GenericViewSet):
    """Base of Explore's viewsets: public, throttled, page-numbered, answered from the cache."""

    permission_classes = [AllowAny]
    throttle_classes = [ExploreRateThrottle]
    renderer_classes = [ORJSONRenderer]
    pagination_class = PageNumberPagination
    # Responses come from explore_app.api.responses (cached JSON); `get_queryset` of each viewset names
    # the rows they describe, for the OpenAPI schema.

    def page_response(self, cached: CachedValue) -> Response:
        """The cached page with its `next`/`previous` links for this request's URL (and whatever else
        the cached body holds besides the page)."""
        page, total_pages = cached.data["page"], cached.data["total_pages"]
        url = self.request.build_absolute_uri()
        if page <= 1:
            previous = None
        elif page == 2:
            previous = remove_query_param(url, "page")
        else:
            previous = replace_query_param(url, "page", page - 1)
        page_keys = {"count", "total_pages", "page", "results"}
        body = {
            **{key: value for key, value in cached.data.items() if key not in page_keys},
            "count": cached.data["count"],
            "total_pages": total_pages,
            "page": page,
            "next": replace_query_param(url, "page", page + 1) if page < total_pages else None,
            "previous": previous,
            "results": cached.data["results"],
        }
        return conditional_response(self.request, cached, data=body)


class ExploreModelRowsViewSet(ExploreViewSet):
    """Base of the viewsets answering with catalogue rows."""

    serializer_class = ExploreModelListItemSerializer

    def get_queryset(self):
        return aimodel_list_published()


class ExploreModelViewSet(ExploreModelRowsViewSet):
    @explore_schema(
        "Catalogue of published models, or search it with `q`",
        ExploreModelListItemSerializer,
        ModelListQuerySerializer,
    )
    def list(self, request):
        return self.page_response(
            explore_model_list(**validated(ModelListQuerySerializer, self.request.query_params))
        )

    @explore_schema(
        "A published model by id or Ollama name, with its tags",
        ExploreModelDetailSerializer,
        path_parameter("ref", "Model id, or name like llama3.2:3b"),
    )
    def retrieve(self, request, ref: str):
        return conditional_response(request, explore_model_detail(ref=ref))


class ExploreTagViewSet(ExploreViewSet):
    serializer_class = ExploreTagWithCountSerializer

    def get_queryset(self):
        return tag_list_with_model_counts()

    @explore_schema(
        "Tags with their number of published models", ExploreTagWithCountSerializer, PageQuerySerializer
    )
    def list(self, request):
        return self.page_response(
            explore_tag_list(**validated(PageQuerySerializer, self.request.query_params))
        )


class ExploreTagModelViewSet(ExploreModelRowsViewSet):
    @explore_schema(
        "Published models of a tag",
        ExploreModelListItemSerializer,
        path_parameter("slug", "Tag slug"),
        TagModelsQuerySerializer,
    )
    def list(self, request, slug: str):
        return self.page_response(
            explore_tag_models(slug=slug, **validated(TagModelsQuerySerializer, self.request.query_params))
        )


class ExploreLeaderboardViewSet(ExploreViewSet):
    serializer_class = LeaderboardEntrySerializer

    def get_queryset(self):
        return leaderboard_entries(period="all")

    @extend_schema(
        summary="The models ranked from people's votes and kept answers",
        description="Read from the stored computation (refreshed every 15 minutes, or when staff ask). "
        "Ratings are a Bradley-Terry fit on the Elo scale (start 1000, 400 points = 10:1 odds) of two "
        "kinds of games: a regenerated answer kept over a sibling answer of another model (a win over "
        "that model), and a thumbs up or down (a win or a loss against a fixed 1000-rated opponent). One "
        "account counts for at most 3 comparisons per pair of models and 3 votes per model. "
        "`confidence` is the 95 % Wilson interval of `win_rate`.",
        parameters=[LeaderboardQuerySerializer, IF_NONE_MATCH],
        responses={
            200: LeaderboardPageSerializer,
            304: OpenApiResponse(description="Not modified: the If-None-Match ETag is current."),
        },
    )
    def list(self, request):
        return self.page_response(
            explore_leaderboard(**validated(LeaderboardQuerySerializer, self.request.query_params))
        )


class LeaderboardRefreshView(APIView):
    """Staff: recompute the leaderboard now rather than at the next periodic refresh."""

    permission_classes = [IsAdminRole]

    @extend_schema(
        summary="Recompute the leaderboard now (Admin role)",
        request=None,
        responses={202: OpenApiResponse(description="Queued; the leaderboard changes once it has run.")},
    )
    def post(self, request) -> Response:
        require_task_queue()
        audit_record(action="leaderboard_refresh_requested", target_type="explore_app.leaderboardentry")
        enqueue("explore_app.tasks.refresh_leaderboard")
        return Response(status=status.HTTP_202_ACCEPTED)
