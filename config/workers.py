"""The gunicorn worker class serving the ASGI application: uvicorn's, leaving `X-Forwarded-For` to the
application.

uvicorn's own worker rewrites the client address from `X-Forwarded-For` whenever the peer is in
gunicorn's `--forwarded-allow-ips` (127.0.0.1 by default), so any local client could choose the
address the throttles and the audit trail see. Here the peer address reaches Django untouched and the
application alone decides whom to trust: `NUM_PROXIES` (core.http.client_ip).

    gunicorn config.asgi:application -k config.workers.UvicornWorker
"""

from __future__ import annotations

from typing import Any

from uvicorn.workers import UvicornWorker as BaseUvicornWorker


class UvicornWorker(BaseUvicornWorker):
    CONFIG_KWARGS: dict[str, Any] = {**BaseUvicornWorker.CONFIG_KWARGS, "proxy_headers": False}
