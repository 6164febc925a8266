"""Faults of real services while requests run: Redis stopped and started again, PostgreSQL cut off,
unreachable and back. Requests go through the ASGI application, as in production (the request's
database connection goes back to the pool when it ends), on data the test has committed.

Select them with `pytest -m faults`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import redis
from django.contrib.auth.models import Group
from django.db import connections
from django.test import Client
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from admin_app.models import AuditEvent, ModelPull
from admin_app.services import inference
from config.asgi import application
from config.celery import app as celery_app
from conversations_app.models import AIResponse, Attachment, Conversation, Prompt
from conversations_app.services import chat as chat_services
from conversations_app.tasks import queue_pending_attachments
from core.cache import outage as cache_outage
from core.exceptions import database_outage
from core.permissions import ADMIN_ROLE
from core.queue import broker_outage, require_task_queue
from explore_app.api.throttles import ExploreRateThrottle
from tests.auth_app.factories import DEFAULT_PASSWORD, UserFactory
from tests.conversations_app.chat_client import post_stream
from tests.conversations_app.factories import ConversationFactory
from tests.fakes.ollama import DEFAULT_REPLY
from tests.fakes.outages import RedisServer, TcpProxy
from tests.models_app.factories import AIModelFactory, TagFactory

# Committed data, restored afterwards as the other transactional tests expect (groups, content types).
pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

COOLDOWN = 1.0  # CACHE_OUTAGE_COOLDOWN of these tests, seconds
# Generous bound on a 503 while PostgreSQL is unreachable (DB_POOL_TIMEOUT is 2 s by default).
UNAVAILABLE_WITHIN = 4.0


# --- the HTTP stack -----------------------------------------------------------------------------------
def call(
    method: str,
    path: str,
    *,
    user: Any = None,
    json_body: Any = None,
    files: dict | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One request to the ASGI application (its own event loop; the sync views run in asgiref's
    thread, which gives its database connection back when the request ends)."""
    headers = dict(headers or {})
    if user is not None:
        # An access token alone: minting a refresh token would write a row from the test's thread.
        headers["Authorization"] = f"Bearer {AccessToken.for_user(user)}"

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.request(
                method, path, json=json_body, files=files, headers=headers, timeout=30
            )
            await response.aread()
            return response

    return asyncio.run(send())


