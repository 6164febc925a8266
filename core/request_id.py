"""The request id: one per HTTP request (or background task), on every log record and audit event.

A client may send its own `X-Request-ID` (1 to 64 characters of letters, digits, `.`, `_`, `-`) to follow
a request through its logs and ours; anything else is replaced by a new UUID. The id lives in a
context variable, so code far from the request (services, the audit trail, Celery's publisher) reads
it without being handed the request.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from core.task_context import carry_into_tasks

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
CELERY_HEADER = "ollamanet_request_id"
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

_current: ContextVar[str] = ContextVar("request_id", default="")


def get_request_id() -> str:
    """The id of the request (or task) being handled, "" outside of one."""
    return _current.get()


def request_id_from_client(value: str | None) -> str:
    """The client's id when it is valid, else a new UUID."""
    if value and VALID_REQUEST_ID.fullmatch(value):
        return value
    return str(uuid.uuid4())


def request_id_begin(request_id: str) -> None:
    """Make `request_id` current until `request_id_end` (Django's `request_finished`): Django itself
    logs a failed request's status after the middleware has returned, and that line needs it too."""
    _current.set(request_id)


def request_id_end(**_: Any) -> None:
    """`request_finished` receiver: the thread's next work is not this request's."""
    _current.set("")


@contextmanager
def request_id_scope(request_id: str) -> Iterator[str]:
    """Make `request_id` the current one for the duration of the block."""
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)


def connect_celery_signals() -> None:
    """A Celery task runs under the id of the request that queued it."""
    carry_into_tasks(_current, header=CELERY_HEADER, dump=lambda value: value, load=request_id_from_client)
