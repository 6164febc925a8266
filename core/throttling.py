"""DRF's throttles, counting in Redis, that step aside while Redis is unreachable.

Every throttle of the project derives from one of these (the defaults in `REST_FRAMEWORK`, the login,
password-reset, chat and Explore throttles). Throttles are an accelerator's job, like the cache: with
Redis down a request is let through rather than failed with a 500. The outage is remembered by the
cache's cool-down (`core.cache.outage`): one warning per `CACHE_OUTAGE_COOLDOWN`, Redis not tried
again during it, and counting starts again by itself once the cool-down is over and Redis answers.
"""

from __future__ import annotations

from rest_framework import throttling

from core.cache import CACHE_ERRORS, outage


class FailOpenThrottleMixin:
    """Let the request through (and note the outage) when the throttle's cache cannot be reached."""

    def allow_request(self, request, view) -> bool:
        if outage.active():
            return True
        try:
            return super().allow_request(request, view)  # type: ignore[misc]
        except CACHE_ERRORS as exc:
            outage.record(exc, f"throttle {getattr(self, 'scope', None) or type(self).__name__}")
            return True


class SimpleRateThrottle(FailOpenThrottleMixin, throttling.SimpleRateThrottle):
    """Base of throttles with a cache key of their own (e.g. per account named in the body)."""


class AnonRateThrottle(FailOpenThrottleMixin, throttling.AnonRateThrottle):
    """Anonymous requests per client address, at the `anon` rate."""


class UserRateThrottle(FailOpenThrottleMixin, throttling.UserRateThrottle):
    """Requests per user (per address when anonymous), at the `user` rate or the subclass's scope."""


class ScopedRateThrottle(FailOpenThrottleMixin, throttling.ScopedRateThrottle):
    """Requests per user or address at the rate of the view's `throttle_scope`."""
