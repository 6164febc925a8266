"""Staff views of the catalogue: models (publishing, tags, adding from Ollama) and tags.

Writes go through models_app's services; every changed row records itself in the audit trail.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from admin_app import services as admin_services
from admin_app.api.filters import AdminAIModelFilter
from admin_app.api.serializers import (
    AdminModelListSerializer,
    AdminModelSerializer,
    AdminTagSerializer,
    AIModelCreateSerializer,
    AIModelFromOllamaSerializer,
    AIModelListQuerySerializer,
    AIModelUpdateSerializer,
    TagCreateSerializer,
    TagIdsSerializer,
    TagsAddedSerializer,
    TagsRemovedSerializer,
    TagUpdateSerializer,
    TrashQuerySerializer,
)
from admin_app.api.views.base import TRASH_PARAMETERS, UNREACHABLE, WRITABLE, AdminViewSet
from conversations_app import selectors as conversation_selectors
from core.api import IF_MATCH, NO_CONTENT, validated
from models_app import selectors as catalogue_selectors
from models_app import services as catalogue_services
from models_app.models import AIModel, Tag

# --- models --------------------------------------------------------------------------------------------


def _model_action(summary: str, request: Any = None, responses: Any = AdminModelSerializer) -> Any:
    return extend_schema(summary=summary, parameters=[IF_MATCH], request=request, responses=responses)


@extend_schema_view(
    list=extend_schema(
        summary="List catalogue models (alive unless `deleted=true`), published or not, with filters",
        parameters=[AIModelListQuerySerializer],
        responses=AdminModelListSerializer(many=True),
    ),
    retrieve=extend_schema(summary="A catalogue model (deleted ones too)"),
    create=extend_schema(summary="Add a model to the catalogue", responses={201: AdminModelSerializer}),
    partial_update=_model_action("Change a model's attributes", AIModelUpdateSerializer),
    destroy=extend_schema(
        summary="Delete a model (to the trash)", parameters=[IF_MATCH], responses=NO_CONTENT
    ),
    restore=_model_action("Restore a deleted model (409 when its name is taken)"),
    publish=_model_action("Publish a model (Explore shows it, users may chat with it)"),
    unpublish=_model_action("Unpublish a model"),
    add_tags=_model_action("Add tags to a model", TagIdsSerializer, TagsAddedSerializer),
    remove_tags=_model_action("Remove tags from a model", TagIdsSerializer, TagsRemovedSerializer),
    from_ollama=extend_schema(
        summary="Add a model Ollama has installed, described by Ollama (`/api/show`)",
        responses={
            201: AdminModelSerializer,
            409: OpenApiResponse(description="Ollama does not have this model."),
            503: UNREACHABLE,
        },
    ),
)
class AIModelAdminViewSet(AdminViewSet):
    serializer_class = AdminModelSerializer
    input_serializer_classes = {
        "create": AIModelCreateSerializer,
        "partial_update": AIModelUpdateSerializer,
        "from_ollama": AIModelFromOllamaSerializer,
        "add_tags": TagIdsSerializer,
        "remove_tags": TagIdsSerializer,
    }
    filterset_class = AdminAIModelFilter
    http_method_names = WRITABLE

    def owned_queryset(self) -> QuerySet[AIModel]:
        params = validated(AIModelListQuerySerializer, self.request.query_params)
        return catalogue_selectors.aimodel_list(
            ordering=params["ordering"],
            deleted=params["deleted"],
            popularity=conversation_selectors.conversation_count_per_model(),
        )

    def get_object(self) -> AIModel:
        return catalogue_selectors.aimodel_get(model_id=self.kwargs["pk"], include_deleted=True)

    def _respond_with(self, model: AIModel, status_code: int = status.HTTP_200_OK) -> Response:
        reloaded = catalogue_selectors.aimodel_get(model_id=model.pk, include_deleted=True)
        return self.respond(reloaded, status_code=status_code)

    def list(self, request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(AdminModelListSerializer(page, many=True).data)

    def create(self, request, *args, **kwargs) -> Response:
        data = self.validated_input()
        model = catalogue_services.aimodel_create(owner=request.user, **data)
        return self._respond_with(model, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs) -> Response:
        model = catalogue_services.aimodel_update(
            model=self.get_object(), expected_version=self.expected_version, **self.validated_input()
        )
        return self._respond_with(model)

    def destroy(self, request, *args, **kwargs) -> Response:
        catalogue_services.aimodel_soft_delete(
            model=self.get_object(), expected_version=self.expected_version
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None) -> Response:
        model = catalogue_services.aimodel_restore(
            model=self.get_object(), expected_version=self.expected_version
        )
        return self._respond_with(model)

    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None) -> Response:
        model = catalogue_services.aimodel_publish(
            model=self.get_object(), expected_version=self.expected_version
        )
        return self._respond_with(model)

    @action(detail=True, methods=["post"])
    def unpublish(self, request, pk=None) -> Response:
        model = catalogue_services.aimodel_unpublish(
            model=self.get_object(), expected_version=self.expected_version
        )
        return self._respond_with(model)

    @action(detail=True, methods=["post"], url_path="add-tags")
    def add_tags(self, request, pk=None) -> Response:
        model = self.get_object()
        outcome = catalogue_services.aimodel_tags_add(
            model=model, tag_ids=self.validated_input()["tag_ids"], expected_version=self.expected_version
        )
        report = {
            "added": outcome.added,
            "already_present": outcome.already_present,
            "not_found": outcome.not_found,
            "model": catalogue_selectors.aimodel_get(model_id=model.pk),
        }
        response = Response(TagsAddedSerializer(report).data)
        response["ETag"] = report["model"].etag
        return response

    @action(detail=True, methods=["post"], url_path="remove-tags")
    def remove_tags(self, request, pk=None) -> Response:
        model = self.get_object()
        outcome = catalogue_services.aimodel_tags_remove(
            model=model, tag_ids=self.validated_input()["tag_ids"], expected_version=self.expected_version
        )
        report = {
            "removed": outcome.removed,
            "not_present": outcome.not_present,
            "not_found": outcome.not_found,
            "model": catalogue_selectors.aimodel_get(model_id=model.pk),
        }
        response = Response(TagsRemovedSerializer(report).data)
        response["ETag"] = report["model"].etag
        return response

    @action(detail=False, methods=["post"], url_path="from-ollama")
    def from_ollama(self, request) -> Response:
        model = admin_services.aimodel_create_from_ollama(owner=request.user, **self.validated_input())
        return self._respond_with(model, status.HTTP_201_CREATED)


# --- tags ----------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List tags (alive unless `deleted=true`)", parameters=TRASH_PARAMETERS),
    retrieve=extend_schema(summary="A tag (deleted ones too)"),
    create=extend_schema(summary="Create a tag", responses={201: AdminTagSerializer}),
    partial_update=extend_schema(summary="Change a tag", parameters=[IF_MATCH], responses=AdminTagSerializer),
    destroy=extend_schema(summary="Delete a tag (to the trash)", parameters=[IF_MATCH], responses=NO_CONTENT),
    restore=extend_schema(
        summary="Restore a deleted tag (409 when its name or slug is taken)",
        parameters=[IF_MATCH],
        request=None,
        responses=AdminTagSerializer,
    ),
)
class TagAdminViewSet(AdminViewSet):
    serializer_class = AdminTagSerializer
    input_serializer_classes = {"create": TagCreateSerializer, "partial_update": TagUpdateSerializer}
    http_method_names = WRITABLE

    def owned_queryset(self) -> QuerySet[Tag]:
        return catalogue_selectors.tag_list(
            deleted=validated(TrashQuerySerializer, self.request.query_params)["deleted"]
        )

    def get_object(self) -> Tag:
        return catalogue_selectors.tag_get(tag_id=self.kwargs["pk"], include_deleted=True)

    def create(self, request, *args, **kwargs) -> Response:
        tag = catalogue_services.tag_create(**self.validated_input())
        return self.respond(tag, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs) -> Response:
        tag = catalogue_services.tag_update(
            tag=self.get_object(), expected_version=self.expected_version, **self.validated_input()
        )
        return self.respond(tag)

    def destroy(self, request, *args, **kwargs) -> Response:
        catalogue_services.tag_soft_delete(tag=self.get_object(), expected_version=self.expected_version)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None) -> Response:
        tag = catalogue_services.tag_restore(tag=self.get_object(), expected_version=self.expected_version)
        return self.respond(tag)
