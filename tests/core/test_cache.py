"""The cache-aside helper against the real Redis, a closed port and a Redis that never answers."""

from __future__ import annotations

import logging
import threading

import pytest
from django.core.cache import cache

from core.cache import CacheNamespace, etag_matches, normalise_params
from tests.fakes.redis import closed_port, point_cache_at, silent_redis

pytestmark = pytest.mark.django_db


@pytest.fixture
def namespace(settings) -> CacheNamespace:
    settings.TESTCACHE_TTLS = {"things": 120, "default": 30}
    return CacheNamespace("testcache", ttl_setting="TESTCACHE_TTLS")


class Counter:
    """A compute function that counts its calls and returns a fresh payload each time."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict:
        self.calls += 1
        return {"call": self.calls, "items": ["a", "b"]}


def test_a_miss_is_computed_stored_and_then_served_from_redis(namespace):
    compute = Counter()

    first = namespace.fetch("things", {"page": 1}, compute)
    second = namespace.fetch("things", {"page": 1}, compute)

    assert compute.calls == 1
    assert (first.hit, second.hit) == (False, True)
    assert first.data == second.data == {"call": 1, "items": ["a", "b"]}
    assert first.etag == second.etag


def test_keys_carry_namespace_resource_params_and_version_with_the_resource_ttl(namespace):
    namespace.fetch("things", {"page": 2, "family": "llama"}, Counter())
    namespace.fetch("others", {}, Counter())

    version = namespace.version()
    things_key = namespace.key("things", {"family": "llama", "page": 2}, version=version)
    others_key = namespace.key("others", {}, version=version)
    assert things_key == f"testcache:things:family=llama&page=2:v{version}"
    assert 110 < cache.ttl(things_key) <= 120
    assert 20 < cache.ttl(others_key) <= 30  # no TTL of its own: the "default" one


def test_params_are_normalised_so_equal_requests_share_a_key():
    assert normalise_params({"b": 2, "a": "x", "empty": "", "none": None}) == "a=x&b=2"
    assert normalise_params({"flag": True, "tags": ["z", "a"]}) == "flag=1&tags=a%2Cz"
    assert normalise_params({}) == "-"
    long = normalise_params({"q": "x" * 500})
    assert long.startswith("h=")
    assert len(long) < 50


def test_invalidation_bumps_the_version_without_deleting_anything(namespace):
    compute = Counter()
    namespace.fetch("things", {}, compute)
    old_key = namespace.key("things", {}, version=namespace.version())

    namespace.invalidate()
    fresh = namespace.fetch("things", {}, compute)

    assert compute.calls == 2
    assert fresh.hit is False
    assert fresh.data["call"] == 2
    assert cache.get(old_key) is not None  # left to expire on its TTL, never scanned for


def test_an_invalidation_by_another_process_is_seen_at_once(namespace):
    compute = Counter()
    namespace.fetch("things", {}, compute)
    assert namespace.fetch("things", {}, compute).hit is True
    elsewhere = CacheNamespace("testcache", ttl_setting="TESTCACHE_TTLS")  # another process's view

    elsewhere.invalidate()

    assert namespace.fetch("things", {}, compute).data["call"] == 2


def test_invalidate_on_commit_waits_for_the_commit(namespace, django_capture_on_commit_callbacks):
    compute = Counter()
    namespace.fetch("things", {}, compute)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        namespace.invalidate_on_commit()
        assert namespace.fetch("things", {}, compute).hit is True  # not yet committed

    assert len(callbacks) == 1
    assert namespace.fetch("things", {}, compute).hit is False


def test_an_entry_in_an_older_format_counts_as_a_miss_and_is_replaced(namespace):
    key = namespace.key("things", {}, version=namespace.version())
    cache.set(key, {"data": "written by an older release"})
    compute = Counter()

    value = namespace.fetch("things", {}, compute)

    assert (value.hit, value.data["call"]) == (False, 1)
    assert namespace.fetch("things", {}, compute).hit is True


def test_a_lost_version_key_restarts_from_the_clock_not_from_one(namespace):
    namespace.fetch("things", {}, Counter())
    cache.delete(namespace.version_key)

    assert namespace.version() > 1_600_000_000_000


def test_a_cold_key_read_by_many_at_once_is_computed_once(namespace):
    calls = []
    gate = threading.Barrier(8)

    def slow_compute() -> dict:
        calls.append(1)
        # Hold the lock long enough for every other reader to queue behind it.
        threading.Event().wait(0.3)
        return {"value": 42}

    results = []

    def reader() -> None:
        gate.wait()
        results.append(namespace.fetch("things", {"hot": 1}, slow_compute))

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(calls) == 1
    assert [r.data for r in results] == [{"value": 42}] * 8
    assert sorted(r.hit for r in results) == [False] + [True] * 7


def test_redis_at_a_closed_port_falls_back_to_computing_with_a_warning(namespace, settings, caplog):
    point_cache_at(settings, closed_port())
    compute = Counter()

    with caplog.at_level(logging.WARNING, logger="core.cache"):
        first = namespace.fetch("things", {}, compute)
        second = namespace.fetch("things", {}, compute)
        namespace.invalidate()  # must not raise either

    assert (first.data["call"], second.data["call"]) == (1, 2)
    assert first.hit is second.hit is False
    assert any("cache unavailable" in record.getMessage() for record in caplog.records)


def test_a_silent_redis_costs_one_timeout_then_is_skipped_during_the_cooldown(namespace, settings):
    assert settings.CACHES["default"]["OPTIONS"]["SOCKET_TIMEOUT"] < 1
    assert settings.CACHES["default"]["OPTIONS"]["SOCKET_CONNECT_TIMEOUT"] < 1
    compute = Counter()
    with silent_redis() as redis_server:
        point_cache_at(settings, redis_server["port"])

        values = [namespace.fetch("things", {}, compute) for _ in range(3)]

        assert [v.data["call"] for v in values] == [1, 2, 3]
        assert redis_server["connections"] == 1  # the 2nd and 3rd reads did not wait on Redis


def test_etag_comparison_follows_if_none_match_rules():
    assert etag_matches('"abc"', '"abc"')
    assert etag_matches('W/"abc"', '"abc"')
    assert etag_matches('"x", "abc"', '"abc"')
    assert etag_matches("*", '"abc"')
    assert not etag_matches('"abd"', '"abc"')
    assert not etag_matches(None, '"abc"')
    assert not etag_matches("garbage", '"abc"')
