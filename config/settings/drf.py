"""Django REST framework and drf-spectacular."""

from config.env import env

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["auth_app.authentication.AccountJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only, read by orjson, refusing NUL characters, lone surrogates and deep nesting
    # (core/parsers.py): one request content type per operation, which generated clients need. The
    # attachment upload, the one body with a file, sets its own multipart parser.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        # DRF's throttles, letting requests through while Redis is down (core/throttling.py).
        "core.throttling.AnonRateThrottle",
        "core.throttling.UserRateThrottle",
    ],
    # Reverse proxies in front of the app whose X-Forwarded-For is trusted for the client's address
    # (throttles, audit trail; core.http.client_ip). 0: the header is ignored, the peer address counts.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="120/min"),
        "user": env("THROTTLE_USER", default="600/min"),
        "login": env("THROTTLE_LOGIN", default="10/min"),
        "password_reset": env("THROTTLE_PASSWORD_RESET", default="5/hour"),
        "chat": env("THROTTLE_CHAT", default="30/min"),
        "explore": env("THROTTLE_EXPLORE", default="300/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OllamaNet API",
    "DESCRIPTION": "Backend of a self-hosted LLM chat platform in front of Ollama.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    # Several models have a `status` with its own choices: name each set.
    "ENUM_NAME_OVERRIDES": {
        "ModelPullStatusEnum": "admin_app.models.PullStatus",
        "ResponseStatusEnum": "conversations_app.models.ResponseStatus",
    },
}
