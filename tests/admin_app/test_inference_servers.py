"""Staff API, several Ollama servers: the servers' report, models by server, pulls and deletes onto
one server or all, and the catalogue's install status following what the servers hold (beat task,
staff endpoint, management command)."""

from __future__ import annotations

from dataclasses import replace
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django_redis import get_redis_connection

from admin_app.models import AuditEvent, ModelPull
from admin_app.services import inference, servers
from admin_app.tasks import sync_inference
from core.ollama import pool
from models_app.models import AIModel, InstallStatus
from tests.fakes.ollama import DEFAULT_MODEL
from tests.fakes.redis import closed_port, point_cache_at
from tests.models_app.factories import AIModelFactory

pytestmark = pytest.mark.django_db

SERVERS_URL = reverse("admin-inference-server-list")
SYNC_URL = reverse("admin-inference-sync")
MODELS_URL = reverse("admin-installed-model-list")
PULLS_URL = reverse("admin-model-pull-list")
MISTRAL = "mistral:7b"


def model_url(name: str) -> str:
    return reverse("admin-installed-model-detail", args=[name])


@pytest.fixture(autouse=True)
def _fresh_view():
    pool.forget_view()
    pool.pool_outage.clear()
    yield
    pool.forget_view()
    pool.pool_outage.clear()


def pulls(server) -> list[dict]:
    return [r.body for r in server.requests if r.path == "/api/pull"]


def status_of(model: AIModel) -> str:
    model.refresh_from_db()
    return model.install_status


# --- who may call it ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), [("get", SERVERS_URL), ("post", SYNC_URL)])
def test_anonymous_callers_get_401_and_plain_users_403(anon_client, api_client, fake_pool, method, url):
    catalogued = AIModelFactory(name=DEFAULT_MODEL, install_status=InstallStatus.NOT_INSTALLED)

    assert getattr(anon_client, method)(url).status_code == 401
    assert getattr(api_client, method)(url).status_code == 403
    assert all(server.requests == [] for server in fake_pool)
    assert status_of(catalogued) == InstallStatus.NOT_INSTALLED


# --- the servers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 3])
def test_the_servers_report_health_models_and_requests_in_flight_without_queries(
    admin_client_api, fake_pool, page_size, django_assert_num_queries
):
    # given: the second server has one more model, the third is stopped, a worker has 2 requests on
    # the first
    first, second, third = fake_pool
    second.add_model(MISTRAL)
    third.stop()
    redis = get_redis_connection("default")
    redis.hset(pool.inflight_key(first.url), "worker-a", 2)
    redis.set(pool.worker_key_prefix() + "worker-a", 1, ex=60)

    # when: authentication and the Admin role are the only queries
    with django_assert_num_queries(2):
        response = admin_client_api.get(SERVERS_URL, {"page_size": page_size})

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    rows = {row["url"]: row for row in admin_client_api.get(SERVERS_URL, {"page_size": 3}).json()["results"]}
    assert [row["url"] for row in body["results"]] == [first.url, second.url, third.url][:page_size]
    assert rows[first.url]["status"] == "healthy"
    assert rows[first.url]["in_flight"] == 2
    assert rows[first.url]["version"] == "0.6.5"
    assert rows[first.url]["latency_ms"] is not None
    assert rows[first.url]["last_error"] == ""
    assert rows[second.url]["models"] == [DEFAULT_MODEL, MISTRAL]
    assert rows[second.url]["in_flight"] == 0
    assert rows[third.url]["status"] == "down"
    assert rows[third.url]["failures"] == 1
    assert rows[third.url]["last_error"]
    assert rows[third.url]["next_check_at"] > rows[third.url]["checked_at"]


def test_the_servers_report_reads_the_servers_themselves_while_redis_is_down(
    admin_client_api, fake_pool, settings
):
    point_cache_at(settings, closed_port())

    response = admin_client_api.get(SERVERS_URL)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(row["status"], row["in_flight"]) for row in rows] == [("healthy", 0)] * 3


def test_installed_models_say_which_servers_have_them(admin_client_api, fake_pool):
    first, second, third = fake_pool
    second.add_model(MISTRAL)
    third.stop()

    response = admin_client_api.get(MODELS_URL)

    assert response.status_code == 200
    rows = {row["name"]: row["servers"] for row in response.json()["results"]}
    assert rows == {DEFAULT_MODEL: [first.url, second.url], MISTRAL: [second.url]}


# --- pulls and deletes -------------------------------------------------------------------------------


