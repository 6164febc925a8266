"""Staff API, inference: the models Ollama has (merged with the catalogue), deleting one, and pulls run as
Celery tasks whose progress is read by polling and as Server-Sent Events — also in a real worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone

from admin_app.models import AuditEvent, ModelPull
from admin_app.services import inference
from admin_app.tasks import pull_model
from config.celery import app as celery_app
from core.exceptions import ValidationFailed
from core.permissions import ADMIN_ROLE
from models_app.models import AIModel, InstallStatus
from tests.admin_app.factories import ModelPullFactory
from tests.auth_app.factories import UserFactory
from tests.conftest import client_for
from tests.conversations_app.chat_client import SSEEvent, bearer, parse_sse
from tests.fakes.ollama import DEFAULT_MODEL
from tests.models_app.factories import AIModelFactory

pytestmark = pytest.mark.django_db

MODELS_URL = reverse("admin-installed-model-list")
PULLS_URL = reverse("admin-model-pull-list")
# Two layers of 4 MB in the fake server's pull stream.
PULLED_BYTES = 8_000_000


def model_url(name: str) -> str:
    return reverse("admin-installed-model-detail", args=[name])


def pull_url(pull) -> str:
    return reverse("admin-model-pull-detail", args=[pull.pk])


def events_url(pull) -> str:
    return reverse("admin-model-pull-events", args=[pull.pk])


def queued_pull(name: str = "mistral:7b", **fields) -> ModelPull:
    """A pull not finished yet (queued unless `status` says running)."""
    values = {"status": ModelPull.Status.QUEUED, "percent": 0, "completed_bytes": 0, "finished_at": None}
    return ModelPullFactory(model_name=name, **{**values, **fields})


def read_events(path: str, user) -> tuple[int, list[SSEEvent]]:
    """GET an event stream through Django's AsyncClient and read it to its end."""
    headers = {"Authorization": bearer(user)}

    async def run() -> tuple[int, list[SSEEvent]]:
        response = await AsyncClient().get(path, headers=headers)
        if not response.streaming:
            return response.status_code, []
        raw = b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[attr-defined]
        return response.status_code, parse_sse(raw)

    return async_to_sync(run)()


def pull_requests(fake) -> list[dict]:
    return [r.body for r in fake.requests if r.path == "/api/pull"]


# --- who may call it ---------------------------------------------------------------------------------

# (method, url given a pull, body, status for an administrator)
ENDPOINTS = [
    ("get", lambda p: MODELS_URL, None, 200),
    ("delete", lambda p: model_url(DEFAULT_MODEL), None, 204),
    ("get", lambda p: PULLS_URL, None, 200),
    ("post", lambda p: PULLS_URL, {"model": "mistral:7b"}, 202),
    ("get", pull_url, None, 200),
]


@pytest.mark.parametrize(("method", "url", "body", "expected"), ENDPOINTS)
def test_anonymous_callers_get_401_and_plain_users_403(
    anon_client, api_client, fake_ollama, method, url, body, expected
):
    pull = ModelPullFactory()

    assert getattr(anon_client, method)(url(pull), body, format="json").status_code == 401
    assert getattr(api_client, method)(url(pull), body, format="json").status_code == 403
    assert fake_ollama.requests == []
    assert ModelPull.objects.count() == 1


def test_the_event_stream_is_for_administrators_only(anon_client, api_client):
    pull = ModelPullFactory()

    assert anon_client.get(events_url(pull)).status_code == 401
    assert api_client.get(events_url(pull)).status_code == 403


@pytest.mark.parametrize("role", ["admin_user", "superuser"])
@pytest.mark.parametrize(("method", "url", "body", "expected"), ENDPOINTS)
def test_administrators_and_superusers_may_call_every_endpoint(
    request, fake_ollama, role, method, url, body, expected
):
    client = client_for(request.getfixturevalue(role))
    pull = ModelPullFactory()

    response = getattr(client, method)(url(pull), body, format="json")

    assert response.status_code == expected, response.content
    status, events = read_events(events_url(pull), request.getfixturevalue(role))
    assert status == 200
    assert [event.event for event in events] == ["done"]


