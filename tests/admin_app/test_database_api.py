"""Staff API, database: health, tables, connections (with the pool's statistics), slow statements
(pg_stat_statements, or a clear "not enabled"), migrations."""

from __future__ import annotations

import copy

import pytest
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper
from django.urls import reverse

from admin_app.selectors import database as database_selectors
from tests.conftest import client_for
from tests.models_app.factories import TagFactory

pytestmark = pytest.mark.django_db

HEALTH_URL = reverse("admin-database-health")
TABLES_URL = reverse("admin-database-tables")
CONNECTIONS_URL = reverse("admin-database-connections")
STATEMENTS_URL = reverse("admin-database-slow-statements")
MIGRATIONS_URL = reverse("admin-database-migrations")
REPLICATION_URL = reverse("admin-database-replication")
URLS = [HEALTH_URL, TABLES_URL, CONNECTIONS_URL, STATEMENTS_URL, MIGRATIONS_URL, REPLICATION_URL]


@pytest.mark.parametrize("url", URLS)
def test_only_the_admin_role_may_read_the_database_reports(anon_client, api_client, request, url):
    assert anon_client.get(url).status_code == 401
    assert api_client.get(url).status_code == 403
    for role in ("admin_user", "superuser"):
        assert client_for(request.getfixturevalue(role)).get(url).status_code == 200


def test_health_reports_version_uptime_and_size(admin_client_api, django_assert_num_queries):
    # authentication, Admin role, the report
    with django_assert_num_queries(3):
        response = admin_client_api.get(HEALTH_URL)

    body = response.json()
    assert body["database"] == connection.settings_dict["NAME"]
    assert int(body["server_version"].split(".")[0]) >= 15
    assert body["server_version_full"].startswith("PostgreSQL")
    assert body["uptime_seconds"] >= 0
    assert body["size_bytes"] > 0
    assert body["size_pretty"].endswith(("kB", "MB", "GB"))
    assert body["in_recovery"] is False
    assert body["max_connections"] > 0


@pytest.mark.parametrize("page_size", [1, 5])
def test_tables_are_listed_largest_first_in_constant_queries(
    admin_client_api, page_size, django_assert_num_queries
):
    # authentication, Admin role, every table at once
    with django_assert_num_queries(3):
        response = admin_client_api.get(TABLES_URL, {"page_size": page_size})

    body = response.json()
    assert body["count"] > 20
    assert len(body["results"]) == page_size
    sizes = [row["total_bytes"] for row in body["results"]]
    assert sizes == sorted(sizes, reverse=True)


def test_tables_carry_row_estimates_and_dead_tuples(admin_client_api):
    for _ in range(3):
        TagFactory()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE models_app_tag")

    response = admin_client_api.get(TABLES_URL, {"page_size": 100})

    rows = {row["name"]: row for row in response.json()["results"]}
    assert {"admin_app_modelpull", "models_app_aimodel", "conversations_app_airesponse"} <= set(rows)
    tags = rows["models_app_tag"]
    assert tags["row_estimate"] == 3
    assert tags["schema"] == "public"
    assert tags["total_bytes"] >= tags["table_bytes"] + tags["index_bytes"]
    assert isinstance(tags["dead_tuples"], int)
    assert tags["last_analyze"] is not None


def test_connections_are_summed_by_state_with_the_pools_statistics(
    admin_client_api, django_assert_num_queries
):
    # authentication, Admin role, by state, server totals
    with django_assert_num_queries(4):
        response = admin_client_api.get(CONNECTIONS_URL)

    body = response.json()
    states = {row["state"]: row for row in body["by_state"]}
    assert states["active"]["connections"] >= 1  # this very request
    assert body["total"] == sum(row["connections"] for row in body["by_state"])
    assert body["server"]["client_connections"] >= body["total"]
    assert body["server"]["max_connections"] > 0
    # the tests run with the pool on, as production does
    assert body["pool"]["configured"] is True
    assert body["pool"]["stats"]["pool_max"] == connection.settings_dict["OPTIONS"]["pool"]["max_size"]


