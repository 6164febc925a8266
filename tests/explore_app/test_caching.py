"""Explore served cache-aside from Redis: hits, invalidation (in this and another process), Redis down."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection

from models_app import services
from models_app.cache import catalogue_cache
from models_app.models import AIModel
from tests.fakes.redis import closed_port, point_cache_at, silent_redis
from tests.models_app.factories import AIModelFactory, sample_catalogue

MODELS = "/api/v1/explore/models/"
TAGS = "/api/v1/explore/tags/"
READS = [MODELS, f"{MODELS}?q=mistral", f"{MODELS}mistral:7b/", TAGS, f"{TAGS}code/models/"]


def result_names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


@pytest.fixture
def catalogue(db):
    catalogue = sample_catalogue()
    catalogue["draft"] = AIModelFactory(
        name="phi4:14b", family="phi", description="Reasoning.", is_active=False
    )
    return catalogue


@pytest.mark.django_db
def test_a_repeated_request_is_a_cache_hit_with_the_same_body(anon_client, catalogue):
    for url in READS:
        first, second = anon_client.get(url), anon_client.get(url)

        assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT"), url
        assert first.json() == second.json()
        assert first["ETag"] == second["ETag"]


@pytest.mark.django_db
def test_entries_live_under_explore_keys_with_per_resource_ttls(anon_client, catalogue, settings):
    settings.EXPLORE_CACHE_TTLS = {"models": 77, "model": 555, "default": 300}
    anon_client.get(f"{MODELS}?page_size=5&family=Mistral")
    anon_client.get(f"{MODELS}mistral:7b/")

    version = catalogue_cache.version()
    list_key = f"explore:models:family=mistral&ordering=name&page=1&page_size=5:v{version}"
    detail_key = f"explore:model:ref=mistral%3A7b:v{version}"
    assert json.loads(cache.get(list_key)["json"])["count"] == 1
    assert 70 < cache.ttl(list_key) <= 77
    assert 500 < cache.ttl(detail_key) <= 555


def _publish(catalogue):
    services.aimodel_publish(model=catalogue["draft"])


def _rename(catalogue):
    services.aimodel_update(model=catalogue["llama"], description="Renamed and improved.")


def _delete_model(catalogue):
    services.aimodel_soft_delete(model=catalogue["mistral"])


def _rename_tag(catalogue):
    services.tag_update(tag=catalogue["tags"]["code"], name="software")


def _delete_tag(catalogue):
    services.tag_soft_delete(tag=catalogue["tags"]["code"])


def _tag_model(catalogue):
    services.aimodel_tags_add(model=catalogue["llama"], tag_ids=[catalogue["tags"]["code"].pk])


def _untag_model(catalogue):
    services.aimodel_tags_remove(model=catalogue["coder"], tag_ids=[catalogue["tags"]["code"].pk])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "url", "visible"),
    [
        (_publish, MODELS, lambda r: "phi4:14b" in result_names(r)),
        (_rename, f"{MODELS}llama3.2:3b/", lambda r: r.json()["description"] == "Renamed and improved."),
        (_delete_model, MODELS, lambda r: "mistral:7b" not in result_names(r)),
        (_delete_model, f"{MODELS}mistral:7b/", lambda r: r.status_code == 404),
        (_rename_tag, TAGS, lambda r: r.json()["results"][0]["name"] == "software"),
        (_rename_tag, f"{MODELS}?q=software", lambda r: result_names(r) == ["qwen2.5-coder:7b"]),
        (_delete_tag, f"{MODELS}qwen2.5-coder:7b/", lambda r: r.json()["tags"] == []),
        (_tag_model, f"{TAGS}code/models/", lambda r: result_names(r) == ["llama3.2:3b", "qwen2.5-coder:7b"]),
        (_untag_model, TAGS, lambda r: r.json()["results"][0]["model_count"] == 0),
    ],
)
def test_the_next_request_after_a_change_shows_it(
    anon_client, catalogue, django_capture_on_commit_callbacks, change, url, visible
):
    before = anon_client.get(url)
    assert anon_client.get(url)["X-Cache"] == "HIT"
    assert not visible(before)

    with django_capture_on_commit_callbacks(execute=True):
        change(catalogue)
    after = anon_client.get(url)

    assert visible(after)


@pytest.mark.django_db
def test_a_rolled_back_change_does_not_invalidate(anon_client, catalogue, django_capture_on_commit_callbacks):
    anon_client.get(MODELS)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:  # never committed
        services.aimodel_publish(model=catalogue["draft"])

    assert len(callbacks) == 1
    assert anon_client.get(MODELS)["X-Cache"] == "HIT"


# --- another process ---------------------------------------------------------------------------------

PROCESS_SCRIPT = """
import json, sys
import django
django.setup()
from django.test import Client
from models_app import services
from models_app.models import AIModel

