"""django-cors-headers: which browser origins may call the APIs from their scripts.

None by default. `CORS_ALLOWED_ORIGINS` lists exact origins (`https://chat.example.com`, comma-separated),
`CORS_ALLOWED_ORIGIN_REGEXES` patterns matched against the whole origin (separated by spaces, since a
pattern may hold a comma). Credentials are never allowed: the APIs authenticate with a bearer token the
script sends itself, never with cookies.
"""

import re

from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

from config.env import env

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOWED_ORIGIN_REGEXES = env("CORS_ALLOWED_ORIGIN_REGEXES", default="").split()
for _pattern in CORS_ALLOWED_ORIGIN_REGEXES:
    try:
        re.compile(_pattern)
    except re.error as exc:
        raise ImproperlyConfigured(
            f"CORS_ALLOWED_ORIGIN_REGEXES: {_pattern!r} is not a regex: {exc}"
        ) from exc
CORS_ALLOW_CREDENTIALS = False
# The REST API, and the Ollama- and OpenAI-compatible APIs; never the Django admin.
CORS_URLS_REGEX = r"^/(api|ollama|v1)/"
CORS_ALLOW_HEADERS = (
    *default_headers,
    "if-match",
    "if-none-match",
    "last-event-id",
    "x-request-id",
)
CORS_EXPOSE_HEADERS = ["ETag", "Retry-After", "X-Request-ID", "Location"]
