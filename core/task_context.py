"""Context that follows work into Celery: a context variable's value at the moment a task is queued
travels in a message header and is current again while a worker runs the task (the request id, who
is acting for the audit trail). Eager tasks run in the caller's context already and are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, TypeVar

T = TypeVar("T")


def carry_into_tasks(
    var: ContextVar[T], *, header: str, dump: Callable[[T], Any], load: Callable[[Any], T]
) -> None:
    """Put `dump(var.get())` in the `header` of every task queued (unless it is None or empty) and
    set `var` to `load(header)` around the task's run in the worker."""
    from celery import signals

    tokens: dict[str, Token[T]] = {}

    def on_publish(headers: dict | None = None, **_: Any) -> None:
        value = dump(var.get())
        if headers is not None and value not in (None, "", {}) and header not in headers:
            headers[header] = value

    def on_task_start(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        request = getattr(task, "request", None)
        carried = getattr(request, header, None)
        if task_id and carried is not None and not getattr(request, "is_eager", False):
            tokens[task_id] = var.set(load(carried))

    def on_task_end(task_id: str | None = None, **_: Any) -> None:
        token = tokens.pop(task_id, None) if task_id else None
        if token is not None:
            var.reset(token)

    signals.before_task_publish.connect(on_publish, weak=False, dispatch_uid=f"{header}:publish")
    signals.task_prerun.connect(on_task_start, weak=False, dispatch_uid=f"{header}:task_start")
    signals.task_postrun.connect(on_task_end, weak=False, dispatch_uid=f"{header}:task_end")
