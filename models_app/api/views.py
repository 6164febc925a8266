"""The catalogue as a signed-in user sees it: only the models their roles let them use
(`models_app.selectors.usable_models`). Explore, which is public, shows every published model."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import StrictBooleanFilter, validated
from core.pagination import PageNumberPagination
from models_app.api.serializers import UsableModelQuerySerializer, UsableModelSerializer
from models_app.filters import AIModelFilter
from models_app.models import AIModel
from models_app.selectors import aimodel_get_published_by_ref, usable_model_list, usable_models

TAGS = ["models"]


class UsableModelFilter(AIModelFilter):
    """The catalogue's filters, with `installed` refusing what is not a boolean (400)."""

    installed = StrictBooleanFilter(method="filter_installed", help_text="true: installed in Ollama")

    class Meta(AIModelFilter.Meta):
        pass


@extend_schema_view(
    list=extend_schema(
        tags=TAGS,
        summary="The models you may use",
        description="Published models your roles allow (a role may be limited to some models or tags; "
        "any of your roles allowing a model is enough), with the catalogue's filters.",
        parameters=[UsableModelQuerySerializer],
    ),
    retrieve=extend_schema(
        tags=TAGS,
        summary="A model you may use, by id or Ollama name",
        description="404 for a model that is not published or that your roles do not allow.",
        parameters=[
            OpenApiParameter(
                "ref",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="Model id, or name like llama3.2:3b",
            )
        ],
    ),
)
class UsableModelViewSet(viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated]
    serializer_class = UsableModelSerializer
    pagination_class = PageNumberPagination
    filterset_class = UsableModelFilter

    def get_queryset(self) -> QuerySet[AIModel]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return AIModel.objects.none()
        ordering = validated(UsableModelQuerySerializer, self.request.query_params)["ordering"]
        return usable_model_list(user=self.request.user, ordering=ordering)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.serializer_class(page, many=True).data)

    def retrieve(self, request: Request, ref: str) -> Response:
        model = aimodel_get_published_by_ref(ref=ref, within=usable_models(request.user))
        return Response(self.serializer_class(model).data)
