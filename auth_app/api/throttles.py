"""Throttles of the auth endpoints: per account as well as per IP (ScopedRateThrottle)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from core.throttling import SimpleRateThrottle


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