action, name = sys.argv[1], sys.argv[2]
if action == "publish":
    services.aimodel_publish(model=AIModel.objects.get(name=name))
    print(json.dumps({}))
else:
    response = Client().get("/api/v1/explore/models/")
    names = [row["name"] for row in response.json()["results"]]
    print(json.dumps({"names": names, "cache": response["X-Cache"]}))
"""


def in_another_process(action: str, name: str) -> dict:
    """Run a catalogue write or an Explore read in a fresh Python process on the same DB and Redis."""
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": (
            f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
        "CACHE_URL": django_settings.CACHES["default"]["LOCATION"],
    }
    done = subprocess.run(
        [sys.executable, "-c", PROCESS_SCRIPT, action, name],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_change_made_in_another_process_is_seen_here(anon_client, catalogue):
    assert "phi4:14b" not in result_names(anon_client.get(MODELS))
    assert anon_client.get(MODELS)["X-Cache"] == "HIT"

    in_another_process("publish", "phi4:14b")

    assert "phi4:14b" in result_names(anon_client.get(MODELS))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_change_made_here_is_seen_by_another_process(catalogue):
    warm = in_another_process("read", "-")
    assert "phi4:14b" not in warm["names"]
    assert in_another_process("read", "-")["cache"] == "HIT"

    services.aimodel_publish(model=AIModel.objects.get(name="phi4:14b"))
    seen = in_another_process("read", "-")

    assert seen["cache"] == "MISS"
    assert "phi4:14b" in seen["names"]


# --- Redis down --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_with_redis_down_every_read_is_served_from_postgresql(anon_client, catalogue, settings, caplog):
    expected = {url: anon_client.get(url).json() for url in READS}
    point_cache_at(settings, closed_port())

    with caplog.at_level(logging.WARNING, logger="core.cache"):
        responses = {url: anon_client.get(url) for url in READS}

    for url, response in responses.items():
        assert response.status_code == 200, url
        assert response["X-Cache"] == "MISS"
        assert response.json() == expected[url]
    assert any("cache unavailable" in record.getMessage() for record in caplog.records)


@pytest.mark.django_db
def test_with_redis_down_writes_still_commit_and_reads_show_them(
    anon_client, catalogue, settings, django_capture_on_commit_callbacks
):
    point_cache_at(settings, closed_port())

    with django_capture_on_commit_callbacks(execute=True):
        services.aimodel_publish(model=catalogue["draft"])

    assert AIModel.objects.get(name="phi4:14b").is_active
    assert "phi4:14b" in result_names(anon_client.get(MODELS))


@pytest.mark.django_db
def test_a_hung_redis_is_waited_on_once_not_on_every_request(anon_client, catalogue, settings):
    assert settings.CACHES["default"]["OPTIONS"]["SOCKET_TIMEOUT"] < 1
    with silent_redis() as redis_server:
        point_cache_at(settings, redis_server["port"])

        statuses = [anon_client.get(url).status_code for url in READS]

        assert statuses == [200] * len(READS)
        assert redis_server["connections"] == 1  # the first read timed out; the others skipped Redis
