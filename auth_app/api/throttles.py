"""Throttles of the auth endpoints: per account as well as per IP (ScopedRateThrottle)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from rest_framework.throttling import BaseThrottle

from auth_app.authentication import is_api_key_request
from core.throttling import FailOpenThrottleMixin, SimpleRateThrottle


class LoginAccountRateThrottle(SimpleRateThrottle):
    """Limits attempts naming one account (the `login` in the body, or its aliases `username` and
    `email`), from whichever addresses they come.

    The key is a digest of the normalised identifier, so the cache never holds what people typed.
    """

    scope = "login"
    identifier_fields: tuple[str, ...] = ("login", "username", "email")

    def get_cache_key(self, request, view) -> str | None:
        data = request.data
        values = [data.get(name) for name in self.identifier_fields] if isinstance(data, Mapping) else []
        value = next((value for value in values if isinstance(value, str) and value.strip()), None)
        if value is None:
            return None
        digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": f"{self.scope}_account", "ident": digest}


class PasswordResetAddressRateThrottle(LoginAccountRateThrottle):
    """Limits reset e-mails to one address, so nobody can flood a mailbox with them."""

    scope = "password_reset"
    identifier_fields = ("email",)


class ApiKeyQuotaThrottle(FailOpenThrottleMixin, BaseThrottle):
    """The API quotas (requests per minute, tokens per day) of a request made with an API key: over
    them, a 429 `quota_exceeded` with `Retry-After`. Requests signed in with an access token pass
    (the other throttles limit them). In DEFAULT_THROTTLE_CLASSES.

    A view that calls `auth_app.services.quotas.check_request_quota` itself (the compatible
    endpoints, for every caller) sets `counts_api_quota = True`, so a request is counted once.

    It fails open like every throttle, in `check_request_quota` itself (which also keeps counting the
    daily tokens from PostgreSQL while Redis is down), so it replaces the mixin's `allow_request`.
    """

    def allow_request(self, request, view) -> bool:
        if getattr(view, "counts_api_quota", False) or not is_api_key_request(request):
            return True
        # Imported here: DRF imports this class while the settings load, before the models can be.
        from auth_app.services.quotas import check_request_quota

        check_request_quota(request.user, request.auth)  # raises QuotaExceeded
        return True