# --- models installed in Ollama ----------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 3])
def test_installed_models_come_with_their_catalogue_entry_in_constant_queries(
    admin_client_api, fake_ollama, page_size, django_assert_num_queries
):
    for name in ("mistral:7b", "phi3:mini", "qwen2:1.5b"):
        fake_ollama.add_model(name)
    listed = AIModelFactory(name=DEFAULT_MODEL, install_status=InstallStatus.INSTALLED, is_active=False)
    gone = AIModelFactory(name="mistral:7b")
    AIModel.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())

    # authentication, Admin role, the catalogue models of every listed name
    with django_assert_num_queries(3):
        response = admin_client_api.get(MODELS_URL, {"page_size": page_size})

    body = response.json()
    assert body["count"] == 4
    rows = body["results"]
    assert [row["name"] for row in rows] == [DEFAULT_MODEL, "mistral:7b", "phi3:mini", "qwen2:1.5b"][
        :page_size
    ]
    first = rows[0]
    assert first["catalogue"] == {
        "id": str(listed.pk),
        "name": DEFAULT_MODEL,
        "published": False,
        "install_status": "installed",
        "install_progress": 0,
        "version": listed.version,
    }
    assert first["size"] == 2_019_393_189
    assert first["details"]["family"] == "llama"
    if page_size > 1:
        assert rows[1]["catalogue"] is None  # the catalogue entry is in the trash


def test_listing_installed_models_while_ollama_is_down_is_a_503(admin_client_api, ollama_down):
    response = admin_client_api.get(MODELS_URL)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "ollama_unavailable"


def test_deleting_a_model_removes_it_from_ollama_and_marks_the_catalogue(
    admin_client_api, admin_user, fake_ollama
):
    catalogued = AIModelFactory(name=DEFAULT_MODEL, install_status=InstallStatus.INSTALLED)

    response = admin_client_api.delete(model_url(DEFAULT_MODEL))

    assert response.status_code == 204
    assert DEFAULT_MODEL not in fake_ollama.models
    catalogued.refresh_from_db()
    assert (catalogued.install_status, catalogued.deleted_at) == (InstallStatus.NOT_INSTALLED, None)
    [event] = AuditEvent.objects.filter(action=inference.OLLAMA_MODEL_DELETED)
    assert (event.actor_id, event.target_id, event.before) == (
        admin_user.pk,
        DEFAULT_MODEL,
        {"model_name": DEFAULT_MODEL},
    )


def test_names_with_slashes_and_colons_reach_ollama_whole(admin_client_api, fake_ollama):
    fake_ollama.add_model("hf.co/org/tiny-model:Q4_K_M")

    response = admin_client_api.delete(model_url("hf.co/org/tiny-model:Q4_K_M"))

    assert response.status_code == 204
    assert [r.body for r in fake_ollama.requests if r.path == "/api/delete"] == [
        {"model": "hf.co/org/tiny-model:Q4_K_M"}
    ]


def test_deleting_a_model_ollama_lacks_is_a_clear_404(admin_client_api, fake_ollama):
    catalogued = AIModelFactory(name="mistral:7b", install_status=InstallStatus.INSTALLED)

    response = admin_client_api.delete(model_url("mistral:7b"))

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "ollama_model_not_found"
    assert "mistral:7b" in error["message"]
    catalogued.refresh_from_db()
    assert catalogued.install_status == InstallStatus.INSTALLED
    assert not AuditEvent.objects.filter(action=inference.OLLAMA_MODEL_DELETED).exists()


def test_deleting_a_model_being_pulled_is_a_409(admin_client_api, fake_ollama):
    queued_pull(DEFAULT_MODEL)

    response = admin_client_api.delete(model_url(DEFAULT_MODEL))

    assert response.status_code == 409
    assert DEFAULT_MODEL in fake_ollama.models


@pytest.mark.parametrize("name", ["two words", "x" * 201, "-leading-dash", "llama3:"])
def test_deleting_refuses_what_is_not_a_model_name_and_asks_ollama_nothing(
    admin_client_api, fake_ollama, name
):
    response = admin_client_api.delete(model_url(name))

    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]
    assert fake_ollama.requests == []


def test_deleting_while_ollama_is_down_is_a_503(admin_client_api, ollama_down):
    assert admin_client_api.delete(model_url(DEFAULT_MODEL)).status_code == 503


# --- starting a pull ---------------------------------------------------------------------------------


