"""Prometheus metrics at /metrics: request latency by view, database and cache figures."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connections
from django.db.utils import load_backend
from prometheus_client import REGISTRY

METRICS_URL = "/metrics"


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name{labels...}` (labels matched as a subset), None when absent."""
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(3))
    return None


def scrape(client) -> str:
    response = client.get(METRICS_URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


@pytest.mark.django_db
def test_metrics_are_public_and_count_requests_by_view(client):
    before = (
        sample(
            scrape(client),
            "django_http_requests_latency_seconds_by_view_method_count",
            view="health-live",
            method="GET",
        )
        or 0
    )

    for _ in range(3):
        client.get("/health/live")
    text = scrape(client)

    after = sample(
        text, "django_http_requests_latency_seconds_by_view_method_count", view="health-live", method="GET"
    )
    assert after == before + 3
    assert (
        sample(
            text, "django_http_requests_latency_seconds_by_view_method_bucket", view="health-live", le="+Inf"
        )
        == after
    )


@pytest.mark.django_db
def test_database_and_cache_work_is_counted(client, admin_client_api):
    before = scrape(client)

    admin_client_api.get("/api/v1/admin/roles/")
    cache.get("metrics-probe")
    after = scrape(client)

    labels = {"alias": "default", "vendor": "postgresql"}
    assert sample(after, "django_db_execute_total", **labels) > (
        sample(before, "django_db_execute_total", **labels) or 0
    )
    assert sample(after, "django_db_query_duration_seconds_count", **labels) > 0
    misses = sample(after, "django_cache_get_total", backend="redis")
    assert misses is not None
    assert misses > (sample(before, "django_cache_get_total", backend="redis") or 0)


@pytest.mark.django_db
def test_the_instrumented_backend_serves_queries_through_the_connection_pool():
    """Production uses psycopg's pool (the test settings do not): the metrics backend keeps it."""
    settings_dict = {
        **connections["default"].settings_dict,
        "OPTIONS": {"pool": {"min_size": 1, "max_size": 2, "timeout": 5}},
    }
    backend = load_backend("core.postgresql")  # django_prometheus's backend, with a pool of its own
    pooled = backend.DatabaseWrapper(settings_dict, alias="pool_probe")
    connections["pool_probe"] = pooled  # contrib.postgres looks new connections up by alias
    try:
        with pooled.cursor() as cursor:
            cursor.execute("SELECT 41 + 1")
            assert cursor.fetchone() == (42,)
        assert pooled.pool is not None
        assert pooled.pool.get_stats()["pool_size"] >= 1
        labels = {"alias": "pool_probe", "vendor": "postgresql"}
        assert REGISTRY.get_sample_value("django_db_execute_total", labels) >= 1
    finally:
        pooled.close()
        pooled.close_pool()
        del connections["pool_probe"]
