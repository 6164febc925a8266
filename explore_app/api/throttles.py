"""Explore's throttle: per user (or per IP when anonymous) at the `explore` rate from settings."""

from core.throttling import UserRateThrottle


class ExploreRateThrottle(UserRateThrottle):
    """Counts in Redis like every throttle of the project, and lets requests through while it is down."""

    scope = "explore"
