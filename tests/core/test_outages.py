"""What each piece does when a dependency is away: every throttle steps aside with Redis down, work is
not queued (once logged) with the broker down, and which database errors are an outage (503) rather
than a bug (500). The whole stack under real faults is in test_faults.py."""

from __future__ import annotations

import logging

import psycopg
import pytest
from django.db import InterfaceError, OperationalError
from django.urls import URLPattern, URLResolver, get_resolver
from psycopg_pool import PoolTimeout
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from config.celery import app as celery_app
from conversations_app.tasks import extract_attachment_text
from core import queue
from core.exceptions import is_database_unreachable
from core.throttling import FailOpenThrottleMixin
from tests.fakes.redis import closed_port


def _api_views(patterns=None) -> list[type[APIView]]:
    views = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            views += _api_views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None)
            if isinstance(view, type) and issubclass(view, APIView):
                views.append(view)
    return views


def test_every_throttle_of_every_api_view_steps_aside_when_redis_is_down():
    assert all(
        issubclass(throttle, FailOpenThrottleMixin) for throttle in api_settings.DEFAULT_THROTTLE_CLASSES
    )
    views = _api_views()
    assert len(views) > 20
    not_failing_open = {
        f"{view.__module__}.{view.__qualname__}: {throttle.__name__}"
        for view in views
        for throttle in view.throttle_classes
        if not issubclass(throttle, FailOpenThrottleMixin)
    }
    assert not_failing_open == set()


def _django_error(error_class, cause: BaseException):
    error = error_class(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "unreachable"),
    [
        (_django_error(OperationalError, psycopg.OperationalError("connection refused")), True),
        (_django_error(OperationalError, PoolTimeout("couldn't get a connection after 2.00 sec")), True),
        (_django_error(OperationalError, psycopg.errors.AdminShutdown("terminating connection")), True),
        (
            _django_error(OperationalError, psycopg.errors.CannotConnectNow("the database is starting up")),
            True,
        ),
        (_django_error(InterfaceError, psycopg.InterfaceError("connection already closed")), True),
        (_django_error(OperationalError, psycopg.errors.DeadlockDetected("deadlock detected")), False),
        (_django_error(OperationalError, psycopg.errors.QueryCanceled("statement timeout")), False),
        (ValueError("not a database error"), False),
    ],
)
def test_only_errors_saying_postgresql_cannot_be_reached_are_an_outage(error, unreachable):
    assert is_database_unreachable(error) is unreachable


@pytest.fixture
def broker_down():
    """Tasks are really queued, to a broker at a loopback port where nothing listens."""
    saved = {"broker_url": celery_app.conf.broker_url, "task_always_eager": celery_app.conf.task_always_eager}
    celery_app.conf.update(broker_url=f"redis://127.0.0.1:{closed_port()}/0", task_always_eager=False)
    celery_app._pool = celery_app.amqp._producer_pool = None
    queue.broker_outage.clear()
    yield
    celery_app.conf.update(saved)
    celery_app._pool = celery_app.amqp._producer_pool = None
    queue.broker_outage.clear()


def test_with_the_broker_down_work_is_not_queued_and_the_outage_is_logged_once(broker_down, caplog):
    with caplog.at_level(logging.WARNING, logger="core.queue"):
        queued = [queue.enqueue(extract_attachment_text, "id") for _ in range(3)]

    assert queued == [False, False, False]
    assert not queue.task_queue_available()
    warnings = [r for r in caplog.records if r.getMessage().startswith("task queue unavailable")]
    assert len(warnings) == 1


@pytest.mark.django_db
def test_a_refused_enqueue_on_commit_runs_its_fallback_and_raises_nothing(
    broker_down, django_capture_on_commit_callbacks
):
    ended = []

    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue_on_commit(extract_attachment_text, "id", on_failure=lambda: ended.append(True))

    assert ended == [True]


def test_work_is_refused_with_a_503_while_the_broker_is_down(broker_down):
    with pytest.raises(queue.TaskQueueUnavailable) as refused:
        queue.require_task_queue()

    assert (refused.value.status_code, refused.value.code) == (503, "task_queue_unavailable")
    assert refused.value.retry_after


def test_eager_tasks_need_no_broker():
    assert celery_app.conf.task_always_eager  # the test settings
    assert queue.task_queue_available()
