"""ASGI entry point: streamed chat responses are served by async views without holding a thread."""

import os

from django.core.asgi import get_asgi_application

# Production settings unless told otherwise: they refuse to start without their secrets.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402 - settings are configured by get_asgi_application()

from core.asgi import BodySizeLimitMiddleware  # noqa: E402

# (Django's stubs type the scope as a dict, the middleware as any mapping, which an ASGI scope is.)
application = BodySizeLimitMiddleware(
    django_application,  # type: ignore[arg-type]
    max_bytes=settings.REQUEST_BODY_MAX_BYTES,
    # An export file to import may be far larger than an attachment.
    path_limits={"/api/v1/conversations/import/": settings.IMPORT_MAX_BYTES + 1024 * 1024},
)
