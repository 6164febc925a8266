"""Auth API: register, login, refresh, logout (one session / everywhere), me, password change/reset.

Each view validates its input, makes one service call and serializes the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from auth_app import selectors, services
from auth_app.api import serializers
from auth_app.api.throttles import LoginAccountRateThrottle, PasswordResetAddressRateThrottle
from auth_app.authentication import AccountJWTAuthentication, AuthenticatedRequest
from auth_app.models import User
from core.api import error_example, validated
from core.services import parse_if_match
from core.throttling import ScopedRateThrottle

# The default throttles as classes: api_settings imports the setting's dotted paths (the stubs keep
# them as strings).
DEFAULT_THROTTLES = cast("Sequence[type[BaseThrottle]]", api_settings.DEFAULT_THROTTLE_CLASSES)


TAGS = ["auth"]
REGISTRATION_PENDING = (
    "Your account has been created and awaits approval by an administrator; you can sign in once it is "
    "approved."
)
RESET_REQUESTED = (
    "If an active account uses this address, an e-mail with a link to reset its password is on its way."
)
ERROR_DESCRIPTIONS = {
    400: "Invalid input; `error.fields` says which fields and why.",
    401: "Not authenticated, or the credentials / token are not valid.",
    403: "Refused: `registration_closed` (sign-up is closed: staff create accounts), "
    "`account_pending_approval` (right password, but staff have not approved the account yet), "
    "`password_change_required` (right, temporary password: sign in again with `new_password`).",
    412: "`If-Match` does not carry the current ETag of the profile.",
    429: "Too many requests; retry after the `Retry-After` header's seconds.",
    503: "A service the request needs is down (`task_queue_unavailable`: the e-mail cannot be queued); "
    "retry after the `Retry-After` header's seconds.",
}


ERROR_EXAMPLES = {
    400: error_example(400, "invalid", "Invalid input.", {"password": ["This field is required."]}),
    401: error_example(401, "invalid_credentials", "Unable to sign in with the given credentials."),
    403: error_example(
        403,
        "account_pending_approval",
        "This account awaits approval by an administrator; you can sign in once it is approved.",
    ),
    412: error_example(412, "stale_version", "The resource has changed since you read it; fetch it again."),
    429: error_example(429, "throttled", "Request was throttled. Expected available in 42 seconds."),
    503: error_example(
        503,
        "task_queue_unavailable",
        "Background work cannot be queued right now. Please try again in a minute.",
    ),
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(
            serializers.ErrorEnvelopeSerializer,
            description=ERROR_DESCRIPTIONS[code],
            examples=[ERROR_EXAMPLES[code]],
        )
        for code in codes
    }


ACCESS_TOKEN_EXAMPLE = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl"
REFRESH_TOKEN_EXAMPLE = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"
SESSION_EXAMPLE = OpenApiExample(
    "Signed in",
    value={
        "user": {
            "id": "0192f0c4-3b7a-7cc1-9a51-3f1e1c9d2a10",
            "username": "ada",
            "email": "ada@example.com",
            "display_name": "Ada Lovelace",
            "preferences": {"theme": "dark"},
            "roles": ["User"],
            "is_staff": False,
            "is_active": True,
            "last_login": "2025-03-01T09:30:00Z",
            "created_at": "2025-02-01T08:00:00Z",
            "updated_at": "2025-03-01T09:30:00Z",
            "version": 3,
        },
        "access": ACCESS_TOKEN_EXAMPLE,
        "refresh": REFRESH_TOKEN_EXAMPLE,
    },
    response_only=True,
    status_codes=[200, 201],
)
LOGIN_EXAMPLES = [
    OpenApiExample(
        "Username", value={"login": "ada", "password": "correct horse battery"}, request_only=True
    ),
    OpenApiExample(
        "Email",
        description="The account in `email` (or `username`), as other JWT clients send it.",
        value={"email": "ada@example.com", "password": "correct horse battery"},
        request_only=True,
    ),
    SESSION_EXAMPLE,
]


def session_data(user: User, tokens: services.TokenPair) -> dict:
    profile = selectors.user_profile_get(user_id=user.pk)
    return serializers.AuthSessionSerializer(
        {"user": profile, "access": tokens.access, "refresh": tokens.refresh}
    ).data


class CredentialsView(APIView):
    """Base of the endpoints that take credentials or a refresh token, not an access token: a stale
    `Authorization` header is not even read, and their 401s still name the Bearer scheme."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes: Sequence[type[BaseThrottle]] = (*DEFAULT_THROTTLES, ScopedRateThrottle)
    throttle_scope = "login"

    def get_authenticate_header(self, request: Request) -> str:
        return AccountJWTAuthentication().authenticate_header(request)

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if response.status_code == status.HTTP_401_UNAUTHORIZED and not response.has_header(
            "WWW-Authenticate"
        ):
            response["WWW-Authenticate"] = self.get_authenticate_header(self.request)
        return response


