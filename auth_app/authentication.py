"""Access-token authentication that looks at the account on every request.

simplejwt's `JWTAuthentication` already refuses unknown (here: soft-deleted) and inactive users and,
with `CHECK_REVOKE_TOKEN`, tokens issued before the last password change. This subclass also refuses
locked accounts, so a still-valid access token stops working on the next request once the account
is deactivated, deleted or locked, and it turns simplejwt's nested error details into the flat
message of the API's error shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed as TokenAuthenticationFailed

if TYPE_CHECKING:
    from auth_app.models import User

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


class AccountJWTAuthenticationScheme(SimpleJWTScheme):
    """OpenAPI: the bearer JWT scheme (Swagger UI's "Authorize" takes the access token from login)."""

    target_class = "auth_app.authentication.AccountJWTAuthentication"
