"""The ApplicationError family and the one exception handler producing the API error shape.

Every error leaves the API as ``{"error": {"code": ..., "message": ..., "fields": {...}}}``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from django.views import defaults
from psycopg_pool import PoolTimeout
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.cache import Outage

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """Base of the errors domain code raises; carries status, code, message and field errors."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    default_message = "The request could not be processed."
    # Seconds after which the client may try again (a `Retry-After` header), for transient errors.
    retry_after: int | None = None

    def __init__(self, message: str | None = None, *, code: str | None = None, fields: dict | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.fields = fields or {}
        super().__init__(self.message)


class ValidationFailed(ApplicationError):
    code = "invalid"
    default_message = "Invalid input."


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    default_message = "Not found."


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    default_message = "The request conflicts with the current state of the resource."


class PreconditionFailed(ApplicationError):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    code = "stale_version"
    default_message = "The resource has changed since you read it; fetch it again."


class PayloadTooLarge(ApplicationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "too_large"
    default_message = "The payload is too large."


class UnsupportedMediaType(ApplicationError):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    code = "unsupported_media_type"
    default_message = "This media type is not supported."


class BadGateway(ApplicationError):
    status_code = status.HTTP_502_BAD_GATEWAY
    code = "bad_gateway"
    default_message = "An upstream service failed."


class ServiceUnavailable(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "service_unavailable"
    default_message = "A service this request needs is unavailable."


class DatabaseUnavailable(ServiceUnavailable):
    """PostgreSQL cannot be reached (down, restarting, or every pooled connection busy too long)."""

    code = "database_unavailable"
    default_message = "The database is unavailable right now. Please try again in a moment."
    retry_after = 5


# What reaching PostgreSQL raises when it is down, restarting, or cut off: a connection refused or
# broken, or no pooled connection within DB_POOL_TIMEOUT (psycopg_pool's PoolTimeout, which Django
# wraps into OperationalError). See `is_database_unreachable` for which of them count.
DATABASE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeout)
# SQLSTATE classes of a server that is gone or going: connection exceptions, and operator
# intervention (shutdown, "the database system is starting up").
_UNREACHABLE_SQLSTATES = ("08", "57P")


def is_database_unreachable(exc: BaseException) -> bool:
    """True for an error that says PostgreSQL cannot be reached (not for a failing statement: a
    deadlock or a cancelled query stays a server error, to be seen and fixed)."""
    if not isinstance(exc, DATABASE_ERRORS):
        return False
    if isinstance(exc, InterfaceError | PoolTimeout):
        return True
    sqlstate = getattr(exc.__cause__, "sqlstate", None) or getattr(exc, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(_UNREACHABLE_SQLSTATES)


# SQLSTATEs of the integrity errors that are conflicts with existing rows: unique and exclusion
# violations. A check, not-null or foreign-key violation is a bug in the code that wrote, not a conflict.
CONFLICT_SQLSTATES = frozenset({"23505", "23P01"})


def is_conflict(exc: IntegrityError) -> bool:
    """True when `exc` is a unique or exclusion violation (psycopg's error is Django's `__cause__`)."""
    return getattr(exc.__cause__, "sqlstate", None) in CONFLICT_SQLSTATES


def error_body(code: str, message: str, fields: dict | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten_detail(detail: Any) -> Any:
    """DRF ErrorDetail trees → plain lists of strings, keyed by field (nested serializers kept)."""
    if isinstance(detail, dict):
        return {key: _flatten_detail(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [str(item) for item in detail]
        return [_flatten_detail(item) for item in detail]
    return [str(detail)]


def _validation_fields(detail: Any) -> tuple[str, dict]:
    fields = _flatten_detail(detail)
    if not isinstance(fields, dict):
        fields = {"non_field_errors": fields}
    non_field = fields.get("non_field_errors")
    message = (
        non_field[0]
        if isinstance(non_field, list) and non_field and isinstance(non_field[0], str)
        else ("Invalid input.")
    )
    return message, fields


def _from_django_validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        detail = {
            ("non_field_errors" if key == "__all__" else key): value
            for key, value in exc.message_dict.items()
        }
    else:
        detail = {"non_field_errors": exc.messages}
    return exceptions.ValidationError(detail)


def _retry_after(exc: ApplicationError) -> dict[str, str] | None:
    return {"Retry-After": str(exc.retry_after)} if exc.retry_after else None


database_outage = Outage(name="database", fallback="answering 503 database_unavailable", log=logger)


def database_unavailable(exc: Exception) -> DatabaseUnavailable:
    """The 503 that a database error becomes; the outage is logged once per cool-down."""
    database_outage.record(exc, type(exc).__name__)
    return DatabaseUnavailable()


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler mapping every error to the one error shape."""
    if is_database_unreachable(exc):
        exc = database_unavailable(exc)
    if isinstance(exc, ApplicationError):
        return Response(
            error_body(exc.code, exc.message, exc.fields), status=exc.status_code, headers=_retry_after(exc)
        )
    if isinstance(exc, DjangoValidationError):
        exc = _from_django_validation_error(exc)
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, IntegrityError) and is_conflict(exc):
        # A constraint decided a race the serializers could not see: a conflict, not a crash. Any
        # other integrity error is left to Django: a bug, logged as a 500 (`server_error_view`).
        logger.info("integrity error turned into 409: %s", exc)
        return Response(
            error_body("conflict", "The request conflicts with existing data."),
            status=status.HTTP_409_CONFLICT,
        )

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        message, fields = _validation_fields(exc.detail)
        response.data = error_body("invalid", message, fields)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        response.data = error_body(
            str(code), str(detail) if not isinstance(detail, dict | list) else str(exc)
        )
    return response


def _is_api(request) -> bool:
    return request.path.startswith(("/api/", "/health/"))


def not_found_view(request, exception=None):
    """404 outside DRF views: the error shape for the API, Django's page for the admin."""
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def database_unavailable_response(request, exc: Exception) -> HttpResponse:
    """503 with `Retry-After` outside DRF views: the error shape for the API, plain text elsewhere."""
    error = database_unavailable(exc)
    if _is_api(request):
        response: HttpResponse = JsonResponse(error_body(error.code, error.message), status=error.status_code)
    else:
        response = HttpResponse(error.message, status=error.status_code, content_type="text/plain")
    response["Retry-After"] = str(error.retry_after)
    return response


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """A view outside DRF (the Django admin, probes) that cannot reach PostgreSQL answers 503 with
    `Retry-After`, not 500. DRF views get the same from `exception_handler`."""

    def process_exception(self, request, exception: Exception) -> HttpResponse | None:
        if is_database_unreachable(exception):
            return database_unavailable_response(request, exception)
        return None


def server_error_view(request):
    # Under WSGI the exception is still being handled here (under ASGI this runs in another thread,
    # and DatabaseUnavailableMiddleware has answered views' database errors already).
    exc = sys.exc_info()[1]
    if exc is not None and is_database_unreachable(exc):
        return database_unavailable_response(request, exc)
    if _is_api(request):
        return JsonResponse(error_body("server_error", "An unexpected error occurred."), status=500)
    return defaults.server_error(request)
