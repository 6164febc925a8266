"""Queueing background work (Celery) so that a broker that is down never fails a request.

    enqueue_on_commit("conversations_app.tasks.extract_attachment_text", str(attachment.pk))

Tasks are named, not imported: a service queues work of its app's tasks module, which itself calls the
services, and naming the task keeps the imports one way (tasks → services).

    require_task_queue()   # before writing work that only a task can finish: 503 when it cannot be queued

- A publish is bounded (`CELERY_BROKER_TRANSPORT_OPTIONS` timeouts, `CELERY_TASK_PUBLISH_RETRY_POLICY`):
  a dead broker costs about a second, never a hang.
- A failed publish is logged once per `CACHE_OUTAGE_COOLDOWN` (the same cool-down as the cache's) and
  this process does not try the broker again during it. It never raises out of `on_commit`: the
  request that committed answers normally, and what was not queued is the business of either a
  periodic sweep that queues it later (attachment text extraction), or of an `on_failure` callback
  that ends the row it was for (model pulls).
- Work that has no row a sweep could find (a password reset e-mail) asks `require_task_queue()` first
  and answers 503 `task_queue_unavailable` while the broker is unreachable.

With `CELERY_TASK_ALWAYS_EAGER` (tests) tasks run inline and their errors propagate as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import import_module
from typing import Any

from celery import current_app
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from core.cache import Outage
from core.exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)

# What publishing to an unreachable or hung broker raises (kombu wraps most of it).
BROKER_ERRORS: tuple[type[Exception], ...] = (KombuOperationalError, RedisError, OSError)

broker_outage = Outage(
    name="task queue",
    fallback="work is left to the periodic sweeps, and the broker not tried for the next {cooldown:.0f} s",
    log=logger,
)


class TaskQueueUnavailable(ServiceUnavailable):
    code = "task_queue_unavailable"
    default_message = "Background work cannot be queued right now. Please try again in a minute."
    retry_after = 30


@receiver(setting_changed)
def _forget_outage_when_broker_changes(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CELERY_") or setting == "CACHE_OUTAGE_COOLDOWN":
        broker_outage.clear()


def _eager() -> bool:
    return bool(current_app.conf.task_always_eager)


def _task(task: Any) -> Any:
    """A Celery task, or the task of that dotted name (its module imported if need be)."""
    if not isinstance(task, str):
        return task
    if task not in current_app.tasks:
        import_module(task.rsplit(".", 1)[0])
    return current_app.tasks[task]


def enqueue(task: Any, *args: Any, task_id: str | None = None) -> bool:
    """Queue `task(*args)` (a task or its name); False (logged once per cool-down) when the broker
    cannot take it."""
    task = _task(task)
    if _eager():
        task.apply_async(args=args, task_id=task_id)
        return True
    if broker_outage.active():
        logger.info("task %s not queued: the task queue is unavailable", task.name)
        return False
    try:
        task.apply_async(args=args, task_id=task_id)
    except BROKER_ERRORS as exc:
        broker_outage.record(exc, f"queue {task.name}")
        return False
    return True


def enqueue_on_commit(
    task: Any, *args: Any, task_id: str | None = None, on_failure: Callable[[], None] | None = None
) -> None:
    """Queue `task(*args)` once the current transaction commits (at once outside one); when it cannot
    be queued, `on_failure()` runs (in its own transaction, if it writes)."""

    def publish() -> None:
        if not enqueue(task, *args, task_id=task_id) and on_failure is not None:
            on_failure()

    transaction.on_commit(publish)


def task_queue_available() -> bool:
    """Whether the broker takes work now: always with eager tasks; otherwise one bounded connection
    attempt, skipped (False) while a recent failure is remembered."""
    if _eager():
        return True
    if broker_outage.active():
        return False
    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, interval_max=0)
    except BROKER_ERRORS as exc:
        broker_outage.record(exc, "connect")
        return False
    return True


def require_task_queue() -> None:
    """Raise TaskQueueUnavailable (503) unless the broker takes work now."""
    if not task_queue_available():
        raise TaskQueueUnavailable()
