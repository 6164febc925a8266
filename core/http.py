"""The HTTP edge of the project: who the client is, and the API's answers to URLs it cannot serve.

- `client_ip`: the client's address, trusting `X-Forwarded-For` only from the `NUM_PROXIES` reverse
  proxies configured (DRF's setting, which its throttles read too), never from the client itself.
- `CommonMiddleware`: Django's, except that an API URL is never redirected to its slash-terminated
  form (a redirected POST loses its body, and in development Django raises instead); an API 404 is
  JSON in the error shape, in development too.
- `UnstorableURLMiddleware`: a NUL character (or a lone surrogate) in the path or the query string is
  a 400 before any view runs, never a database error.
"""

from __future__ import annotations

import ipaddress
import re

from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseBase, JsonResponse
from django.middleware import common
from django.urls import is_valid_path
from django.utils.deprecation import MiddlewareMixin
from rest_framework.throttling import BaseThrottle

from core.exceptions import error_body

API_PREFIXES = ("/api/", "/health/")
# What PostgreSQL's text cannot hold. Django decodes URLs with replacement, so only a NUL comes in.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def client_ip(request: HttpRequest) -> str:
    """The client's IP address ("" when it is not one). The peer address (`REMOTE_ADDR`), unless
    `NUM_PROXIES` reverse proxies are configured: then the address the outermost of them saw, as it
    appended it to `X-Forwarded-For`. The throttles identify clients the same way (DRF's `get_ident`
    under the same setting), so a client cannot pick its own address by sending the header."""
    try:
        # No peer address at all (an ASGI server on a Unix socket sets none): "".
        # get_ident reads only `request.META`, which a Django request has too (the stubs want DRF's).
        ident = BaseThrottle().get_ident(request)  # type: ignore[arg-type]
        return str(ipaddress.ip_address((ident or "").strip()))
    except ValueError:
        return ""


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


class CommonMiddleware(common.CommonMiddleware):
    """Django's CommonMiddleware without the trailing-slash redirect for the API (a 404 naming the
    right URL instead), and with every API 404 in the error shape."""

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        return not is_api_path(request.path_info) and super().should_redirect_with_slash(request)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        response = super().process_response(request, response)
        if response.status_code != 404 or not is_api_path(request.path_info):
            return response
        path = request.path_info
        if not path.endswith("/") and is_valid_path(f"{path}/", getattr(request, "urlconf", None)):
            return _error("not_found", f"Not found. API paths end with a slash: {request.path}/", 404)
        if not response.get("Content-Type", "").startswith("application/json"):
            return _error("not_found", "Not found.", 404)  # Django's debug page, in development
        return response


class UnstorableURLMiddleware(MiddlewareMixin):
    """Refuse a URL whose path or query string holds a NUL character (`%00`) with a 400: the error
    shape for the API, Django's plain 400 elsewhere (the Django admin)."""

    def process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        return self.refusal(request)

    @staticmethod
    def refusal(request: HttpRequest) -> HttpResponseBase | None:
        query = request.META.get("QUERY_STRING", "")
        # The query string is decoded only when a NUL may be in it.
        suspect = "%00" in query or "\x00" in query
        fields = {
            name: ["Null characters are not allowed."]
            for name, values in (request.GET.lists() if suspect else ())
            if any(_UNSTORABLE.search(text) for text in (name, *values))
        }
        if not fields and not _UNSTORABLE.search(request.path_info):
            return None
        message = "The URL may not contain NUL characters (%00)."
        if is_api_path(request.path_info):
            return JsonResponse(error_body("invalid", message, fields), status=400)
        return HttpResponseBadRequest(message)
