"""Label views: your own labels for conversations."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from conversations_app import services
from conversations_app.api.serializers import LabelCreateSerializer, LabelSerializer, LabelUpdateSerializer
from conversations_app.api.views.base import NamePagination, OwnedResourceViewSet
from conversations_app.selectors import label_list
from core.api import IF_MATCH, NO_CONTENT


@extend_schema_view(
    list=extend_schema(summary="List your labels, by name"),
    retrieve=extend_schema(summary="A label"),
    create=extend_schema(summary="Create a label", responses={201: LabelSerializer}),
    partial_update=extend_schema(summary="Rename a label", parameters=[IF_MATCH], responses=LabelSerializer),
    destroy=extend_schema(
        summary="Delete a label (conversations stop showing it)", parameters=[IF_MATCH], responses=NO_CONTENT
    ),
)
class LabelViewSet(OwnedResourceViewSet):
    """Your labels: names (unique for you whatever the case, at most 64 characters) you put on
    conversations (`labels` on create and update) and filter the list by (`?label=`)."""

    serializer_class = LabelSerializer
    input_serializer_classes = {"create": LabelCreateSerializer, "partial_update": LabelUpdateSerializer}
    pagination_class = NamePagination

    def owned_queryset(self) -> QuerySet:
        return label_list(owner=self.request.user)

    def create(self, request) -> Response:
        label = services.label_create(owner=request.user, **self.validated_input())
        return self.respond(label, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None) -> Response:
        label = services.label_update(
            label=self.get_object(), expected_version=self.expected_version, **self.validated_input()
        )
        return self.respond(label)

    def destroy(self, request, pk=None) -> Response:
        services.label_delete(label=self.get_object(), expected_version=self.expected_version)
        return Response(status=status.HTTP_204_NO_CONTENT)