def test_a_pull_is_queued_then_run_to_success(
    admin_client_api, admin_user, fake_ollama, django_capture_on_commit_callbacks
):
    catalogued = AIModelFactory(name="mistral:7b")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post(PULLS_URL, {"model": "mistral:7b"}, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["model_name"], body["status"], body["requested_by"]["id"]) == (
        "mistral:7b",
        "queued",
        str(admin_user.pk),
    )
    assert response["Location"] == pull_url(ModelPull(pk=body["id"]))
    polled = admin_client_api.get(pull_url(ModelPull(pk=body["id"]))).json()
    assert (polled["status"], polled["percent"], polled["completed_bytes"], polled["total_bytes"]) == (
        "success",
        100,
        PULLED_BYTES,
        PULLED_BYTES,
    )
    assert polled["task_id"] == body["task_id"]
    assert polled["finished_at"] is not None
    assert pull_requests(fake_ollama) == [{"model": "mistral:7b", "stream": True}]
    catalogued.refresh_from_db()
    assert (catalogued.install_status, catalogued.install_progress) == (InstallStatus.INSTALLED, 100)
    [event] = AuditEvent.objects.filter(action=inference.PULL_REQUESTED)
    assert (event.actor_id, event.target_id, event.after["model_name"]) == (
        admin_user.pk,
        body["id"],
        "mistral:7b",
    )


def test_pull_progress_goes_from_0_to_100_with_ollamas_lines(
    admin_client_api, fake_ollama, settings, monkeypatch, django_capture_on_commit_callbacks
):
    # given: writes only on a new whole percent, and a record of what a poll sees after each write
    settings.INFERENCE_PULL_PROGRESS_INTERVAL = 3600
    seen: list[tuple] = []
    write_progress = inference._write_progress

    def observed(pull, model, progress) -> None:
        write_progress(pull, model, progress)
        seen.append(
            ModelPull.objects.values_list("status", "percent", "completed_bytes", "total_bytes").get(
                pk=pull.pk
            )
        )

    monkeypatch.setattr(inference, "_write_progress", observed)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        pull_id = admin_client_api.post(PULLS_URL, {"model": "mistral:7b"}, format="json").json()["id"]

    # then: one write per new percent, not one per line; 100 only with Ollama's "success"
    final = admin_client_api.get(pull_url(ModelPull(pk=pull_id))).json()
    assert seen == [
        ("running", 0, 0, 0),
        ("running", 50, 2_000_000, 4_000_000),
        ("running", 99, 4_000_000, 4_000_000),
    ]
    assert (final["status"], final["percent"], final["detail"]) == ("success", 100, "success")


def test_a_failing_pull_ends_failed_with_the_message(
    admin_client_api, fake_ollama, django_capture_on_commit_callbacks
):
    catalogued = AIModelFactory(name="mistral:7b")
    fake_ollama.fail(500, "no space left on device", path="/api/pull")

    with django_capture_on_commit_callbacks(execute=True):
        pull_id = admin_client_api.post(PULLS_URL, {"model": "mistral:7b"}, format="json").json()["id"]

    polled = admin_client_api.get(pull_url(ModelPull(pk=pull_id))).json()
    assert polled["status"] == "failed"
    assert "no space left on device" in polled["error"]
    assert polled["finished_at"] is not None
    catalogued.refresh_from_db()
    assert catalogued.install_status == InstallStatus.FAILED
    assert "no space left on device" in catalogued.install_error


def test_a_second_request_while_a_pull_runs_returns_the_same_task(admin_client_api, fake_ollama):
    first = admin_client_api.post(PULLS_URL, {"model": "mistral:7b"}, format="json")
    ModelPull.objects.filter(pk=first.json()["id"]).update(status=ModelPull.Status.RUNNING, percent=40)

    second = admin_client_api.post(PULLS_URL, {"model": "MISTRAL:7b"}, format="json")

    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["task_id"] == first.json()["task_id"]
    assert second.json()["percent"] == 40
    assert ModelPull.objects.count() == 1
    assert AuditEvent.objects.filter(action=inference.PULL_REQUESTED).count() == 1


def test_a_model_ollama_has_already_is_done_at_once(
    admin_client_api, fake_ollama, django_capture_on_commit_callbacks
):
    catalogued = AIModelFactory(name=DEFAULT_MODEL, install_status=InstallStatus.NOT_INSTALLED)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post(PULLS_URL, {"model": DEFAULT_MODEL}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["percent"], body["total_bytes"]) == ("success", 100, 2_019_393_189)
    assert pull_requests(fake_ollama) == []  # nothing was downloaded
    catalogued.refresh_from_db()
    assert catalogued.install_status == InstallStatus.INSTALLED


def test_a_pull_while_ollama_is_down_is_a_503_and_queues_nothing(admin_client_api, ollama_down):
    response = admin_client_api.post(PULLS_URL, {"model": "mistral:7b"}, format="json")

    assert response.status_code == 503
    assert not ModelPull.objects.exists()


