"""OpenAPI generation: every operation documents the errors it can answer, in the one error shape.

Views declare their successful responses (and, where it helps, error responses with their own
descriptions); the statuses every operation of a kind can give are added here, from what the
generated operation and its view show: a body or query parameters (400), authentication (401),
a role beyond "signed in" (403), path parameters or a cursor (404), writes (409), `If-Match` (412), a request
body (413, 415), throttles (429), and the database or another service being down (503).
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular import openapi
from rest_framework import permissions, serializers

from core.api import StrictKeysMixin

ERROR_MEDIA_TYPE = "application/json"
EVENT_STREAM_MEDIA_TYPE = "text/event-stream"
ERROR_DESCRIPTIONS = {
    400: "Invalid input; `error.fields` says which fields and why.",
    401: "Not authenticated, or the access token is not valid (any more).",
    403: "Signed in, but this needs a role the caller does not hold.",
    404: "No such resource, or one the caller may not see.",
    409: "Conflicts with the current state: a duplicate, something still in use, or the wrong state.",
    412: "`If-Match` does not carry the current ETag of the resource; nothing was written.",
    413: "The request body is too large.",
    415: "The request body's media type (or an uploaded file's sniffed type) is not supported.",
    429: "Too many requests; retry after the seconds in `Retry-After`.",
    503: "A service this request needs (PostgreSQL, Redis, Ollama) is unavailable; retry later.",
}
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds to wait before retrying.",
    }
}
# Permissions that only ask "is there a (valid) caller"; any other one can answer 403.
IDENTITY_PERMISSIONS = (
    permissions.AllowAny,
    permissions.IsAuthenticated,
    permissions.IsAuthenticatedOrReadOnly,
)
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable error code, e.g. `invalid`, `not_found`.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    # Declared fields named like Serializer attributes (`fields`, `data`): the metaclass collects them.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.JSONField(),
        help_text="Per-field error messages (lists of strings, nested like the input); empty otherwise.",
    )


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API."""

    error = ErrorBodySerializer()


class ServerSentEventSerializer(serializers.Serializer):
    """One event of a `text/event-stream` answer (comment lines, the keep-alives, are not events)."""

    id = serializers.CharField(required=False, help_text="Position of the event in the stream.")
    event = serializers.CharField(required=False, help_text="Its type, e.g. `token`, `done`, `error`.")
    data = serializers.CharField(  # type: ignore[assignment]
        help_text="A JSON document, shaped by the event's type."
    )
    retry = serializers.IntegerField(required=False, help_text="Milliseconds to wait before reconnecting.")


def blank_as_read(field: Any) -> Any:
    """`field`, allowing "" when it reads a `blank=True` column: ModelSerializer drops `allow_blank`
    from read-only fields, yet what they read may be empty."""
    if not (
        isinstance(field, serializers.Field) and field.read_only and not getattr(field, "allow_blank", True)
    ):
        return field
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    source = field.source
    if model is None or not isinstance(source, str) or not source or "." in source or source == "*":
        return field
    try:
        blank = model._meta.get_field(source).blank
    except FieldDoesNotExist:
        return field
    if not blank:
        return field
    field = copy.copy(field)
    field.allow_blank = True
    return field


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, plus the error responses each operation can give."""

    def get_operation(self, path, path_regex, path_prefix, method, registry) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for status_code in self.error_statuses(operation):
            if str(status_code) not in responses:
                responses[str(status_code)] = self.error_response(status_code)
        for code, declared in responses.items():
            if int(code) >= 400 and "content" not in declared:
                # Declared by the view for its description only: the body is still the error shape.
                declared.update(self.error_response(int(code), description=declared.get("description")))
            stream = declared.get("content", {}).get(EVENT_STREAM_MEDIA_TYPE)
            if stream is not None and stream.get("schema") == {"type": "string"}:
                # An event stream is documented by its events (OpenAPI 3.0: the schema is one event).
                stream["schema"] = self.resolve_serializer(ServerSentEventSerializer, "response").ref
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictKeysMixin):
            schema["additionalProperties"] = False  # unknown keys are refused with a 400
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        return super()._map_serializer_field(blank_as_read(field), direction, bypass_extensions)

    def _insert_field_validators(self, field, schema):
        return super()._insert_field_validators(blank_as_read(field), schema)

    def error_statuses(self, operation: dict[str, Any]) -> set[int]:
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        authenticated = any(requirement for requirement in operation.get("security", []))
        statuses = {503}
        if has_body or any(parameter["in"] == "query" for parameter in parameters):
            statuses.add(400)
        if authenticated:
            statuses.add(401)
        if any(
            not isinstance(permission, IDENTITY_PERMISSIONS) for permission in self.view.get_permissions()
        ):
            statuses.add(403)
        if any(parameter["in"] == "path" for parameter in parameters) or self.pages(parameters):
            statuses.add(404)  # an unknown object, or a page or cursor that is not one of ours
        if authenticated and self.method in WRITE_METHODS:
            statuses.add(409)
        if any(parameter["in"] == "header" and parameter["name"] == "If-Match" for parameter in parameters):
            statuses.add(412)
        if has_body:
            statuses |= {413, 415}
        if self.view.get_throttles():
            statuses.add(429)
        return statuses

    def pages(self, parameters: list[dict[str, Any]]) -> bool:
        """Whether the operation takes its paginator's page number or cursor (DRF: 404 if invalid)."""
        paginator = self._get_paginator()
        names = {getattr(paginator, "page_query_param", None), getattr(paginator, "cursor_query_param", None)}
        return any(parameter["in"] == "query" and parameter["name"] in names for parameter in parameters)

    def error_response(self, status_code: int, description: str | None = None) -> dict[str, Any]:
        component = self.resolve_serializer(ErrorSerializer, "response")
        response: dict[str, Any] = {
            "description": description or ERROR_DESCRIPTIONS.get(status_code, ""),
            "content": {ERROR_MEDIA_TYPE: {"schema": component.ref}},
        }
        if status_code in (429, 503):
            response["headers"] = RETRY_AFTER
        return response
