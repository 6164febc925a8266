"""Liveness and readiness probes: no authentication, no throttling, each dependency reported."""

from __future__ import annotations

import copy

import pytest
from django.db import connections

from tests.fakes.ollama import VERSION, unused_port

LIVE_URL = "/health/live"
READY_URL = "/health/ready"


@pytest.fixture
def redis_down(settings):
    """The cache points at a loopback port where nothing listens."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = f"redis://127.0.0.1:{unused_port()}/0"
    settings.CACHES = caches


@pytest.fixture
def postgresql_unreachable(monkeypatch):
    """New connections to the database go to a loopback port where nothing listens (the test's own
    connection stays open, so the test itself keeps working)."""
    monkeypatch.setitem(connections["default"].settings_dict, "PORT", str(unused_port()))


def test_live_answers_without_touching_anything(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(LIVE_URL)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_probes_answer_with_or_without_a_trailing_slash(client, db, fake_ollama):
    assert client.get(f"{LIVE_URL}/").status_code == 200
    assert client.get(f"{READY_URL}/").status_code == 200


def test_probes_are_never_throttled(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "2/min"},
    }

    statuses = {client.get(LIVE_URL).status_code for _ in range(5)}

    assert statuses == {200}


def test_probes_refuse_writes(client):
    assert client.post(LIVE_URL).status_code == 405


@pytest.mark.django_db
def test_ready_reports_every_dependency_with_its_latency(client, fake_ollama):
    response = client.get(READY_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["degraded"] == []
    assert set(body["checks"]) == {"postgresql", "redis", "task_queue", "ollama"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert isinstance(check["latency_ms"], float)
        assert check["latency_ms"] >= 0
    assert body["checks"]["ollama"]["version"] == VERSION


@pytest.mark.django_db
def test_ready_is_degraded_but_200_when_redis_is_stopped(client, fake_ollama, redis_down):
    response = client.get(READY_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["degraded"] == ["cache", "throttling"]
    assert body["checks"]["redis"]["status"] == "down"
    assert body["checks"]["redis"]["error"]
    assert body["checks"]["postgresql"]["status"] == body["checks"]["ollama"]["status"] == "ok"


@pytest.mark.django_db
def test_ready_is_degraded_but_200_when_ollama_is_down(client, ollama_down):
    response = client.get(READY_URL)

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["degraded"] == ["chat"]
    assert response.json()["checks"]["ollama"]["status"] == "down"


@pytest.mark.django_db
def test_ready_is_503_when_postgresql_is_unreachable(client, fake_ollama, postgresql_unreachable):
    response = client.get(READY_URL)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["postgresql"]["status"] == "down"
    assert "latency_ms" in body["checks"]["postgresql"]
    assert body["checks"]["redis"]["status"] == "ok"