def test_a_pull_without_progress_for_too_long_is_given_up_and_replaced(
    admin_client_api, fake_ollama, settings
):
    stuck = queued_pull("mistral:7b", status=ModelPull.Status.RUNNING)
    ModelPull.objects.filter(pk=stuck.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.INFERENCE_PULL_STALE_SECONDS + 1)
    )

    response = admin_client_api.post(PULLS_URL, {"model": "mistral:7b"}, format="json")

    assert response.status_code == 202
    assert response.json()["id"] != str(stuck.pk)
    stuck.refresh_from_db()
    assert stuck.status == ModelPull.Status.FAILED
    assert "no progress" in stuck.error


def test_the_database_allows_one_active_pull_per_model_name():
    queued_pull("mistral:7b")
    ModelPullFactory(model_name="mistral:7b")  # finished ones do not count

    with pytest.raises(IntegrityError), transaction.atomic():
        queued_pull("Mistral:7B", status=ModelPull.Status.RUNNING)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"model": ""},
        {"model": "two words"},
        {"model": "x" * 201},
        {"model": "x" * 200},  # stored as Ollama reads it: with `:latest`, 207 characters
        {"model": "x" * 194},
        {"model": "x" * 150 + "/" + "y" * 48},
        {"model": ["llama3"]},
        {"model": "a", "b": 1},
    ],
)
def test_a_pull_refuses_bad_input_and_asks_ollama_nothing(admin_client_api, fake_ollama, body):
    response = admin_client_api.post(PULLS_URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert fake_ollama.requests == []
    assert not ModelPull.objects.exists()


def test_a_name_that_fits_the_column_with_its_implied_tag_is_pulled(admin_client_api, fake_ollama):
    name = "x" * 193  # + ":latest" = 200 characters

    response = admin_client_api.post(PULLS_URL, {"model": name}, format="json")

    assert response.status_code == 202, response.content
    assert ModelPull.objects.get().model_name == f"{name}:latest"


def test_the_pull_service_refuses_a_name_too_long_for_the_column(fake_ollama):
    with pytest.raises(ValidationFailed):
        inference.model_pull_request(model_name="x" * 200)

    assert fake_ollama.requests == []
    assert not ModelPull.objects.exists()


def test_the_task_is_idempotent(fake_ollama):
    finished = ModelPullFactory(model_name="mistral:7b")

    assert pull_model.delay(str(finished.pk)).get() == "success"
    assert pull_model.delay(str(uuid.uuid4())).get() is None
    assert pull_requests(fake_ollama) == []
    assert ModelPull.objects.get(pk=finished.pk).updated_at == finished.updated_at


# --- reading pulls -------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [2, 10])
def test_pulls_list_newest_first_in_constant_queries(admin_client_api, page_size, django_assert_num_queries):
    for n in range(12):
        ModelPullFactory(model_name=f"model{n:02}:7b", requested_by=UserFactory())

    # authentication, Admin role, count, one page with who asked
    with django_assert_num_queries(4):
        response = admin_client_api.get(PULLS_URL, {"page_size": page_size})

    body = response.json()
    assert body["count"] == 12
    assert [row["model_name"] for row in body["results"]] == [
        f"model{n:02}:7b" for n in range(11, 11 - page_size, -1)
    ]
    assert all(row["requested_by"]["username"] for row in body["results"])


def test_a_pull_reads_in_constant_queries(admin_client_api, django_assert_num_queries):
    pull = ModelPullFactory(requested_by=UserFactory(username="asker"))

    with django_assert_num_queries(3):
        response = admin_client_api.get(pull_url(pull))

    body = response.json()
    assert body["requested_by"]["username"] == "asker"
    assert body["events_url"] == events_url(pull)


@pytest.mark.parametrize("pk", ["00000000-0000-0000-0000-000000000000", "nope"])
def test_an_unknown_pull_is_a_404(admin_client_api, pk):
    assert admin_client_api.get(f"{PULLS_URL}{pk}/").status_code == 404


def test_the_event_stream_of_an_unknown_pull_is_a_404(admin_user):
    status, events = read_events(reverse("admin-model-pull-events", args=[uuid.uuid4()]), admin_user)

    assert (status, events) == (404, [])


def test_the_event_stream_of_a_finished_pull_is_its_outcome(admin_user):
    pull = ModelPullFactory(status=ModelPull.Status.FAILED, error="disk full", percent=30)

    status, events = read_events(events_url(pull), admin_user)

    assert status == 200
    assert [event.event for event in events] == ["done"]
    assert (events[0].data["status"], events[0].data["error"], events[0].data["percent"]) == (
        "failed",
        "disk full",
        30,
    )


def test_the_event_stream_of_a_running_pull_ends_at_its_time_limit(admin_user, settings):
    settings.INFERENCE_PULL_EVENTS_POLL_INTERVAL = 0.01
    settings.INFERENCE_PULL_EVENTS_MAX_SECONDS = 0.05
    pull = queued_pull(status=ModelPull.Status.RUNNING, percent=42)

    status, events = read_events(events_url(pull), admin_user)

    assert status == 200
    assert [event.event for event in events] == ["progress", "timeout"]
    assert events[0].data["percent"] == 42
    assert events[1].data["pull"]["id"] == str(pull.pk)
    assert "reconnect" in events[1].data["message"]


# --- a real Celery worker ----------------------------------------------------------------------------

WORKER_DEADLINE_SECONDS = 90


@contextmanager
def celery_worker(ollama_url: str, log_path: Path):
    """A `celery worker --pool=solo` in its own process, on this test's broker and database."""
    database = connection.settings_dict
    credentials = f"{quote(database['USER'], safe='')}:{quote(database['PASSWORD'] or '', safe='')}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": f"postgres://{credentials}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "CELERY_BROKER_URL": celery_app.conf.broker_url,
        "CACHE_URL": django_settings.CACHES["default"]["LOCATION"],
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "OLLAMA_URL": ollama_url,
    }
    celery_app.control.purge()
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO"]
    command += [
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"pulls-{uuid.uuid4().hex[:8]}@%h",
    ]
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            command, cwd=django_settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield worker
    finally:
        celery_app.conf.task_always_eager = eager
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


