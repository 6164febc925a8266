"""Staff views of the system messages users may pick for a conversation."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from admin_app import selectors
from admin_app import services as admin_services
from admin_app.api.serializers import (
    SystemMessageCreateSerializer,
    SystemMessageSerializer,
    SystemMessageUpdateSerializer,
    TrashQuerySerializer,
)
from admin_app.api.views.base import TRASH_PARAMETERS, WRITABLE, AdminViewSet
from admin_app.models import SystemMessage
from core.api import IF_MATCH, NO_CONTENT, validated


@extend_schema_view(
    list=extend_schema(
        summary="List system messages (alive unless `deleted=true`), active or not",
        parameters=TRASH_PARAMETERS,
    ),
    retrieve=extend_schema(summary="A system message (deleted ones too)"),
    create=extend_schema(summary="Create a system message", responses={201: SystemMessageSerializer}),
    partial_update=extend_schema(
        summary="Change a system message", parameters=[IF_MATCH], responses=SystemMessageSerializer
    ),
    destroy=extend_schema(
        summary="Delete a system message (to the trash)", parameters=[IF_MATCH], responses=NO_CONTENT
    ),
    restore=extend_schema(
        summary="Restore a deleted system message (409 when its name is taken)",
        parameters=[IF_MATCH],
        request=None,
        responses=SystemMessageSerializer,
    ),
)
class SystemMessageAdminViewSet(AdminViewSet):
    serializer_class = SystemMessageSerializer
    input_serializer_classes = {
        "create": SystemMessageCreateSerializer,
        "partial_update": SystemMessageUpdateSerializer,
    }
    http_method_names = WRITABLE

    def owned_queryset(self) -> QuerySet[SystemMessage]:
        return selectors.system_message_list(
            deleted=validated(TrashQuerySerializer, self.request.query_params)["deleted"]
        )

    def get_object(self) -> SystemMessage:
        return selectors.system_message_get(system_message_id=self.kwargs["pk"])

    def create(self, request, *args, **kwargs) -> Response:
        message = admin_services.system_message_create(**self.validated_input())
        return self.respond(message, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs) -> Response:
        message = admin_services.system_message_update(
            message=self.get_object(), expected_version=self.expected_version, **self.validated_input()
        )
        return self.respond(message)

    def destroy(self, request, *args, **kwargs) -> Response:
        admin_services.system_message_soft_delete(
            message=self.get_object(), expected_version=self.expected_version
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None) -> Response:
        message = admin_services.system_message_restore(
            message=self.get_object(), expected_version=self.expected_version
        )
        return self.respond(message)
