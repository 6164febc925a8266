"""Token pairs: issue, rotate, revoke (one session, chosen ones or all of a user's), purge the expired."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import status
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from auth_app import selectors
from auth_app.authentication import user_authentication_rule
from auth_app.models import User
from auth_app.services.events import security_event_record
from core.exceptions import ApplicationError


class InvalidRefreshToken(ApplicationError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "token_not_valid"
    default_message = "The refresh token is invalid, expired or revoked."


@dataclass(frozen=True)
class TokenPair:
    """A short-lived access token and the persisted refresh token it came from."""

    access: str
    refresh: str


def token_pair_issue(*, user: User) -> TokenPair:
    """A new pair for `user`; simplejwt persists the refresh token as an OutstandingToken."""
    refresh = RefreshToken.for_user(user)
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def _refresh_token_decode(raw: str) -> RefreshToken:
    """Signature, expiry, type and blacklist checked by simplejwt; any failure is one 401."""
    try:
        return RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise InvalidRefreshToken() from exc


def refresh_tokens_blacklist(outstanding: QuerySet[OutstandingToken]) -> int:
    """Blacklist the not yet blacklisted tokens of `outstanding`; returns how many were revoked."""
    ids = list(outstanding.filter(blacklistedtoken__isnull=True).order_by().values_list("pk", flat=True))
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token_id=pk) for pk in ids], ignore_conflicts=True)
    return len(ids)


def refresh_token_rotate(*, refresh: str) -> TokenPair:
    """Trade a refresh token for a new pair and blacklist the old one.

    The token's row is locked first, so two requests presenting the same token cannot both
    succeed (simplejwt's own serializer checks, then writes). Tokens of accounts that may not
    sign in (inactive, deleted, locked) are refused and stay as they are.
    """
    token = _refresh_token_decode(refresh)
    with transaction.atomic():
        outstanding = (
            OutstandingToken.objects.select_for_update()
            .filter(jti=token[jwt_settings.JTI_CLAIM])
            .order_by()  # the model orders by user, and FOR UPDATE refuses that outer join
            .first()
        )
        if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
            raise InvalidRefreshToken()
        user = selectors.user_get_alive(user_id=outstanding.user_id)
        if user is None or not user_authentication_rule(user):
            raise InvalidRefreshToken()
        BlacklistedToken.objects.create(token=outstanding)
        return token_pair_issue(user=user)


def refresh_token_revoke(*, refresh: str) -> None:
    """Log out one session: blacklist the given refresh token."""
    token = _refresh_token_decode(refresh)
    if not refresh_tokens_blacklist(OutstandingToken.objects.filter(jti=token[jwt_settings.JTI_CLAIM])):
        raise InvalidRefreshToken()  # never issued here, or revoked a moment ago


def refresh_tokens_revoke_all(*, user: User) -> int:
    """Log out everywhere: blacklist every refresh token of the user that is still usable.

    Access tokens already handed out live on until they expire (ACCESS_TOKEN_LIFETIME), unless the
    password changes or the account is deactivated, deleted or locked.
    """
    revoked = refresh_tokens_blacklist(selectors.refresh_tokens_outstanding(user=user))
    security_event_record(event="sessions_revoked", user=user, revoked=revoked)
    return revoked


def refresh_tokens_revoke_selected(*, tokens: QuerySet[OutstandingToken]) -> int:
    """Revoke the chosen refresh tokens (staff ending particular sessions); each account that lost a
    session gets a security event. Returns how many were revoked (already revoked ones do not count)."""
    revoked = 0
    for user_id in tokens.order_by().values_list("user_id", flat=True).distinct():
        count = refresh_tokens_blacklist(tokens.filter(user_id=user_id))
        revoked += count
        if count and user_id is not None:
            security_event_record(
                event="sessions_revoked", user=User._base_manager.get(pk=user_id), revoked=count
            )
    return revoked


def refresh_tokens_purge_expired() -> int:
    """Delete expired refresh tokens (and their blacklist entries); returns how many tokens went."""
    _, per_model = OutstandingToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return per_model.get(OutstandingToken._meta.label, 0)
