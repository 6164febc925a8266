"""Folder views."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from conversations_app import services
from conversations_app.api.filters import FolderFilter
from conversations_app.api.serializers import (
    FolderCreateSerializer,
    FolderMoveSerializer,
    FolderSerializer,
    FolderUpdateSerializer,
)
from conversations_app.api.views.base import NamePagination, OwnedResourceViewSet
from conversations_app.selectors import folder_list
from core.api import IF_MATCH, NO_CONTENT


@extend_schema_view(
    list=extend_schema(summary="List your folders (flat; `parent` gives the tree)"),
    retrieve=extend_schema(summary="A folder"),
    create=extend_schema(summary="Create a folder", responses={201: FolderSerializer}),
    partial_update=extend_schema(
        summary="Rename or move a folder", parameters=[IF_MATCH], responses=FolderSerializer
    ),
    move=extend_schema(summary="Move a folder", parameters=[IF_MATCH], responses=FolderSerializer),
    destroy=extend_schema(
        summary="Delete a folder (to the trash, with its subfolders and conversations)",
        parameters=[IF_MATCH],
        responses=NO_CONTENT,
    ),
)
class FolderViewSet(OwnedResourceViewSet):
    """Your folders: nest them (`parent`), rename and move them (never into their own subfolders), delete
    them to the trash with what they hold. Updates honour `If-Match`; responses carry an `ETag`."""

    serializer_class = FolderSerializer
    input_serializer_classes = {
        "create": FolderCreateSerializer,
        "partial_update": FolderUpdateSerializer,
        "move": FolderMoveSerializer,
    }
    filterset_class = FolderFilter
    pagination_class = NamePagination

    def owned_queryset(self) -> QuerySet:
        return folder_list(owner=self.request.user)

    def _reloaded(self, folder) -> Any:
        return self.get_queryset().get(pk=folder.pk)

    def create(self, request) -> Response:
        folder = services.folder_create(owner=request.user, **self.validated_input())
        return self.respond(self._reloaded(folder), status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None) -> Response:
        folder = services.folder_update(
            folder=self.get_object(), expected_version=self.expected_version, **self.validated_input()
        )
        return self.respond(self._reloaded(folder))

    @action(detail=True, methods=["post"])
    def move(self, request, pk=None) -> Response:
        return self.partial_update(request, pk)

    def destroy(self, request, pk=None) -> Response:
        services.folder_soft_delete(folder=self.get_object(), expected_version=self.expected_version)
        return Response(status=status.HTTP_204_NO_CONTENT)