def test_a_pull_goes_onto_every_server_lacking_the_model_and_chats_find_it_at_once(
    admin_client_api, fake_pool, django_capture_on_commit_callbacks
):
    # given
    first, second, third = fake_pool
    second.add_model(MISTRAL)
    catalogued = AIModelFactory(name=MISTRAL, install_status=InstallStatus.NOT_INSTALLED)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post(PULLS_URL, {"model": MISTRAL}, format="json")

    # then
    assert response.status_code == 202, response.content
    assert response.json()["servers"] == [first.url, third.url]
    pull = ModelPull.objects.get()
    assert (pull.status, pull.percent, pull.completed_bytes) == ("success", 100, 2 * 8_000_000)
    assert (pulls(first), pulls(second), pulls(third)) == (
        [{"model": MISTRAL, "stream": True}],
        [],
        [pulls(first)[0]],
    )
    assert status_of(catalogued) == InstallStatus.INSTALLED
    stored = pool.stored_states()
    assert stored is not None
    assert all(stored[server.url].has(MISTRAL) for server in fake_pool)


def test_a_pull_onto_one_server_leaves_the_others_alone(
    admin_client_api, fake_pool, django_capture_on_commit_callbacks
):
    first, second, third = fake_pool

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post(
            PULLS_URL, {"model": MISTRAL, "server": third.url + "/"}, format="json"
        )

    assert response.status_code == 202, response.content
    assert response.json()["servers"] == [third.url]
    assert (pulls(first), pulls(second), len(pulls(third))) == ([], [], 1)
    assert MISTRAL in third.models


@pytest.mark.parametrize("server", ["http://127.0.0.1:9/", "", 12, "x" * 301])
def test_a_pull_onto_a_server_outside_the_pool_is_a_400_and_writes_nothing(
    admin_client_api, fake_pool, server
):
    response = admin_client_api.post(PULLS_URL, {"model": MISTRAL, "server": server}, format="json")

    assert response.status_code == 400
    assert "server" in response.json()["error"]["fields"]
    assert not ModelPull.objects.exists()
    assert all(pulls(s) == [] for s in fake_pool)


def test_a_pull_onto_a_stopped_server_is_a_503_and_queues_nothing(admin_client_api, fake_pool):
    fake_pool[2].stop()

    response = admin_client_api.post(PULLS_URL, {"model": MISTRAL, "server": fake_pool[2].url}, format="json")

    assert response.status_code == 503
    assert not ModelPull.objects.exists()


def test_a_pull_failing_on_the_second_server_names_it_and_keeps_the_model_installed(
    admin_client_api, fake_pool, django_capture_on_commit_callbacks
):
    # given
    first, second, third = fake_pool
    third.add_model(MISTRAL)
    second.fail(500, "no space left on device", path="/api/pull")
    catalogued = AIModelFactory(name=MISTRAL, install_status=InstallStatus.NOT_INSTALLED)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        admin_client_api.post(PULLS_URL, {"model": MISTRAL}, format="json")

    # then
    pull = ModelPull.objects.get()
    assert pull.status == "failed"
    assert pull.error.startswith(second.url)
    assert "no space left on device" in pull.error
    assert pull.percent == 50  # the first of two servers is done
    assert status_of(catalogued) == InstallStatus.INSTALLED  # the first and third have it
    assert MISTRAL in first.models


def test_deleting_from_one_server_keeps_the_catalogue_installed_while_another_has_it(
    admin_client_api, admin_user, fake_pool
):
    # given
    first, second, third = fake_pool
    catalogued = AIModelFactory(name=DEFAULT_MODEL, install_status=InstallStatus.INSTALLED)

    # when
    response = admin_client_api.delete(model_url(DEFAULT_MODEL) + f"?server={second.url}")

    # then
    assert response.status_code == 204
    assert (DEFAULT_MODEL in first.models, DEFAULT_MODEL in second.models, DEFAULT_MODEL in third.models) == (
        True,
        False,
        True,
    )
    assert status_of(catalogued) == InstallStatus.INSTALLED
    [event] = AuditEvent.objects.filter(action=inference.OLLAMA_MODEL_DELETED)
    assert (event.actor_id, event.after) == (admin_user.pk, {"deleted_from": [second.url]})


def test_deleting_from_every_server_marks_the_catalogue_not_installed(admin_client_api, fake_pool):
    # given: the third server does not have it
    first, second, third = fake_pool
    third.models.pop(DEFAULT_MODEL)
    catalogued = AIModelFactory(name=DEFAULT_MODEL, install_status=InstallStatus.INSTALLED)

    # when
    response = admin_client_api.delete(model_url(DEFAULT_MODEL))

    # then
    assert response.status_code == 204
    assert not any(DEFAULT_MODEL in server.models for server in fake_pool)
    assert status_of(catalogued) == InstallStatus.NOT_INSTALLED
    [event] = AuditEvent.objects.filter(action=inference.OLLAMA_MODEL_DELETED)
    assert event.after == {"deleted_from": [first.url, second.url]}


