"""djangorestframework-simplejwt: short access tokens, persisted rotating refresh tokens."""

from datetime import timedelta

from config.env import env

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=10)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    # A key of its own: rotating it logs everybody out without touching sessions or signed data.
    "SIGNING_KEY": env("JWT_SIGNING_KEY", default="dev-only-insecure-jwt-signing-key-0123456789abcdef"),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    # Tokens carry a digest of the password hash: changing or resetting the password kills them at once.
    "CHECK_REVOKE_TOKEN": True,
    "USER_AUTHENTICATION_RULE": "auth_app.authentication.user_authentication_rule",
}
