"""API plumbing every app's views share: the owner-scoped resource viewset with ETag/If-Match,
an APIView with coroutine handlers (for streams), strict input helpers and schema bits."""

from __future__ import annotations

import datetime
import inspect
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers, status, viewsets
from rest_framework.pagination import BasePagination
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from core.db import db_step, replica_reads
from core.db_router import replica_reads_allowed
from core.pagination import CursorPagination
from core.parsers import check_json_value, json_loads
from core.services import parse_if_match

EVENT_STREAM = "text/event-stream"
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag last read (e.g. "3"); if the resource has changed since: 412, nothing written.',
)
NO_CONTENT = {204: OpenApiResponse(description="Done; no content.")}


def error_example(
    status_code: int, code: str, message: str, fields: Mapping[str, Any] | None = None
) -> OpenApiExample:
    """An example of the one error shape, for the `status_code` response of an operation."""
    return OpenApiExample(
        f"{status_code} {code}",
        value={"error": {"code": code, "message": message, "fields": dict(fields or {})}},
        status_codes=[status_code],
        response_only=True,
    )


class StrictKeysMixin:
    """Unknown keys are an error (a misspelt option must not be silently ignored)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))  # type: ignore[attr-defined]
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictBooleanFilter(filters.TypedChoiceFilter):
    """`true`/`false` (or 1/0); anything else is a 400 rather than silently no filter."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("choices", [(value, value) for value in ("true", "false", "1", "0")])
        kwargs.setdefault("coerce", lambda value: value in ("true", "1"))
        super().__init__(*args, **kwargs)


class UTCIsoDateTimeField(filter_fields.IsoDateTimeField):
    """An ISO 8601 instant, converted to UTC: PostgreSQL refuses UTC offsets beyond ±15:59 that
    Python accepts (up to ±23:59), and an instant beyond the years 1-9999 in UTC is no instant."""

    def to_python(self, value: Any) -> datetime.datetime | None:
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(datetime.UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    """django-filter's ISO 8601 filter, with the instant in UTC (see UTCIsoDateTimeField)."""

    field_class = UTCIsoDateTimeField


class JSONField(serializers.JSONField):
    """Any JSON value, held to what the API's JSON parser accepts (core.parsers): also a JSON text
    sent as a multipart form field, which DRF would decode with the lenient `json` module."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            if self.binary or getattr(data, "is_json_string", False):
                return json_loads(data.decode() if isinstance(data, bytes) else data)
            check_json_value(data)
        except (TypeError, ValueError):
            self.fail("invalid")
        return super().to_internal_value(data)


def validated(
    serializer_class: type[serializers.Serializer], data: Any, *, context: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`data` (a request body or query string) validated by `serializer_class`: the validated values,
    or a 400 in the error shape."""
    serializer = serializer_class(data=data, context=dict(context or {}))
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ReplicaReadsMixin:
    """A (synchronous) view whose safe requests (GET, HEAD) read from the read replica where
    core.db_router allows: lists, details, history, search, reports, Explore, whose selectors a moment
    of replication lag cannot make wrong. Its writes, and its reads inside a transaction, stay on the
    primary; so do authentication and permissions, checked before the replica is allowed (DRF knows
    the user only after it has authenticated it, in `initial`)."""

    def dispatch(self, request, *args, **kwargs):
        token = replica_reads.set(False)
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        finally:
            replica_reads.reset(token)

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if request.method in SAFE_METHODS:
            replica_reads.set(replica_reads_allowed(request.user))


class ResourceViewSet(ReplicaReadsMixin, viewsets.GenericViewSet):
    """Base of the resource viewsets: the caller's rows come from a selector (`owned_queryset`), one
    output serializer (`serializer_class`) and one input serializer per writing action; `If-Match`
    is read for writes and every single-resource response carries the `ETag`. Safe requests read from
    the read replica where that is safe (`ReplicaReadsMixin`)."""

    serializer_class: type[serializers.ModelSerializer[Any]]
    input_serializer_classes: dict[str, type[serializers.Serializer]] = {}
    pagination_class: type[BasePagination] | None = CursorPagination
    lookup_value_converter = "uuid"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def owned_queryset(self) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            # (The stubs leave the type variable of ModelSerializer.Meta.model unbound.)
            return self.serializer_class.Meta.model.objects.none()  # type: ignore[attr-defined]
        return self.owned_queryset()

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return self.input_serializer_classes.get(self.action, self.serializer_class)

    def validated_input(self) -> dict[str, Any]:
        return validated(
            self.get_serializer_class(), self.request.data, context=self.get_serializer_context()
        )

    @property
    def expected_version(self) -> int | None:
        return parse_if_match(self.request.headers.get("If-Match"))

    def respond(
        self,
        instance: Any,
        *,
        status_code: int = status.HTTP_200_OK,
        serializer_class: type[serializers.Serializer] | None = None,
    ) -> Response:
        serializer = (serializer_class or self.serializer_class)(
            instance, context=self.get_serializer_context()
        )
        response = Response(serializer.data, status=status_code)
        if hasattr(instance, "etag"):
            response["ETag"] = instance.etag
        return response

    def list(self, request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        serializer = self.serializer_class(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)

    def retrieve(self, request, *args, **kwargs) -> Response:
        return self.respond(self.get_object())


class AsyncAPIView(APIView):
    """An APIView whose handlers are coroutines.

    DRF's request handling is synchronous (it reads the database and the cache to authenticate,
    check permissions and throttle), so it runs in a worker thread as one database step (its
    connection given back at once); the handler itself runs on the event loop and runs its own
    database work through `core.db.db_step`. Errors still leave through the project's exception
    handler.
    """

    async def dispatch(self, request, *args, **kwargs):  # type: ignore[override]
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            await db_step(self.initial, request, *args, **kwargs)
            method = request.method.lower()
            handler = getattr(self, method, None) if method in self.http_method_names else None
            response = (handler or self.http_method_not_allowed)(request, *args, **kwargs)
            if inspect.isawaitable(response):
                response = await response
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def perform_content_negotiation(self, request, force=False):
        # Streams are written by the view itself; every DRF Response (an exchange, an error) is JSON,
        # also for a client that accepts only text/event-stream.
        return super().perform_content_negotiation(request, force=True)


def schema_docstring_excludes() -> list[type]:
    """Classes whose docstrings describe no operation and no schema (drf-spectacular's
    GET_LIB_DOC_EXCLUDES): its own list, every view class, and StrictKeysMixin.

    A view's docstring is for the reader of its code; an operation is described by its `extend_schema`
    or by its own action's docstring, a serializer only by its own docstring, never by a base class's
    (nor a mixin's).
    """
    from drf_spectacular.plumbing import get_lib_doc_excludes  # not at import time: settings load it

    views: list[type] = []
    pending: list[type] = [APIView]
    while pending:
        view = pending.pop()
        views.append(view)
        pending.extend(view.__subclasses__())
    return [*get_lib_doc_excludes(), *views, StrictKeysMixin, ReplicaReadsMixin]
