"""Personal API keys: creation (the secret shown once), authentication, revocation, staff quotas.

A key reads `onk_<prefix>_<secret>`: `onk_` tells it apart from a JWT in the same `Authorization:
Bearer` header, the 8-character `prefix` finds its row (unique index), and the secret is 32 random
bytes (urlsafe base64). Only the prefix and an HMAC-SHA256 of the whole key are stored; the HMAC is
keyed by a secret derived from SECRET_KEY (`salted_hmac`), so a leaked table alone does not let anyone
check guesses, and rotating SECRET_KEY invalidates every key. The comparison is constant-time.
"""

from __future__ import annotations

import datetime
import hmac
import secrets
import string
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from auth_app.models import ApiKey, ApiScope, User, all_api_scopes
from core import services as core_services
from core.audit import audit_record
from core.exceptions import ApplicationError, Conflict, NotFound, ValidationFailed

KEY_MARK = "onk_"
PREFIX_LENGTH = 8
PREFIX_ALPHABET = string.ascii_lowercase + string.digits
SECRET_BYTES = 32
HMAC_SALT = "ollamanet.auth_app.api_keys"
NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length or 100
MAX_LIVE_KEYS_PER_USER = 50
# `last_used_at` is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)

UNSET: Any = object()


class InvalidApiKey(Exception):
    """The presented key is unknown, malformed, revoked or expired, or its owner may not sign in."""

    def __init__(self, message: str = "The API key is invalid, expired or revoked.") -> None:
        self.message = message
        super().__init__(message)


class ScopeNotAllowed(ApplicationError):
    """The key lacks the scope an endpoint needs: 403 `insufficient_scope`."""

    status_code = 403
    code = "insufficient_scope"
    default_message = "This API key may not be used for this."


def require_scope(api_key: ApiKey | None, scope: str) -> None:
    """Refuse (ScopeNotAllowed) a request made with a key that lacks `scope` (one of ApiScope). A
    caller signed in with an access token (`api_key` None) may do everything."""
    if scope not in all_api_scopes():
        raise ValueError(f"unknown scope {scope!r}")
    if api_key is not None and not api_key.has_scope(scope):
        raise ScopeNotAllowed(f"This API key lacks the {scope!r} scope.")


def looks_like_api_key(raw: str) -> bool:
    """Whether a bearer credential is meant as an API key (not a JWT): it starts with `onk_`."""
    return isinstance(raw, str) and raw.startswith(KEY_MARK)


