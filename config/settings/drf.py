"""Django REST framework and drf-spectacular."""

import orjson

from config.env import env

REST_FRAMEWORK = {
    # Access tokens, then personal API keys (`Bearer onk_…`, which the JWT class leaves alone).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "auth_app.authentication.AccountJWTAuthentication",
        "auth_app.authentication.ApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # orjson renders (a long history is megabytes of JSON); the JSON is the same: UTC instants end in
    # "Z" as DRF writes them, and error details keyed by list index ({"tag_ids": {0: [...]}}) work.
    "DEFAULT_RENDERER_CLASSES": ["drf_orjson_renderer.renderers.ORJSONRenderer"],
    "ORJSON_RENDERER_OPTIONS": (orjson.OPT_NON_STR_KEYS, orjson.OPT_UTC_Z),
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
        # API quotas of requests made with an API key (429 quota_exceeded; fail open without Redis).
        "auth_app.api.throttles.ApiKeyQuotaThrottle",
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
    # Operations are described by their extend_schema or their action's docstring, never by a view's.
    "GET_LIB_DOC_EXCLUDES": "core.api.schema_docstring_excludes",
    # No badge from the online validator (validator.swagger.io): the docs work offline.
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "validatorUrl": None},
    "TAGS": [
        {
            "name": "auth",
            "description": "Accounts and sessions: register, sign in (`login`, `username` or `email` + "
            "password) for a short-lived access token (`Authorization: Bearer`) and a single-use refresh "
            "token, refresh, sign out here or everywhere, the own profile (`ETag`/`If-Match`), password "
            "change and reset by e-mail, the own token usage.",
        },
        {
            "name": "explore",
            "description": "The public catalogue of published models: filters, ordering, page numbers "
            "with totals, full-text search (`q`, ranked, with highlighted snippets and a fallback on "
            "similar names for typos), a model by id or Ollama name, tags with their model counts, and "
            "the leaderboard of models ranked from people's votes and kept answers.",
        },
        {
            "name": "models",
            "description": "The models the caller may use: published models their roles allow (a role "
            "may be limited to some models or tags; Explore still shows every published model). The "
            "same rule decides which models a conversation may pick and chat with.",
        },
        {
            "name": "conversations",
            "description": "The caller's own data (another user's is a 404): folders (nested, moved, "
            "deleted to the trash with what they hold), conversations with a published model, chat "
            "(`POST …/messages/`, streamed as Server-Sent Events with `stream=true`), the branch "
            "history, regenerated answers and branch switching, feedback and notes on answers, "
            "attachments (PDF, DOCX, Markdown, text), search across prompts and answers (`q`), export, "
            "the trash and token usage. Shared links: a public, read-only snapshot of a conversation "
            "(`…/share/`, listed and revoked under `/shares/`), read by anyone holding its token at "
            "`/public/shares/{token}/` and continued as one's own conversation (`…/fork/`). Lists are "
            "cursor-paginated; updates honour `If-Match`.",
        },
        {
            "name": "admin",
            "description": "The staff API, for the Admin role: users and roles, the model catalogue "
            "and its tags, system messages, models in Ollama and pulls, the audit trail, usage "
            "statistics and the database's health. Lists have page numbers with totals, except the "
            "audit trail (a cursor).",
        },
    ],
    # Several models have a `status` with its own choices: name each set.
    "ENUM_NAME_OVERRIDES": {
        "ModelPullStatusEnum": "admin_app.models.PullStatus",
        "ResponseStatusEnum": "conversations_app.models.ResponseStatus",
        "ApprovalStatusEnum": "auth_app.models.ApprovalStatus",
    },
}
