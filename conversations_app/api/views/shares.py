"""Shared links: make one from a conversation, list and revoke one's own, read a shared snapshot
(public, cacheable, counted) and continue it as one's own conversation."""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from drf_orjson_renderer.renderers import ORJSONRenderer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations_app import services
from conversations_app.api.serializers import (
    ConversationSerializer,
    SharedConversationSerializer,
    SharedLinkCreatedSerializer,
    SharedLinkCreateSerializer,
    SharedLinkSerializer,
)
from conversations_app.api.views.base import OwnedResourceViewSet
from conversations_app.selectors import (
    conversation_get,
    conversation_list,
    shared_link_get_open,
    shared_link_get_owned,
    shared_link_list,
)
from core.api import NO_CONTENT, validated
from core.cache import CachedValue, conditional_response
from core.schema import ERROR_DESCRIPTIONS, ErrorSerializer
from core.throttling import AnonRateThrottle

# How long browsers and proxies may keep a snapshot without asking again: short, since a revoked link
# must stop showing soon (never past the link's own expiry).
SHARE_MAX_AGE_SECONDS = 60

TOKEN = OpenApiParameter(
    "token", OpenApiTypes.STR, OpenApiParameter.PATH, description="The token of the shared link."
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="An ETag from an earlier response: 304 without a body while it is still current.",
)


class SharedLinkCreateView(APIView):
    """Share the current branch of one of your conversations."""

    @extend_schema(
        tags=["conversations"],
        summary="Share a conversation: a public, read-only snapshot of its current branch",
        description="Every call freezes the branch as it is now into a new link; links made earlier "
        "keep showing what they showed. The token (and the URL holding it) is shown only in this "
        "response. 409 `nothing_to_share` for a conversation without messages.",
        request=SharedLinkCreateSerializer,
        responses={
            201: SharedLinkCreatedSerializer,
            409: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[409]),
        },
    )
    def post(self, request, conversation_id) -> Response:
        conversation = conversation_get(owner=request.user, conversation_id=conversation_id)
        link, token = services.shared_link_create(
            owner=request.user,
            conversation=conversation,
            **validated(SharedLinkCreateSerializer, request.data),
        )
        url = request.build_absolute_uri(reverse("shared-conversation", kwargs={"token": token}))
        link.token, link.url = token, url  # type: ignore[attr-defined]
        return Response(SharedLinkCreatedSerializer(link).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["conversations"])
@extend_schema_view(
    list=extend_schema(
        summary="Your shared links (not revoked), newest first, with how often each was opened"
    ),
    retrieve=extend_schema(summary="One of your shared links"),
    destroy=extend_schema(
        summary="Revoke a shared link: its URL opens nothing from now on", responses=NO_CONTENT
    ),
)
class SharedLinkViewSet(OwnedResourceViewSet):
    """The caller's shared links; revoking is final."""

    serializer_class = SharedLinkSerializer
    http_method_names = ["get", "delete", "head", "options"]

    def owned_queryset(self) -> QuerySet:
        return shared_link_list(owner=self.request.user)

    def get_object(self):
        return shared_link_get_owned(owner=self.request.user, link_id=self.kwargs["pk"])

    def destroy(self, request, pk=None) -> Response:
        services.shared_link_revoke(link=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class SharedConversationView(APIView):
    """A shared snapshot, for anyone holding the link: no account needed, throttled per address."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]
    renderer_classes = [ORJSONRenderer]

    @extend_schema(
        tags=["conversations"],
        summary="Read a shared conversation (public)",
        description="404 once the link is revoked or expired, or its conversation deleted. Cacheable "
        f"for up to {SHARE_MAX_AGE_SECONDS} s (`Cache-Control: public, max-age=…`), with an ETag for "
        "conditional requests. Every request that reaches the server counts as an opening.",
        parameters=[TOKEN, IF_NONE_MATCH],
        auth=[],
        responses={
            200: SharedConversationSerializer,
            304: OpenApiResponse(description="Not modified: the If-None-Match ETag is current."),
            404: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[404]),
        },
    )
    def get(self, request, token: str) -> Response:
        link = shared_link_get_open(token=token)
        services.shared_link_record_access(link=link)
        remaining = int((link.expires_at - timezone.now()).total_seconds())
        max_age = max(0, min(SHARE_MAX_AGE_SECONDS, remaining))
        return conditional_response(
            request,
            CachedValue.build(SharedConversationSerializer.document(link)),
            cache_control=f"public, max-age={max_age}",
        )


class SharedConversationForkView(APIView):
    """Continue a shared chat: a copy of its exchanges becomes a conversation of the caller's."""

    @extend_schema(
        tags=["conversations"],
        summary="Continue a shared conversation as your own",
        description="A new conversation of yours with the shared exchanges as its branch, the same model "
        "and title; the shared link and its owner's conversation are untouched. 409 "
        "`model_unavailable` when the catalogue no longer offers the model.",
        parameters=[TOKEN],
        request=None,
        responses={
            201: ConversationSerializer,
            404: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[404]),
            409: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[409]),
        },
    )
    def post(self, request, token: str) -> Response:
        forked = services.conversation_fork_shared(user=request.user, link=shared_link_get_open(token=token))
        # As the conversation list shows it (with its labels).
        conversation = conversation_list(owner=request.user).get(pk=forked.pk)
        response = Response(ConversationSerializer(conversation).data, status=status.HTTP_201_CREATED)
        response["ETag"] = conversation.etag
        return response
