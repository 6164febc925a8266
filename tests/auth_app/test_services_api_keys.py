"""API keys and quotas at the service level: what is stored, who is accepted, how usage adds up."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from admin_app.models import AuditEvent
from auth_app.models import ApiKey, ApiUsage
from auth_app.services import api_keys, quotas
from auth_app.services.api_keys import InvalidApiKey, authenticate_api_key, create_api_key
from auth_app.services.quotas import QuotaExceeded, check_request_quota, record_usage
from tests.auth_app.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_new_key_is_returned_once_and_stored_only_as_prefix_and_hmac(user):
    # when
    key, secret = create_api_key(user, name="laptop")

    # then
    assert secret.startswith(f"onk_{key.prefix}_")
    assert len(secret) >= 4 + 8 + 1 + 43
    stored = ApiKey.objects.get(pk=key.pk)
    assert secret not in {stored.key_hash, stored.prefix, stored.name}
    assert stored.key_hash == api_keys.key_digest(secret)
    assert len(stored.key_hash) == 64
    assert stored.scopes == ["chat", "models", "embeddings"]
    assert stored.record is True
    assert api_keys.looks_like_api_key(secret)
    assert not api_keys.looks_like_api_key("eyJhbGciOi.x.y")


def test_the_key_authenticates_its_owner_and_touches_last_used_at_once_a_minute(user):
    key, secret = create_api_key(user, name="ci", scopes=["chat"])

    found = authenticate_api_key(secret)
    first_use = ApiKey.objects.get(pk=key.pk).last_used_at

    assert found.pk == key.pk
    assert found.user == user
    assert found.has_scope("chat")
    assert not found.has_scope("embeddings")
    assert first_use is not None
    with connection.execute_wrapper(_refuse_writes):
        authenticate_api_key(secret)  # within the minute: no write
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first_use


def _refuse_writes(execute, sql, params, many, context):
    if sql.lstrip().upper().startswith("UPDATE"):
        raise AssertionError(f"unexpected write: {sql}")
    return execute(sql, params, many, context)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda secret: secret[:-1] + ("A" if secret[-1] != "A" else "B"),  # wrong secret
        lambda secret: "onk_zzzzzzzz_" + secret[13:],  # unknown prefix
        lambda secret: "onk_short",  # malformed
        lambda secret: secret.replace("onk_", "onk-"),  # not even a key
    ],
)
def test_unknown_or_malformed_keys_are_refused(user, spoil):
    _, secret = create_api_key(user, name="x")
    with pytest.raises(InvalidApiKey):
        authenticate_api_key(spoil(secret))


def test_revoked_expired_and_unusable_accounts_keys_are_refused(user):
    revoked, revoked_secret = create_api_key(user, name="revoked")
    api_keys.revoke_api_key(api_key=revoked)
    expiring, expiring_secret = create_api_key(
        user, name="old", expires_at=timezone.now() + timedelta(hours=1)
    )
    ApiKey.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    locked_user = UserFactory(locked=True)
    _, locked_secret = create_api_key(locked_user, name="k")
    inactive_user = UserFactory(is_active=False)
    _, inactive_secret = create_api_key(inactive_user, name="k")
    deleted_user = UserFactory()
    _, deleted_secret = create_api_key(deleted_user, name="k")
    type(deleted_user).all_objects.filter(pk=deleted_user.pk).update(deleted_at=timezone.now())

    for secret in (revoked_secret, expiring_secret, locked_secret, inactive_secret, deleted_secret):
        with pytest.raises(InvalidApiKey):
            authenticate_api_key(secret)


def test_creation_and_revocation_are_audited_without_the_secret(user):
    key, secret = create_api_key(user, name="audited")
    api_keys.revoke_api_key(api_key=key)

    events = list(AuditEvent.objects.filter(target_id=str(key.pk)).order_by("created_at"))
    assert [event.action for event in events] == ["api_key_created", "api_key_revoked"]
    assert events[0].after["prefix"] == key.prefix
    assert all(secret not in str(event.after) + str(event.before) for event in events)
    assert all(key.key_hash not in str(event.after) + str(event.before) for event in events)


def test_requests_per_minute_refused_over_the_default_with_retry_after(user, settings):
    settings.API_KEY_REQUESTS_PER_MINUTE = 2
    key, _ = create_api_key(user, name="k")

    check_request_quota(user, key)
    check_request_quota(user, key)
    with pytest.raises(QuotaExceeded) as excinfo:
        check_request_quota(user, key)

    assert 1 <= excinfo.value.retry_after <= 60
    assert "2 per minute" in excinfo.value.message


def test_a_keys_own_limit_beats_the_default_either_way(user, settings):
    settings.API_KEY_REQUESTS_PER_MINUTE = 1
    generous, _ = create_api_key(user, name="generous")
    api_keys.api_key_quota_set(api_key=generous, requests_per_minute=5)
    strict, _ = create_api_key(user, name="strict")
    api_keys.api_key_quota_set(api_key=strict, requests_per_minute=0)  # unlimited

    for _ in range(5):
        check_request_quota(user, generous)
    with pytest.raises(QuotaExceeded):
        check_request_quota(user, generous)
    for _ in range(10):
        check_request_quota(user, strict)
    # keys without an own limit share their owner's budget: more keys are not more quota
    plain_a, _ = create_api_key(user, name="a")
    plain_b, _ = create_api_key(user, name="b")
    check_request_quota(user, plain_a)
    with pytest.raises(QuotaExceeded):
        check_request_quota(user, plain_b)


def test_tokens_per_day_counted_from_usage(user, settings):
    settings.API_KEY_TOKENS_PER_DAY = 100
    key, _ = create_api_key(user, name="k")
    check_request_quota(user, key)
    record_usage(user, key, prompt_tokens=60, eval_tokens=40)

    with pytest.raises(QuotaExceeded) as excinfo:
        check_request_quota(user, key)

    assert excinfo.value.retry_after <= 24 * 3600
    assert "token" in excinfo.value.message
    user.api_tokens_per_day = 1000  # the user's override beats the default
    check_request_quota(user, key)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_usage_upserts_under_concurrent_threads_add_up():
    user = UserFactory()
    key, _ = create_api_key(user, name="busy")
    threads_count, per_thread = 8, 5
    barrier = threading.Barrier(threads_count)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(per_thread):
                record_usage(user, key, prompt_tokens=3, eval_tokens=7)
                record_usage(user, None, prompt_tokens=1, eval_tokens=1)
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    keyed = ApiUsage.objects.get(api_key=key)
    keyless = ApiUsage.objects.get(user=user, api_key__isnull=True)
    total = threads_count * per_thread
    assert (keyed.requests, keyed.prompt_tokens, keyed.eval_tokens) == (total, 3 * total, 7 * total)
    assert (keyless.requests, keyless.prompt_tokens, keyless.eval_tokens) == (total, total, total)


def test_quota_steps_aside_while_redis_is_down(user, settings):
    from tests.fakes.redis import closed_port, point_cache_at

    settings.API_KEY_REQUESTS_PER_MINUTE = 1
    settings.CACHE_OUTAGE_COOLDOWN = 0.0
    point_cache_at(settings, closed_port())

    for _ in range(3):
        check_request_quota(user, None)
    assert quotas.requests_per_minute_limit(user) == 1


@pytest.mark.faults
def test_requests_per_minute_fail_open_while_redis_is_stopped_and_count_again_after(user, settings):
    from core.cache import outage
    from tests.fakes.outages import RedisServer

    server = RedisServer().start()
    try:
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": server.url(0)}}
        settings.CACHE_OUTAGE_COOLDOWN = 0.2
        settings.API_KEY_REQUESTS_PER_MINUTE = 2
        key, _ = create_api_key(user, name="k")
        check_request_quota(user, key)
        check_request_quota(user, key)
        with pytest.raises(QuotaExceeded):
            check_request_quota(user, key)

        # when Redis stops: the per-minute limit steps aside, noted once
        server.stop()
        for _ in range(5):
            check_request_quota(user, key)
        assert outage.active()

        # when it is back (empty) and the cool-down is over: counted again
        server.start()
        time.sleep(0.3)
        check_request_quota(user, key)
        check_request_quota(user, key)
        with pytest.raises(QuotaExceeded):
            check_request_quota(user, key)
    finally:
        server.close()
        outage.clear()


def test_scopes_are_required_of_keys_only(user):
    key, _ = create_api_key(user, name="embedder", scopes=["embeddings"])

    api_keys.require_scope(key, "embeddings")
    api_keys.require_scope(None, "chat")  # signed in with an access token
    with pytest.raises(api_keys.ScopeNotAllowed) as excinfo:
        api_keys.require_scope(key, "chat")

    assert excinfo.value.status_code == 403
    assert excinfo.value.code == "insufficient_scope"