def test_connections_say_when_there_is_no_pool(admin_client_api, monkeypatch):
    monkeypatch.setattr(database_selectors, "connection_pool", lambda: None)

    pool = admin_client_api.get(CONNECTIONS_URL).json()["pool"]

    assert pool["configured"] is False
    assert pool["stats"] is None
    assert "No connection pool" in pool["message"]


def test_connections_show_the_pools_statistics_when_there_is_one(admin_client_api, monkeypatch):
    settings_dict = copy.deepcopy(connection.settings_dict)
    settings_dict["OPTIONS"]["pool"] = {"min_size": 1, "max_size": 3, "timeout": 5}
    pooled = DatabaseWrapper(settings_dict, alias="pooled_probe")
    monkeypatch.setattr(database_selectors, "connection_pool", lambda: pooled.pool)
    try:
        response = admin_client_api.get(CONNECTIONS_URL)
    finally:
        pooled.close_pool()

    pool = response.json()["pool"]
    assert pool["configured"] is True
    assert pool["message"] == ""
    assert pool["stats"]["pool_max"] == 3
    assert pool["stats"]["pool_size"] >= 1


def test_slow_statements_come_from_pg_stat_statements(admin_client_api):
    for _ in range(3):
        admin_client_api.get(HEALTH_URL)

    response = admin_client_api.get(STATEMENTS_URL, {"order_by": "calls", "limit": 5})

    body = response.json()
    assert body["enabled"] is True
    assert body["message"] == ""
    assert 1 <= len(body["statements"]) <= 5
    calls = [row["calls"] for row in body["statements"]]
    assert calls == sorted(calls, reverse=True)
    first = body["statements"][0]
    assert first["query"]
    assert first["query_id"]
    assert first["mean_ms"] >= 0
    assert first["total_ms"] >= first["mean_ms"]


def test_slow_statements_say_clearly_when_the_extension_is_not_enabled(admin_client_api):
    with connection.cursor() as cursor:
        cursor.execute("DROP EXTENSION IF EXISTS pg_stat_statements")  # undone with the test's transaction

    response = admin_client_api.get(STATEMENTS_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["enabled"] is False
    assert body["statements"] == []
    assert "not enabled" in body["message"]
    assert "shared_preload_libraries" in body["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"order_by": "size"}, "order_by"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "x"}, "limit"),
    ],
)
def test_slow_statements_refuse_bad_parameters(admin_client_api, params, field):
    response = admin_client_api.get(STATEMENTS_URL, params)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_migrations_are_reported_per_app(admin_client_api, django_assert_num_queries):
    # authentication, Admin role, the recorder's table check, the applied migrations
    with django_assert_num_queries(4):
        response = admin_client_api.get(MIGRATIONS_URL)

    body = response.json()
    apps = {entry["app"]: entry for entry in body["apps"]}
    assert {"auth_app", "models_app", "conversations_app", "admin_app"} <= set(apps)
    assert body["unapplied_count"] == 0
    assert body["applied_count"] == sum(len(a["applied"]) for a in body["apps"])
    assert apps["admin_app"]["applied"][:1] == ["0001_initial"]
    assert "0004_modelpull" in apps["admin_app"]["applied"]


def test_an_unapplied_migration_is_reported_as_such(admin_client_api):
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'admin_app' AND name = '0005_pg_stat_statements'"
        )

    body = admin_client_api.get(MIGRATIONS_URL).json()

    admin_app = next(entry for entry in body["apps"] if entry["app"] == "admin_app")
    assert admin_app["unapplied"] == ["0005_pg_stat_statements"]
    assert body["unapplied_count"] == 1


def test_replication_without_a_replica_shows_none_and_the_primarys_standbys(
    admin_client_api, django_assert_num_queries
):
    # (The replica's own state and lag, against a real one: tests/core/test_db_router.py.)
    # authentication, Admin role, pg_stat_replication
    with django_assert_num_queries(3):
        response = admin_client_api.get(REPLICATION_URL)

    body = response.json()
    assert response.status_code == 200
    assert body["replica"] is None
    assert isinstance(body["standbys"], list)
    for standby in body["standbys"]:
        assert {"application_name", "state", "replay_lag_bytes", "replay_lag_seconds"} <= standby.keys()