class RegisterView(CredentialsView):
    @extend_schema(
        tags=TAGS,
        auth=[],  # no access token: credentials or a refresh token in the body
        summary="Create an account",
        description="Creates an account with the `User` role. Username and e-mail are unique "
        "case-insensitively; the password must pass the password validators. What happens next "
        "depends on `REGISTRATION_MODE`: `open` signs the account in (201, tokens); `approval` "
        "creates it inactive, waiting for staff to approve it (202, no tokens; signing in answers 403 "
        "`account_pending_approval` until then); `closed` refuses every registration (403 "
        "`registration_closed`: staff create accounts).",
        request=serializers.RegisterSerializer,
        responses={
            201: serializers.AuthSessionSerializer,
            202: serializers.RegistrationPendingSerializer,
            **errors(400, 403, 429),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(serializers.RegisterSerializer, request.data)
        user, tokens = services.user_register(**data)
        if tokens is None:
            profile = selectors.user_profile_get(user_id=user.pk)
            body = {"detail": REGISTRATION_PENDING, "user": profile}
            return Response(
                serializers.RegistrationPendingSerializer(body).data, status=status.HTTP_202_ACCEPTED
            )
        return Response(session_data(user, tokens), status=status.HTTP_201_CREATED)


class LoginView(CredentialsView):
    throttle_classes = (*CredentialsView.throttle_classes, LoginAccountRateThrottle)

    @extend_schema(
        tags=TAGS,
        auth=[],  # no access token: credentials or a refresh token in the body
        summary="Sign in",
        description=(
            "Username or e-mail + password → access and refresh token. The account goes in `login`, or "
            "in `username` or `email` as other JWT clients send it. Every refusal (wrong password, "
            "unknown, inactive or locked account) is the same 401 `invalid_credentials`; only with the "
            "right password does a 403 say why the account cannot sign in yet: "
            "`account_pending_approval` (staff have not approved it) or `password_change_required` "
            "(staff set a temporary password: send it again with `new_password`, which replaces it, "
            "and get the tokens). "
            "LOGIN_LOCKOUT_THRESHOLD wrong passwords within LOGIN_LOCKOUT_WINDOW lock the account for "
            "LOGIN_LOCKOUT_DURATION. Throttled per IP and per account."
        ),
        request=serializers.LoginSerializer,
        responses={200: serializers.AuthSessionSerializer, **errors(400, 401, 403, 429)},
        examples=LOGIN_EXAMPLES,
    )
    def post(self, request: Request) -> Response:
        data = validated(serializers.LoginSerializer, request.data)
        user, tokens = services.user_login(**data)
        return Response(session_data(user, tokens))


class TokenRefreshView(CredentialsView):
    throttle_classes = DEFAULT_THROTTLES

    @extend_schema(
        tags=TAGS,
        auth=[],  # no access token: credentials or a refresh token in the body
        summary="Refresh the token pair",
        description="Trades a refresh token for a new pair. The refresh token is single-use: it is "
        "blacklisted, and presenting it again is a 401. Refused for inactive, deleted or locked accounts.",
        request=serializers.RefreshSerializer,
        responses={200: serializers.TokenPairSerializer, **errors(400, 401, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(serializers.RefreshSerializer, request.data)
        tokens = services.refresh_token_rotate(**data)
        return Response(serializers.TokenPairSerializer(tokens).data)


class LogoutView(CredentialsView):
    throttle_classes = DEFAULT_THROTTLES

    @extend_schema(
        tags=TAGS,
        auth=[],  # no access token: credentials or a refresh token in the body
        summary="Sign out this session",
        description="Blacklists the given refresh token. Needs no access token (it may have expired).",
        request=serializers.RefreshSerializer,
        responses={204: None, **errors(400, 401, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(serializers.RefreshSerializer, request.data)
        services.refresh_token_revoke(**data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutEverywhereView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        tags=TAGS,
        summary="Sign out everywhere",
        description="Blacklists every refresh token of the caller. Access tokens already issued expire "
        "on their own within ACCESS_TOKEN_LIFETIME (change the password to end them at once).",
        request=None,
        responses={204: None, **errors(401, 429)},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        services.refresh_tokens_revoke_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """The caller's own profile.

    PATCH writes `username`, `email` (with `current_password`), `display_name` and `preferences`.
    Mass assignment is refused, not ignored: a body naming any other key (`roles`, `is_staff`,
    `is_active`, `locked_until`, ...) is a 400 and nothing is written.
    """

    permission_classes = (IsAuthenticated,)
    throttle_scope = "login"

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.request.method == "PATCH":  # it can check the current password: same limit as login
            throttles.append(ScopedRateThrottle())
        return throttles

    @extend_schema(
        tags=TAGS,
        summary="Read the own profile",
        description="The profile with its roles; the `ETag` header carries its version for `If-Match`.",
        responses={200: serializers.ProfileSerializer, **errors(401, 429)},
    )
    def get(self, request: Request) -> Response:
        return self.profile_response(request.user.pk)

    @extend_schema(
        tags=TAGS,
        summary="Change the own profile",
        description=(
            "Changes `username`, `email`, `display_name` and/or `preferences` (a JSON object, replaced "
            "as a whole). Changing `email` needs `current_password`. **Read-only fields are refused, "
            "not ignored**: a body with `roles`, `is_staff`, `is_active`, `locked_until` or any other "
            "key is a 400 naming each such field, and nothing is written. Send `If-Match` with the "
            "ETag to refuse (412) a change based on a stale read."
        ),
        parameters=[
            OpenApiParameter(
                "If-Match",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description='The ETag read before, e.g. "3".',
            )
        ],
        request=serializers.ProfileUpdateSerializer,
        responses={200: serializers.ProfileSerializer, **errors(400, 401, 412, 429)},
    )
    def patch(self, request: AuthenticatedRequest) -> Response:
        data = validated(serializers.ProfileUpdateSerializer, request.data)
        changes = dict(data)
        services.user_profile_update(
            user=request.user,
            current_password=changes.pop("current_password", None),
            changes=changes,
            expected_version=parse_if_match(request.headers.get("If-Match")),
        )
        return self.profile_response(request.user.pk)

    def profile_response(self, user_id) -> Response:
        profile = selectors.user_profile_get(user_id=user_id)
        return Response(serializers.ProfileSerializer(profile).data, headers={"ETag": profile.etag})


class PasswordChangeView(APIView):
    permission_classes = (IsAuthenticated,)
    throttle_classes = (*DEFAULT_THROTTLES, ScopedRateThrottle)
    throttle_scope = "login"

    @extend_schema(
        tags=TAGS,
        summary="Change the password",
        description="Needs the current password. Revokes every refresh token of the account (all "
        "sessions end, access tokens included) and returns a fresh pair for this client.",
        request=serializers.PasswordChangeSerializer,
        responses={200: serializers.TokenPairSerializer, **errors(400, 401, 429)},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = validated(serializers.PasswordChangeSerializer, request.data)
        tokens = services.user_password_change(user=request.user, **data)
        return Response(serializers.TokenPairSerializer(tokens).data)


class PasswordResetRequestView(CredentialsView):
    throttle_classes = (*CredentialsView.throttle_classes, PasswordResetAddressRateThrottle)

    @extend_schema(
        tags=TAGS,
        auth=[],  # no access token: credentials or a refresh token in the body
        summary="Ask for a password reset e-mail",
        description="Always the same 202, whether or not an account uses the address; when one does, "
        "it gets an e-mail with a link carrying `uid` and `token`. The response never contains them. "
        "While e-mails cannot be queued, every request gets the same 503.",
        request=serializers.PasswordResetRequestSerializer,
        responses={202: serializers.DetailSerializer, **errors(400, 429, 503)},
    )
    def post(self, request: Request) -> Response:
        data = validated(serializers.PasswordResetRequestSerializer, request.data)
        services.user_password_reset_request(**data)
        return Response({"detail": RESET_REQUESTED}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(CredentialsView):
    @extend_schema(
        tags=TAGS,
        auth=[],  # no access token: credentials or a refresh token in the body
        summary="Set a new password from a reset link",
        description="`uid` and `token` come from the e-mailed link; it works once and expires after "
        "PASSWORD_RESET_TIMEOUT. Revokes every refresh token and lifts a lockout.",
        request=serializers.PasswordResetConfirmSerializer,
        responses={204: None, **errors(400, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(serializers.PasswordResetConfirmSerializer, request.data)
        services.user_password_reset_confirm(**data)
        return Response(status=status.HTTP_204_NO_CONTENT)