def wait_until_finished(pull_id: str, worker: subprocess.Popen, log_path: Path) -> ModelPull:
    deadline = time.monotonic() + WORKER_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        pull = ModelPull.objects.get(pk=pull_id)
        if not pull.is_active:
            return pull
        assert worker.poll() is None, f"the worker died:\n{log_path.read_text(errors='replace')}"
        time.sleep(0.1)
    pytest.fail(
        f"the pull did not finish in {WORKER_DEADLINE_SECONDS} s:\n{log_path.read_text(errors='replace')}"
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_pull_runs_in_a_real_celery_worker(fake_ollama, settings, tmp_path):
    # given: an administrator, a catalogue entry to follow the pull, a worker of its own
    settings.INFERENCE_PULL_EVENTS_POLL_INTERVAL = 0.02
    admin = UserFactory(is_staff=True)
    admin.groups.add(Group.objects.get(name=ADMIN_ROLE))
    client = client_for(admin)
    catalogued = AIModelFactory(name="mistral:7b")
    log_path = tmp_path / "worker.log"

    with celery_worker(fake_ollama.url, log_path) as worker:
        # when: a pull is asked for, then followed by polling
        response = client.post(PULLS_URL, {"model": "mistral:7b"}, format="json")
        assert response.status_code == 202, response.content
        pull = wait_until_finished(response.json()["id"], worker, log_path)

        # and: a second pull is followed as Server-Sent Events until it ends
        followed = client.post(PULLS_URL, {"model": "phi3:mini"}, format="json").json()
        status, events = read_events(events_url(ModelPull(pk=followed["id"])), admin)

    # then: the worker ran both downloads and recorded their progress
    polled = client.get(pull_url(pull)).json()
    assert (polled["status"], polled["percent"], polled["total_bytes"]) == ("success", 100, PULLED_BYTES)
    assert polled["task_id"] == response.json()["task_id"]
    assert polled["started_at"] is not None
    catalogued.refresh_from_db()
    assert (catalogued.install_status, catalogued.install_progress) == (InstallStatus.INSTALLED, 100)
    # the catalogue change made by the worker is attributed to the administrator who asked
    installed = AuditEvent.objects.get(target_id=str(catalogued.pk), after__install_status="installed")
    assert installed.actor_id == admin.pk
    assert status == 200
    assert events[-1].event == "done"
    assert (events[-1].data["status"], events[-1].data["percent"]) == ("success", 100)
    percents = [event.data["percent"] for event in events]
    assert percents == sorted(percents)
    assert [body["model"] for body in pull_requests(fake_ollama)] == ["mistral:7b", "phi3:mini"]