def test_deleting_from_a_server_without_the_model_is_a_404_and_from_outside_the_pool_a_400(
    admin_client_api, fake_pool
):
    fake_pool[1].models.pop(DEFAULT_MODEL)

    missing = admin_client_api.delete(model_url(DEFAULT_MODEL) + f"?server={fake_pool[1].url}")
    outside = admin_client_api.delete(model_url(DEFAULT_MODEL) + "?server=http://elsewhere:11434")

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ollama_model_not_found"
    assert outside.status_code == 400
    assert "server" in outside.json()["error"]["fields"]
    assert DEFAULT_MODEL in fake_pool[0].models
    assert not AuditEvent.objects.filter(action=inference.OLLAMA_MODEL_DELETED).exists()


# --- the catalogue follows the servers -----------------------------------------------------------------


@pytest.fixture
def catalogue(fake_pool) -> dict[str, AIModel]:
    """Catalogue models in every state; the third server holds `outside:1b`, pulled without OllamaNet."""
    fake_pool[2].add_model("outside:1b")
    fake_pool[1].add_model("failed:2b")
    return {
        "gained": AIModelFactory(name="outside:1b", install_status=InstallStatus.NOT_INSTALLED),
        "retried": AIModelFactory(name="failed:2b", install_status=InstallStatus.FAILED, install_error="x"),
        "lost": AIModelFactory(name="gone:7b", install_status=InstallStatus.INSTALLED),
        "pulling": AIModelFactory(name="coming:3b", install_status=InstallStatus.PULLING),
        "kept": AIModelFactory(name=DEFAULT_MODEL, install_status=InstallStatus.INSTALLED),
        "absent": AIModelFactory(name="never:1b", install_status=InstallStatus.NOT_INSTALLED),
    }


def statuses(catalogue: dict[str, AIModel]) -> dict[str, str]:
    return {key: status_of(model) for key, model in catalogue.items()}


FOLLOWED = {
    "gained": InstallStatus.INSTALLED,
    "retried": InstallStatus.INSTALLED,
    "lost": InstallStatus.NOT_INSTALLED,
    "pulling": InstallStatus.PULLING,
    "kept": InstallStatus.INSTALLED,
    "absent": InstallStatus.NOT_INSTALLED,
}


def test_the_periodic_task_makes_the_install_status_follow_the_servers_both_ways(catalogue):
    changed = sync_inference()

    assert changed == {"installed": ["failed:2b", "outside:1b"], "not_installed": ["gone:7b"]}
    assert statuses(catalogue) == FOLLOWED
    assert catalogue["retried"].install_error == ""
    assert sync_inference() == {"installed": [], "not_installed": []}  # idempotent


def test_the_task_follows_a_model_deleted_outside_ollamanet_once_the_server_is_due(catalogue, fake_pool):
    # given: synced; then the model leaves the third server behind OllamaNet's back
    sync_inference()
    fake_pool[2].models.pop("outside:1b")

    # when: not due yet, then due
    sync_inference()
    before = status_of(catalogue["gained"])
    stored = pool.stored_states()
    assert stored is not None
    pool.store_state(replace(stored[fake_pool[2].url], next_check_at=0), None)
    sync_inference()

    # then
    assert before == InstallStatus.INSTALLED
    assert status_of(catalogue["gained"]) == InstallStatus.NOT_INSTALLED


def test_staff_sync_at_once_and_the_audit_trail_says_what_changed(admin_client_api, admin_user, catalogue):
    response = admin_client_api.post(SYNC_URL)

    assert response.status_code == 200
    body = response.json()
    assert (body["synced"], body["installed"], body["not_installed"]) == (
        True,
        ["failed:2b", "outside:1b"],
        ["gone:7b"],
    )
    assert [server["status"] for server in body["servers"]] == ["healthy"] * 3
    assert statuses(catalogue) == FOLLOWED
    [event] = AuditEvent.objects.filter(action=servers.CATALOGUE_SYNCED)
    assert event.actor_id == admin_user.pk
    assert event.after == {"installed": ["failed:2b", "outside:1b"], "not_installed": ["gone:7b"]}


def test_the_management_command_syncs_and_reports(catalogue):
    out = StringIO()

    call_command("sync_catalogue", stdout=out)

    assert statuses(catalogue) == FOLLOWED
    assert "2 now installed, 1 no longer" in out.getvalue()
    assert "+ outside:1b" in out.getvalue()
    assert "- gone:7b" in out.getvalue()


def test_with_every_server_down_and_never_read_nothing_changes(admin_client_api, catalogue, fake_pool):
    for server in fake_pool:
        server.stop()
    before = statuses(catalogue)

    response = admin_client_api.post(SYNC_URL)

    assert response.status_code == 200
    assert response.json()["synced"] is False
    assert statuses(catalogue) == before
    with pytest.raises(CommandError):
        call_command("sync_catalogue", stdout=StringIO())


def test_a_server_down_keeps_what_it_last_listed(catalogue, fake_pool):
    # given: read once, then the third server (the only one with outside:1b) stops
    sync_inference()
    fake_pool[2].stop()

    # when
    servers.catalogue_sync(force=True)

    # then
    assert status_of(catalogue["gained"]) == InstallStatus.INSTALLED
