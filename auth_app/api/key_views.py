"""The caller's personal API keys: create (the secret shown once), list, read, revoke.

Managed with an access token only: a request authenticated with an API key is refused (403), so a
leaked key cannot mint more keys.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from auth_app import selectors
from auth_app.api import serializers
from auth_app.authentication import AuthenticatedRequest, RefuseApiKeys
from auth_app.models import ApiKey
from auth_app.services import api_keys as key_services
from core.api import NO_CONTENT, ResourceViewSet, error_example

TAGS = ["auth"]


def _error(status_code: int, code: str, message: str, description: str, **fields) -> OpenApiResponse:
    return OpenApiResponse(
        serializers.ErrorEnvelopeSerializer,
        description=description,
        examples=[error_example(status_code, code, message, fields or None)],
    )


FORBIDDEN = _error(
    403,
    "api_key_not_allowed",
    RefuseApiKeys.message,
    "Called with an API key: keys are managed with an access token only.",
)
DUPLICATE = _error(
    409,
    "duplicate_name",
    "You already have a key with this name.",
    "An unrevoked key of yours has this name (compared case-insensitively), or you have too many keys.",
    name=["You already have a key with this name."],
)


@extend_schema_view(
    list=extend_schema(
        tags=TAGS,
        summary="Your API keys",
        description="Your unrevoked keys (expired ones too), newest first, with their use so far. "
        "The secret is never shown again.",
        responses={200: serializers.ApiKeySerializer(many=True), 403: FORBIDDEN},
    ),
    retrieve=extend_schema(
        tags=TAGS,
        summary="One of your API keys",
        responses={200: serializers.ApiKeySerializer, 403: FORBIDDEN},
    ),
    create=extend_schema(
        tags=TAGS,
        summary="Create an API key",
        description=(
            "A personal key for scripts and tools (`Authorization: Bearer onk_…`), for the REST API "
            "and the Ollama- and OpenAI-compatible endpoints. **The `key` is in this response only**: "
            "only a hash of it is stored. `scopes` (`chat`, `models`, `embeddings`; all by default) "
            "limit what it may do on the compatible endpoints; `record` says whether chats made with it "
            "are saved as conversations. Requests and tokens count against your API quotas."
        ),
        request=serializers.ApiKeyCreateSerializer,
        responses={201: serializers.ApiKeyCreatedSerializer, 403: FORBIDDEN, 409: DUPLICATE},
    ),
    destroy=extend_schema(
        tags=TAGS,
        summary="Revoke an API key",
        description="The key is refused from the next request on. Its usage stays in your reports.",
        responses={**NO_CONTENT, 403: FORBIDDEN},
    ),
)
class ApiKeyViewSet(ResourceViewSet):
    serializer_class = serializers.ApiKeySerializer
    input_serializer_classes = {"create": serializers.ApiKeyCreateSerializer}
    permission_classes = (IsAuthenticated, RefuseApiKeys)
    http_method_names = ["get", "post", "delete", "head", "options"]

    def owned_queryset(self) -> QuerySet[ApiKey]:
        return selectors.api_keys_of_user(user=self.request.user)  # type: ignore[arg-type]

    def create(self, request: AuthenticatedRequest, *args, **kwargs) -> Response:
        key, secret = key_services.create_api_key(request.user, **self.validated_input())
        key.key = secret  # type: ignore[attr-defined]
        return self.respond(
            key, status_code=status.HTTP_201_CREATED, serializer_class=serializers.ApiKeyCreatedSerializer
        )

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        key_services.revoke_api_key(api_key=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