def _split(raw: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, None otherwise."""
    body = raw[len(KEY_MARK) :]
    prefix, separator, secret = body[:PREFIX_LENGTH], body[PREFIX_LENGTH : PREFIX_LENGTH + 1], body[9:]
    if separator != "_" or len(secret) < 32 or len(raw) > 200:
        return None
    if any(char not in PREFIX_ALPHABET for char in prefix):
        return None
    return prefix, secret


def key_digest(raw: str) -> str:
    """HMAC-SHA256 (hex) of a whole key, keyed by a secret derived from SECRET_KEY."""
    return salted_hmac(HMAC_SALT, raw, algorithm="sha256").hexdigest()


def _new_key() -> tuple[str, str]:
    """(prefix, whole key) of a fresh random key."""
    prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    return prefix, f"{KEY_MARK}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"


# --- validation ----------------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned:
        raise ValidationFailed("A key needs a name.", fields={"name": ["This field may not be blank."]})
    if len(cleaned) > NAME_MAX_LENGTH:
        message = f"Ensure this field has no more than {NAME_MAX_LENGTH} characters."
        raise ValidationFailed(message, fields={"name": [message]})
    return cleaned


def _clean_scopes(scopes: Iterable[str] | None) -> list[str]:
    if scopes is None:
        return all_api_scopes()
    chosen = set(scopes)
    unknown = sorted(chosen - set(all_api_scopes()))
    if unknown:
        message = f"Unknown scopes: {', '.join(unknown)}. Choose from: {', '.join(all_api_scopes())}."
        raise ValidationFailed(message, fields={"scopes": [message]})
    if not chosen:
        message = "Choose at least one scope."
        raise ValidationFailed(message, fields={"scopes": [message]})
    return [scope.value for scope in ApiScope if scope.value in chosen]


def _clean_expiry(expires_at: datetime.datetime | None) -> datetime.datetime | None:
    if expires_at is not None and expires_at <= timezone.now():
        message = "Must be in the future."
        raise ValidationFailed(message, fields={"expires_at": [message]})
    return expires_at


def _duplicate_name() -> Conflict:
    message = "You already have a key with this name."
    return Conflict(message, code="duplicate_name", fields={"name": [message]})


def _public(key: ApiKey) -> dict[str, Any]:
    """What the audit trail keeps of a key: never its hash."""
    return {
        "name": key.name,
        "prefix": key.prefix,
        "scopes": list(key.scopes),
        "record": key.record,
        "expires_at": key.expires_at,
        "user_id": str(key.user_id),
    }


# --- the owner's actions ------------------------------------------------------------------------------


def create_api_key(
    user: User,
    *,
    name: str,
    expires_at: datetime.datetime | None = None,
    scopes: Iterable[str] | None = None,
    record: bool = True,
) -> tuple[ApiKey, str]:
    """A new key of `user` and its secret (the only time it exists outside the caller's hands).

    The name is unique among the user's live (unrevoked) keys, case-insensitively: 409 otherwise.
    """
    name = _clean_name(name)
    chosen_scopes = _clean_scopes(scopes)
    expires_at = _clean_expiry(expires_at)
    live = ApiKey.objects.filter(user=user, revoked_at__isnull=True)
    if live.filter(name__iexact=name).exists():
        raise _duplicate_name()
    if live.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())).count() >= (
        MAX_LIVE_KEYS_PER_USER
    ):
        raise Conflict(
            f"You have {MAX_LIVE_KEYS_PER_USER} live keys; revoke one first.", code="too_many_keys"
        )
    for _attempt in range(3):  # a clash of random prefixes is very unlikely, twice in a row absurd
        prefix, raw = _new_key()
        key = ApiKey(
            user=user,
            name=name,
            prefix=prefix,
            key_hash=key_digest(raw),
            scopes=chosen_scopes,
            record=record,
            expires_at=expires_at,
        )
        try:
            with transaction.atomic():
                key.save(force_insert=True)
                audit_record(action="api_key_created", target=key, after=_public(key))
        except IntegrityError as exc:
            if ApiKey.objects.filter(prefix=prefix).exists():
                continue
            raise _duplicate_name() from exc  # a concurrent create took the name first
        return key, raw
    raise Conflict("Could not create a key; try again.", code="key_collision")  # pragma: no cover


def api_key_get_owned(*, user: User, key_id: Any) -> ApiKey:
    """One of `user`'s live keys; another user's key, a revoked or unknown one is a 404."""
    key = ApiKey.objects.filter(user=user, pk=key_id, revoked_at__isnull=True).first()
    if key is None:
        raise NotFound("No such API key.")
    return key


def revoke_api_key(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key: refused from the next request on. Revoking a revoked key is a 404."""
    with transaction.atomic():
        now = timezone.now()
        updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=now, updated_at=now
        )
        if not updated:
            raise NotFound("No such API key.")
        api_key.revoked_at = now
        audit_record(
            action="api_key_revoked", target=api_key, before=_public(api_key), after={"revoked_at": now}
        )
    return api_key


# --- authentication -----------------------------------------------------------------------------------


def authenticate_api_key(raw: str) -> ApiKey:
    """The live key `raw` stands for, with its `.user` loaded; InvalidApiKey for anything else (unknown,
    malformed, revoked, expired, or an owner who may not sign in: inactive, deleted or locked).

    Touches `last_used_at` at most once a minute per key (one conditional UPDATE).
    """
    parts = _split(raw) if looks_like_api_key(raw) else None
    if parts is None:
        raise InvalidApiKey()
    key = ApiKey.objects.select_related("user").filter(prefix=parts[0]).first()
    # Compared in constant time whether or not the prefix exists, so timing tells nothing.
    expected = key.key_hash if key is not None else key_digest(KEY_MARK)
    matches = hmac.compare_digest(expected.encode(), key_digest(raw).encode())
    if key is None or not matches:
        raise InvalidApiKey()
    if key.is_revoked:
        raise InvalidApiKey("The API key has been revoked.")
    if key.is_expired:
        raise InvalidApiKey("The API key has expired.")
    if not key.user.can_sign_in:
        raise InvalidApiKey("This account cannot be used at the moment.")
    _touch(key)
    return key


def _touch(key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    # Conditional: of concurrent first requests of a minute, one writes.
    ApiKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    key.last_used_at = now


# --- staff --------------------------------------------------------------------------------------------


def _quota_changes(requests_per_minute: Any, tokens_per_day: Any, names: tuple[str, str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field, value in zip(names, (requests_per_minute, tokens_per_day), strict=True):
        if value is UNSET:
            continue
        if value is not None and (not isinstance(value, int) or value < 0):
            message = "Must be a whole number of at least 0, or null for the default."
            raise ValidationFailed(message, fields={field: [message]})
        changes[field] = value
    return changes


def api_key_quota_set(
    *, api_key: ApiKey, requests_per_minute: int | None = UNSET, tokens_per_day: int | None = UNSET
) -> ApiKey:
    """Staff: the key's own limits (None: its owner's; 0: unlimited). Recorded in the audit trail."""
    changes = _quota_changes(requests_per_minute, tokens_per_day, ("requests_per_minute", "tokens_per_day"))
    with transaction.atomic():
        locked = core_services.lock_for_update(ApiKey, api_key.pk)
        before = {field: getattr(locked, field) for field in changes}
        if changes and before != changes:
            ApiKey.objects.filter(pk=locked.pk).update(**changes, updated_at=timezone.now())
            audit_record(action="api_key_quota_changed", target=locked, before=before, after=changes)
    api_key.refresh_from_db()
    return api_key


def user_api_quota_set(
    *,
    user: User,
    requests_per_minute: int | None = UNSET,
    tokens_per_day: int | None = UNSET,
    expected_version: int | None = None,
) -> User:
    """Staff: the user's API quotas (None: the defaults; 0: unlimited). The audit trigger on the user
    table records the change."""
    changes = _quota_changes(
        requests_per_minute, tokens_per_day, ("api_requests_per_minute", "api_tokens_per_day")
    )
    with transaction.atomic():
        core_services.ensure_alive(core_services.lock_for_update(User, user.pk))
        return core_services.versioned_change(user, fields=changes, expected_version=expected_version)
