"""Bearer authentication: access tokens (JWT) and personal API keys, both checked against the account
on every request.

simplejwt's `JWTAuthentication` already refuses unknown (here: soft-deleted) and inactive users and,
with `CHECK_REVOKE_TOKEN`, tokens issued before the last password change. This subclass also refuses
locked accounts, so a still-valid access token stops working on the next request once the account
is deactivated, deleted or locked, and it turns simplejwt's nested error details into the flat
message of the API's error shape. A bearer credential starting with `onk_` is an API key: the JWT
class leaves it to `ApiKeyAuthentication` (next in DEFAULT_AUTHENTICATION_CLASSES) without parsing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed as TokenAuthenticationFailed

if TYPE_CHECKING:
    from auth_app.models import ApiKey, User

ACCOUNT_UNAVAILABLE = "This account cannot be used at the moment. Sign in again."


class AuthenticatedRequest(Request):
    """For the type checker: the request of a view that requires IsAuthenticated."""

    user: User


def user_authentication_rule(user: Any) -> bool:
    """simplejwt's USER_AUTHENTICATION_RULE: the account exists and may sign in right now, and is not
    waiting to replace a temporary password (its tokens wait for that too)."""
    return user is not None and user.can_sign_in and not user.password_change_required


class AccountJWTAuthentication(JWTAuthentication):
    """Bearer access tokens, checked against the account's current state on each request."""

    def authenticate(self, request):
        if _bearer_api_key(self, request) is not None:
            return None  # an API key: ApiKeyAuthentication's
        try:
            return super().authenticate(request)
        except TokenAuthenticationFailed as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {}
            code = str(detail.get("code", "token_not_valid"))
            if code in {"user_not_found", "user_inactive"}:
                raise exceptions.AuthenticationFailed(
                    ACCOUNT_UNAVAILABLE, code="account_unavailable"
                ) from exc
            message = str(detail.get("detail", "The access token is invalid or has expired."))
            raise exceptions.AuthenticationFailed(message, code=code) from exc

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if not user_authentication_rule(user):
            raise exceptions.AuthenticationFailed(ACCOUNT_UNAVAILABLE, code="account_unavailable")
        return user


def _bearer_api_key(authentication: JWTAuthentication, request: Request) -> str | None:
    """The API key in `Authorization: Bearer onk_…`, None for anything else (a JWT, no header)."""
    from auth_app.services.api_keys import looks_like_api_key

    header = authentication.get_header(request)
    parts = header.split() if header is not None else []
    if len(parts) != 2 or parts[0] != b"Bearer":
        return None
    value = parts[1].decode("latin-1")
    return value if looks_like_api_key(value) else None


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer onk_…`: a personal API key. `request.auth` is the `ApiKey`.

    A malformed, unknown, revoked or expired key, or one of an account that may not sign in, is a 401.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        from auth_app.services.api_keys import InvalidApiKey, authenticate_api_key

        raw = _bearer_api_key(JWTAuthentication(), request)
        if raw is None:
            return None
        try:
            key = authenticate_api_key(raw)
        except InvalidApiKey as exc:
            raise exceptions.AuthenticationFailed(exc.message, code="invalid_api_key") from exc
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


def is_api_key_request(request: Request) -> bool:
    """Whether the request was authenticated with an API key (not a JWT or a session)."""
    from auth_app.models import ApiKey

    return isinstance(getattr(request, "auth", None), ApiKey)


class RefuseApiKeys(BasePermission):
    """Signed in with an access token, not an API key: for managing the keys themselves, so a leaked
    key cannot mint more keys or keep itself alive."""

    message = "API keys cannot be used here: sign in and use the access token."
    code = "api_key_not_allowed"

    def has_permission(self, request, view) -> bool:
        return not is_api_key_request(request)


class AccountJWTAuthenticationScheme(SimpleJWTScheme):
    """OpenAPI: the bearer JWT scheme (Swagger UI's "Authorize" takes the access token from login)."""

    target_class = "auth_app.authentication.AccountJWTAuthentication"


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """OpenAPI: personal API keys, sent as a bearer credential (`onk_…`)."""

    target_class = "auth_app.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "onk_<prefix>_<secret>",
            "description": "A personal API key (POST /api/v1/auth/keys/), as `Authorization: Bearer onk_…`.",
        }
