"""Trash views: list, restore, purge, empty."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations_app import services
from conversations_app.api.serializers import (
    ConversationSerializer,
    TrashedConversationSerializer,
    TrashedFolderSerializer,
)
from conversations_app.api.serializers.chat import ExchangeSerializer, TrashedExchangeSerializer
from conversations_app.api.views.base import OwnedResourceViewSet, TrashPagination
from conversations_app.selectors import trashed_conversation_list, trashed_exchange_list, trashed_folder_list
from conversations_app.selectors.history import exchange_row_get
from core.api import NO_CONTENT


@extend_schema_view(
    list=extend_schema(summary="Your deleted conversations, most recently deleted first"),
    retrieve=extend_schema(summary="A deleted conversation"),
    restore=extend_schema(summary="Restore a conversation", request=None, responses=ConversationSerializer),
    destroy=extend_schema(summary="Delete a conversation for good", responses=NO_CONTENT),
)
class TrashedConversationViewSet(OwnedResourceViewSet):
    """Your deleted conversations: restore one with everything its deletion took, or delete it for good
    (its files go when no other attachment shares them)."""

    serializer_class = TrashedConversationSerializer
    pagination_class = TrashPagination

    def owned_queryset(self) -> QuerySet:
        return trashed_conversation_list(owner=self.request.user)

    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None) -> Response:
        conversation = services.conversation_restore(conversation=self.get_object())
        return self.respond(conversation, serializer_class=ConversationSerializer)

    def destroy(self, request, pk=None) -> Response:
        services.conversation_purge(conversation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Your deleted folders, most recently deleted first"),
    retrieve=extend_schema(summary="A deleted folder"),
    restore=extend_schema(
        summary="Restore a folder with what its deletion took",
        request=None,
        responses=TrashedFolderSerializer,
    ),
    destroy=extend_schema(
        summary="Delete a folder for good, with what its deletion took", responses=NO_CONTENT
    ),
)
class TrashedFolderViewSet(OwnedResourceViewSet):
    """Your deleted folders: restore one with the subfolders and conversations its deletion took, or
    delete it for good with them."""

    serializer_class = TrashedFolderSerializer
    pagination_class = TrashPagination

    def owned_queryset(self) -> QuerySet:
        return trashed_folder_list(owner=self.request.user)

    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None) -> Response:
        folder = services.folder_restore(folder=self.get_object())
        return self.respond(folder)

    def destroy(self, request, pk=None) -> Response:
        services.folder_purge(folder=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        summary="Your deleted exchanges (each with the branch below it), most recently deleted first"
    ),
    retrieve=extend_schema(summary="A deleted exchange"),
    restore=extend_schema(
        summary="Restore an exchange with the branch its deletion took",
        description="The restored exchange is a sibling to switch to; the current branch stays where "
        "it is. `409` when the exchange it follows is deleted too (restore that one first).",
        request=None,
        responses=ExchangeSerializer,
    ),
    destroy=extend_schema(summary="Delete an exchange and its branch for good", responses=NO_CONTENT),
)
class TrashedExchangeViewSet(OwnedResourceViewSet):
    """Exchanges you deleted on their own (the conversation still alive): restore one with the branch
    its deletion took, or delete it for good."""

    serializer_class = TrashedExchangeSerializer
    pagination_class = TrashPagination
    http_method_names = ["get", "post", "delete", "head", "options"]

    def owned_queryset(self) -> QuerySet:
        return trashed_exchange_list(owner=self.request.user)

    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None) -> Response:
        exchange = services.exchange_restore(exchange=self.get_object())
        return Response(ExchangeSerializer(exchange_row_get(user=request.user, exchange_id=exchange.pk)).data)

    def destroy(self, request, pk=None) -> Response:
        services.exchange_purge(exchange=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class TrashView(APIView):
    """Your whole trash."""

    @extend_schema(summary="Empty your trash (everything in it is deleted for good)", responses=NO_CONTENT)
    def delete(self, request) -> Response:
        services.trash_empty(owner=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