def timed(request: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def error_code(response: httpx.Response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


@contextmanager
def requests_running(request: Callable[[], httpx.Response]) -> Iterator[list[httpx.Response]]:
    """Send `request` again and again from another thread while the block runs; the responses."""
    responses: list[httpx.Response] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.is_set():
                responses.append(request())
                time.sleep(0.01)
        except BaseException as exc:  # reported to the test below
            failures.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield responses
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failures, failures
    assert responses, "no request ran during the fault"


def admin_of_the_platform():
    admin = UserFactory(is_staff=True)
    admin.groups.add(Group.objects.get_or_create(name=ADMIN_ROLE)[0])
    return admin


# --- Redis --------------------------------------------------------------------------------------------
@pytest.fixture
def redis_server(settings) -> Iterator[RedisServer]:
    """A Redis server of this test's own for the cache, the throttles (db 0) and the broker (db 1),
    with the cool-down short; tasks are really queued, not run inline."""
    server = RedisServer().start()
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": server.url(0)}}
    settings.CACHE_OUTAGE_COOLDOWN = COOLDOWN
    saved = {"broker_url": celery_app.conf.broker_url, "task_always_eager": celery_app.conf.task_always_eager}
    celery_app.conf.update(broker_url=server.url(1), task_always_eager=False)
    _forget_broker_connections()
    try:
        yield server
    finally:
        celery_app.conf.update(saved)
        _forget_broker_connections()
        server.close()
        cache_outage.clear()


def _forget_broker_connections() -> None:
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    broker_outage.clear()


def queued_tasks(server: RedisServer) -> list[tuple[str, str]]:
    """(task name, its arguments) of the messages waiting in the broker's default queue."""
    client = redis.Redis.from_url(server.url(1))
    try:
        messages = [json.loads(raw) for raw in client.lrange("celery", 0, -1)]  # type: ignore[union-attr]  # a sync client
    finally:
        client.close()
    return [(message["headers"]["task"], message["headers"]["argsrepr"]) for message in messages]


def upload(user, conversation: Conversation) -> httpx.Response:
    return call(
        "POST",
        f"/api/v1/conversations/{conversation.pk}/attachments/",
        user=user,
        files={"file": ("notes.txt", b"Plain notes for the model.\n", "text/plain")},
    )


def test_with_redis_stopped_every_endpoint_answers_and_everything_recovers_when_it_returns(
    redis_server, fake_ollama, monkeypatch, caplog
):
    # given: people and data, Explore throttled at 5 requests a minute, and Redis working
    user = UserFactory()
    admin = admin_of_the_platform()
    conversation = ConversationFactory(owner=user)
    fake_ollama.add_model(conversation.model_name)
    model = AIModelFactory(tags=[TagFactory(name="chat", slug="chat")])
    monkeypatch.setattr(
        ExploreRateThrottle, "THROTTLE_RATES", {**ExploreRateThrottle.THROTTLE_RATES, "explore": "5/min"}
    )
    assert call("GET", "/api/v1/explore/models/").status_code == 200
    connections.close_all()  # requests run in other threads; this one holds no connection
    conversations_list = lambda: call("GET", "/api/v1/conversations/", user=user)  # noqa: E731

    # when: Redis stops while requests run, every kind of endpoint is asked
    with requests_running(conversations_list) as during_outage:
        redis_server.stop()
        started = time.monotonic()
        answers = {
            "explore": [call("GET", "/api/v1/explore/models/") for _ in range(8)],
            "explore_detail": call("GET", f"/api/v1/explore/models/{model.name}/"),
            "explore_tags": call("GET", "/api/v1/explore/tags/"),
            "register": call(
                "POST",
                "/api/v1/auth/register/",
                json_body={"username": "newcomer", "email": "new@example.com", "password": "violet-otter-42"},
            ),
            "login": call(
                "POST",
                "/api/v1/auth/login/",
                json_body={"login": user.username, "password": DEFAULT_PASSWORD},
            ),
            "me": call("GET", "/api/v1/auth/me/", user=user),
            "create": call(
                "POST", "/api/v1/conversations/", user=user, json_body={"model": str(conversation.model_id)}
            ),
            "chat": call(
                "POST",
                f"/api/v1/conversations/{conversation.pk}/messages/",
                user=user,
                json_body={"content": "Hello while Redis is away"},
            ),
            "upload": upload(user, conversation),
            "admin_users": call("GET", "/api/v1/admin/users/", user=admin),
            "password_reset": call("POST", "/api/v1/auth/password/reset/", json_body={"email": user.email}),
            "pull": call(
                "POST", "/api/v1/admin/inference/pulls/", user=admin, json_body={"model": "qwen3:8b"}
            ),
            "ready": call("GET", "/health/ready"),
        }
        outage_seconds = time.monotonic() - started
        redis_server.start()

    # then: everything answered; only the work nothing could queue was refused, with a clear 503
    assert [r.status_code for r in answers.pop("explore")] == [200] * 8  # the throttle stepped aside
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {
        "explore_detail": 200,
        "explore_tags": 200,
        "register": 201,
        "login": 200,
        "me": 200,
        "create": 201,
        "chat": 201,
        "upload": 201,
        "admin_users": 200,
        "password_reset": 503,
        "pull": 503,
        "ready": 200,
    }, {name: r.text[:300] for name, r in answers.items()}
    for refused in (answers["password_reset"], answers["pull"]):
        assert error_code(refused) == "task_queue_unavailable"
        assert int(refused.headers["Retry-After"]) > 0
    assert {r.status_code for r in during_outage} == {200}
    ready = answers["ready"].json()
    assert (ready["status"], ready["degraded"]) == ("degraded", ["cache", "throttling", "background_tasks"])
    # and nothing was half-written: the upload waits for the sweep, the refused work left no row
    attachment = Attachment.objects.get(pk=answers["upload"].json()["id"])
    assert attachment.processing_status == Attachment.ProcessingStatus.PENDING
    assert not ModelPull.objects.exists()
    assert not AuditEvent.objects.filter(action="password_reset_requested").exists()
    assert answers["chat"].json()["response"]["status"] == "complete"
    # and the outage was logged once per cool-down, not once per request
    cache_warnings = [r for r in caplog.records if r.getMessage().startswith("cache unavailable")]
    assert 1 <= len(cache_warnings) <= 2 + int(outage_seconds / COOLDOWN)

    # when: Redis is back and the cool-down is over (no restart of anything)
    time.sleep(COOLDOWN + 0.2)

    # then: ready again, throttles count again, work is queued again, the sweep picks up the upload
    ready = call("GET", "/health/ready").json()
    assert (ready["status"], ready["degraded"]) == ("ok", [])
    explore = [call("GET", "/api/v1/explore/models/") for _ in range(6)]
    assert [r.status_code for r in explore] == [200] * 5 + [429]
    assert int(explore[-1].headers["Retry-After"]) > 0
    assert call("POST", "/api/v1/auth/password/reset/", json_body={"email": user.email}).status_code == 202
    pull = call("POST", "/api/v1/admin/inference/pulls/", user=admin, json_body={"model": "qwen3:8b"})
    assert pull.status_code == 202, pull.text
    second = upload(user, conversation)
    assert second.status_code == 201
    Attachment.objects.filter(pk=attachment.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    assert queue_pending_attachments() == 1  # only the upload of the outage: the new one is recent
    assert sorted(queued_tasks(redis_server)) == sorted(
        [
            ("auth_app.tasks.send_password_reset_email", repr((str(user.pk),))),
            ("admin_app.tasks.pull_model", repr((pull.json()["id"],))),
            ("conversations_app.tasks.extract_attachment_text", repr((second.json()["id"],))),
            ("conversations_app.tasks.extract_attachment_text", repr((str(attachment.pk),))),
        ]
    )
    assert ModelPull.objects.get().status == "queued"


def test_a_broker_lost_between_the_check_and_the_commit_ends_the_pull_instead_of_leaving_it_queued(
    redis_server, fake_ollama, monkeypatch
):
    # given: the broker answers the check made before the pull is written, then goes away
    admin = admin_of_the_platform()
    connections.close_all()

    def check_then_lose_the_broker() -> None:
        require_task_queue()
        redis_server.stop()

    monkeypatch.setattr(inference, "require_task_queue", check_then_lose_the_broker)

    # when
    response = call("POST", "/api/v1/admin/inference/pulls/", user=admin, json_body={"model": "qwen3:8b"})

    # then: the request answered with the pull it wrote, and that pull is ended, not queued forever
    assert response.status_code == 202, response.text
    pull = ModelPull.objects.get()
    assert (pull.status, pull.error) == ("failed", "The pull could not be queued; ask for it again.")


# --- PostgreSQL -----------------------------------------------------------------------------------------
@pytest.fixture
def postgresql_proxy(transactional_db) -> Iterator[TcpProxy]:
    """The application's database connections go through a TCP proxy that can cut them and refuse new
    ones (the shared cluster itself is never touched)."""
    settings_dict = connections["default"].settings_dict
    assert settings_dict is connections.settings["default"]  # every thread's connection reads it
    saved = {key: settings_dict[key] for key in ("HOST", "PORT")}
    proxy = TcpProxy((saved["HOST"] or "127.0.0.1", int(saved["PORT"] or 5432))).start()
    _reconnect_through(settings_dict, HOST="127.0.0.1", PORT=str(proxy.port))
    database_outage.clear()
    try:
        yield proxy
    finally:
        _reconnect_through(settings_dict, **saved)
        proxy.stop()
        database_outage.clear()


def _reconnect_through(settings_dict: dict, **address: str) -> None:
    """Drop this thread's connection and the pool, so that new connections go to `address`."""
    connection = connections["default"]
    connection.close()
    connection.close_pool()  # type: ignore[attr-defined]  # the stubs lack the pool
    settings_dict.update(address)


def warm_pool(connection_count: int) -> None:
    """Leave this many idle connections in the pool (when there is one), as after a busy minute."""
    pool = connections["default"].pool  # type: ignore[attr-defined]  # the stubs lack the pool
    if pool is None:
        return
    pool.open()
    taken = [pool.getconn() for _ in range(connection_count)]
    for conn in taken:
        pool.putconn(conn)


def test_postgresql_restarting_and_unreachable_is_a_quick_503_then_every_request_succeeds(
    postgresql_proxy, fake_ollama
):
    # given: a user with a conversation, and idle pooled connections through the proxy
    user = UserFactory()
    conversation = ConversationFactory(owner=user)
    fake_ollama.add_model(conversation.model_name)
    connections["default"].close()  # the test's own connection goes back to the pool too
    listing = lambda: call("GET", "/api/v1/conversations/", user=user)  # noqa: E731
    assert listing().status_code == 200
    warm_pool(6)

    # when: PostgreSQL restarts (every open connection dies, new ones work)
    cut = postgresql_proxy.cut()
    first_after_restart = listing()

    # then: not even the next request notices (the pool threw all its dead connections away at once)
    assert cut >= 1
    assert first_after_restart.status_code == 200, first_after_restart.text

    # when: it restarts again while requests run
    with requests_running(listing) as during_restart:
        time.sleep(0.1)
        postgresql_proxy.cut()
        after_restart = [listing() for _ in range(5)]
        created = call(
            "POST", "/api/v1/conversations/", user=user, json_body={"model": str(conversation.model_id)}
        )
        time.sleep(0.1)

    # then: a request caught in the middle of a query may be told to retry (503), no other one
    for response in during_restart:
        assert response.status_code == 200 or error_code(response) == "database_unavailable", response.text
    assert [r.status_code for r in after_restart] == [200] * 5
    assert created.status_code == 201, created.text

    # when: PostgreSQL is unreachable (connections refused, the open ones cut)
    postgresql_proxy.stop()
    refused = {
        "list": timed(listing),
        "create": timed(
            lambda: call(
                "POST",
                "/api/v1/conversations/",
                user=user,
                json_body={"model": str(conversation.model_id), "title": "during the outage"},
            )
        ),
        "chat": timed(
            lambda: call(
                "POST",
                f"/api/v1/conversations/{conversation.pk}/messages/",
                user=user,
                json_body={"content": "Is anybody there?"},
            )
        ),
        "register": timed(
            lambda: call(
                "POST",
                "/api/v1/auth/register/",
                json_body={
                    "username": "latecomer",
                    "email": "late@example.com",
                    "password": "violet-otter-42",
                },
            )
        ),
    }
    ready = call("GET", "/health/ready")

    # then: each is a 503 `database_unavailable` with Retry-After, within a few seconds
    for name, (response, seconds) in refused.items():
        assert response.status_code == 503, (name, response.text)
        assert error_code(response) == "database_unavailable", (name, response.text)
        assert int(response.headers["Retry-After"]) > 0
        assert seconds < UNAVAILABLE_WITHIN, (name, seconds)
    assert ready.status_code == 503
    assert ready.json()["checks"]["postgresql"]["status"] == "down"

    # when: PostgreSQL is back; the app recovers by itself (the pool reconnects within seconds)
    postgresql_proxy.start()
    deadline = time.monotonic() + 15
    while (first := listing()).status_code != 200 and time.monotonic() < deadline:
        assert first.status_code == 503, first.text
        time.sleep(0.2)
    assert first.status_code == 200, first.text

    # then: every request succeeds from then on
    after = [listing() for _ in range(5)]
    title = "after the outage"
    created_after = call(
        "POST",
        "/api/v1/conversations/",
        user=user,
        json_body={"model": str(conversation.model_id), "title": title},
    )
    chat = call(
        "POST",
        f"/api/v1/conversations/{conversation.pk}/messages/",
        user=user,
        json_body={"content": "Back again?"},
    )
    assert [r.status_code for r in after] == [200] * 5
    assert created_after.status_code == 201, created_after.text
    assert chat.status_code == 201, chat.text
    # and the rows left behind are exactly those of the requests that succeeded
    titles = set(Conversation.objects.filter(owner=user).values_list("title", flat=True))
    assert "during the outage" not in titles
    assert title in titles
    assert Conversation.objects.filter(owner=user).count() == 3
    assert list(Prompt.objects.values_list("content", flat=True)) == ["Back again?"]
    assert not UserFactory._meta.model.objects.filter(username="latecomer").exists()


def test_the_django_admin_answers_503_not_500_while_postgresql_is_unreachable(postgresql_proxy):
    # given: a staff member signed in to the Django admin
    superuser = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(superuser)
    session = browser.cookies["sessionid"].value
    connections["default"].close()

    # when
    postgresql_proxy.stop()
    response, seconds = timed(
        lambda: call("GET", "/admin/auth_app/user/", headers={"Cookie": f"sessionid={session}"})
    )

    # then
    assert response.status_code == 503, response.text[:500]
    assert response.headers["Retry-After"]
    assert "database is unavailable" in response.text
    assert seconds < UNAVAILABLE_WITHIN
    postgresql_proxy.start()


def test_postgresql_going_away_while_an_answer_streams_keeps_the_answer_once_it_is_back(
    postgresql_proxy, fake_ollama
):
    # given: an answer streaming slowly
    user = UserFactory()
    conversation = ConversationFactory(owner=user)
    fake_ollama.add_model(conversation.model_name)
    fake_ollama.token_delay = 0.1
    connections["default"].close()
    with ThreadPoolExecutor(max_workers=1) as pool:
        streamed = pool.submit(
            post_stream,
            f"/api/v1/conversations/{conversation.pk}/messages/",
            user,
            {"content": "Tell me", "stream": True},
        )
        deadline = time.monotonic() + 15
        while not fake_ollama.chat_requests:
            assert time.monotonic() < deadline, "the answer never started"
            time.sleep(0.02)

        # when: PostgreSQL goes away mid-answer, and comes back once the answer could not be stored
        postgresql_proxy.stop()
        while not chat_services._PENDING_RECORDINGS:
            assert time.monotonic() < deadline + 15, "the answer's end was never attempted"
            time.sleep(0.02)
        postgresql_proxy.start()
        result = streamed.result(timeout=60)

    # then: the client was told at once, with every token it had been sent
    assert result.status_code == 200
    assert result.names()[-1] == "error"
    assert result.events[-1].data["code"] == "database_unavailable"
    assert result.text() == "".join(DEFAULT_REPLY)
    # and the answer was stored whole once the database was back: nothing left `streaming`
    response = AIResponse.objects.get()
    assert (response.status, response.content) == ("complete", "".join(DEFAULT_REPLY))
    assert Prompt.objects.get().content == "Tell me"
