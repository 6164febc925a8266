"""Explore's throttle: per user (or per IP when anonymous) at the `explore` rate from settings."""

from rest_framework.throttling import UserRateThrottle

from core.cache import FailOpenThrottleMixin


class ExploreRateThrottle(FailOpenThrottleMixin, UserRateThrottle):
    """Counts in Redis like every DRF throttle, but lets requests through while Redis is down."""

    scope = "explore"
