"""The audit trail: row changes record themselves (bulk updates included), security events are
recorded once, the trail cannot be rewritten, and staff read it through a filtered, cursor-paginated
list."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from celery import signals
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from admin_app.models import AuditEvent
from auth_app import services as account_services
from core import services as core_services
from core.audit import AUDITED_TABLES, NEVER_RECORDED, audit_context, audit_record
from core.request_id import request_id_scope
from tests.admin_app.factories import AuditEventFactory
from tests.auth_app.factories import DEFAULT_PASSWORD, UserFactory
from tests.auth_app.helpers import PASSWORD_CHANGE_URL, bearer, login, signed_in
from tests.conftest import client_for
from tests.conversations_app.factories import ConversationFactory, NoteFactory
from tests.models_app.factories import AIModelFactory, TagFactory

pytestmark = pytest.mark.django_db

AUDIT_URL = reverse("admin-audit-event-list")


def events(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("created_at", "id"))


def target_events(instance) -> list[AuditEvent]:
    return events(target_type=instance._meta.label_lower, target_id=str(instance.pk))


# --- row changes -------------------------------------------------------------------------------------


def test_every_audited_table_has_its_triggers_with_the_columns_the_application_expects():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname, tgargs FROM pg_trigger WHERE tgname LIKE 'audit_row_%%'"
        )
        installed = {
            (table, name): bytes(args).decode().split("\x00")[:3] for table, name, args in cursor.fetchall()
        }

    expected = {}
    for table, (mode, ignored) in AUDITED_TABLES.items():
        for name in ("audit_row_write", "audit_row_update"):
            expected[(table, name)] = [mode, sorted(ignored | NEVER_RECORDED)]
    actual = {
        key: [mode, sorted(columns.strip("{}").split(","))] for key, (_, mode, columns) in installed.items()
    }
    assert actual == expected


def test_an_update_records_the_changed_columns_only_with_who_and_where(admin_user):
    tag = TagFactory(name="Vision", description="Sees images")

    with audit_context(actor=admin_user, request_id="req-42", ip_address="203.0.113.7", staff=True):
        core_services.versioned_update(tag, fields={"description": "Reads images"})

    (event,) = target_events(tag)[1:]  # after the "created"
    assert event.action == "updated"
    assert (event.before, event.after) == ({"description": "Sees images"}, {"description": "Reads images"})
    assert (event.actor_id, event.actor_repr) == (admin_user.pk, admin_user.username)
    assert (event.request_id, event.ip_address) == ("req-42", "203.0.113.7")


def test_a_create_and_a_hard_delete_are_recorded_with_the_row():
    tag = TagFactory(name="Audio", slug="audio", description="")
    tag_id = tag.pk

    tag.delete()

    created, deleted = events(target_type="models_app.tag", target_id=str(tag_id))
    assert created.action == "created"
    assert created.after | {"deleted_at": None} == {
        "name": "Audio",
        "slug": "audio",
        "description": "",
        "deleted_at": None,
    }
    assert deleted.action == "deleted"
    assert deleted.before["name"] == "Audio"


def test_a_bulk_soft_delete_leaves_one_event_per_row_and_a_bulk_restore_too(admin_user):
    tags = TagFactory.create_batch(3)
    other = TagFactory()
    at = timezone.now()
    rows = type(other).all_objects.filter(pk__in=[tag.pk for tag in tags])

    with audit_context(actor=admin_user):
        core_services.soft_delete_rows([rows], at=at)
        core_services.restore_rows([rows], at=at)

    for tag in tags:
        _, deleted, restored = target_events(tag)
        assert (deleted.action, restored.action) == ("soft_deleted", "restored")
        assert deleted.before == {"deleted_at": None}
        assert deleted.after["deleted_at"] is not None
        assert restored.before == deleted.after
        assert restored.after == {"deleted_at": None}
        assert deleted.actor_id == restored.actor_id == admin_user.pk
    assert [e.action for e in target_events(other)] == ["created"]


def test_users_content_records_only_its_trips_to_the_trash(user):
    conversation = ConversationFactory(owner=user, title="Plans")
    note = NoteFactory(owner=user)

    with audit_context(actor=user):
        core_services.versioned_update(conversation, fields={"title": "Secret plans"})
        core_services.soft_delete(conversation, related=lambda c: [type(note).all_objects.filter(pk=note.pk)])

    (deleted,) = target_events(conversation)
    assert deleted.action == "soft_deleted"
    assert set(deleted.before) == set(deleted.after) == {"deleted_at"}
    assert deleted.actor_id == user.pk
    assert [e.action for e in target_events(note)] == ["soft_deleted"]


def test_staff_edits_of_users_content_are_recorded_in_full(admin_user, user):
    conversation = ConversationFactory(owner=user, title="Plans")

    with audit_context(actor=admin_user, staff=True):
        core_services.versioned_update(conversation, fields={"title": "Moderated"})

    (event,) = target_events(conversation)
    assert (event.action, event.before, event.after) == (
        "updated",
        {"title": "Plans"},
        {"title": "Moderated"},
    )


def test_a_write_outside_any_context_is_the_systems():
    model = AIModelFactory(description="old")

    type(model).all_objects.filter(pk=model.pk).update(description="new")

    (event,) = target_events(model)[1:]
    assert (event.actor_id, event.actor_repr, event.request_id, event.ip_address) == (None, "", "", None)


def test_bookkeeping_columns_never_make_an_event():
    model = AIModelFactory()

    core_services.versioned_update(model, fields={"install_progress": 40})

    assert [e.action for e in target_events(model)] == ["created"]


def test_the_trail_refuses_update_and_delete():
    event = AuditEventFactory()

    for attempt in (
        lambda: AuditEvent.objects.filter(pk=event.pk).update(action="tampered"),
        lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()

    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


def _record_then_fail(actor) -> None:
    with transaction.atomic(), audit_context(actor=actor):
        audit_record(action="model_pull_requested", target_type="models_app.aimodel", target_id="x")
        raise RuntimeError("the action failed")


def test_an_explicit_event_is_part_of_the_callers_transaction(admin_user):
    with pytest.raises(RuntimeError):
        _record_then_fail(admin_user)

    assert not AuditEvent.objects.filter(action="model_pull_requested").exists()


# --- security events through HTTP --------------------------------------------------------------------


def test_sign_in_events_carry_the_request_id_and_address_and_are_recorded_once(settings):
    user = UserFactory()

    failed = login(APIClient(), user.username, "wrong-password", HTTP_X_REQUEST_ID="trace-1")
    succeeded = login(APIClient(), user.username, REMOTE_ADDR="198.51.100.4")

    assert failed["X-Request-ID"] == "trace-1"
    created, fail_event, success_event = target_events(user)
    assert created.action == "created"
    assert (fail_event.action, fail_event.actor_id, fail_event.request_id) == (
        "login_failed",
        None,
        "trace-1",
    )
    assert fail_event.after == {"login": user.username}
    assert (success_event.action, success_event.actor_id) == ("login_succeeded", user.pk)
    assert success_event.request_id == succeeded["X-Request-ID"]
    assert success_event.ip_address == "198.51.100.4"


def test_the_recorded_address_is_the_peer_not_what_the_client_claims():
    user = UserFactory()

    login(APIClient(), user.username, REMOTE_ADDR="198.51.100.4", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert target_events(user)[-1].ip_address == "198.51.100.4"


def test_behind_a_trusted_proxy_the_recorded_address_is_the_one_it_saw(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    user = UserFactory()

    login(
        APIClient(),
        user.username,
        REMOTE_ADDR="192.0.2.10",
        HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.4",
    )

    assert target_events(user)[-1].ip_address == "198.51.100.4"


def test_a_lockout_records_the_failure_and_the_lock(settings):
    user = UserFactory()

    for _ in range(settings.LOGIN_LOCKOUT_THRESHOLD):
        login(APIClient(), user.username, "wrong-password")

    actions = [e.action for e in target_events(user)]
    assert actions == ["created", *["login_failed"] * settings.LOGIN_LOCKOUT_THRESHOLD, "account_locked"]
    assert target_events(user)[-1].after["locked_until"]


def test_a_password_change_is_one_event_without_the_hash():
    user = UserFactory()
    access = signed_in(user)["access"]

    bearer(access).post(
        PASSWORD_CHANGE_URL,
        {"old_password": DEFAULT_PASSWORD, "new_password": "maroon-lantern-harbour-77"},
        format="json",
    )

    changed = events(action="password_changed")
    assert [(e.target_id, e.actor_id) for e in changed] == [(str(user.pk), user.pk)]
    assert not AuditEvent.objects.filter(after__has_key="password").exists()
    assert not AuditEvent.objects.filter(target_id=str(user.pk), action="updated").exists()


def test_a_role_change_is_one_security_event(admin_user):
    user = UserFactory()
    account_services.user_role_assign_default(user=user)

    with audit_context(actor=admin_user):
        account_services.user_roles_set(user=user, role_names=["User", "Admin"])
        account_services.user_roles_set(user=user, role_names=["User", "Admin"])  # no change

    (event,) = target_events(user)[1:]  # after the account's creation
    assert event.action == "roles_changed"
    assert event.before == {"roles": ["User"], "is_staff": False}
    assert event.after == {"roles": ["Admin", "User"], "is_staff": True}
    assert event.actor_id == admin_user.pk


# --- the list endpoint -------------------------------------------------------------------------------


@pytest.fixture
def trail(admin_user, user):
    """Five events by the admin on the user, a tag's creation by the system, a login failure."""
    with audit_context(actor=admin_user):
        for n in range(5):
            audit_record(action="note", target=user, after={"n": n})
    tag = TagFactory()
    AuditEventFactory(action="login_failed", target_type="auth_app.user", target_id=str(user.pk))
    return {"tag": tag}


def test_every_staff_endpoint_refuses_anonymous_and_plain_users(anon_client, api_client):
    assert anon_client.get(AUDIT_URL).status_code == 401
    assert api_client.get(AUDIT_URL).status_code == 403


@pytest.mark.parametrize("who", ["admin_user", "superuser"])
def test_admins_and_superusers_read_the_trail_newest_first(request, who, trail):
    response = client_for(request.getfixturevalue(who)).get(AUDIT_URL)

    assert response.status_code == 200
    results = response.json()["results"]
    stamps = [(row["created_at"], row["id"]) for row in results]
    assert stamps == sorted(stamps, reverse=True)
    assert {"actor_id", "actor_repr", "action", "target_type", "target_id", "before", "after"} <= set(
        results[0]
    )
    assert {"request_id", "ip_address"} <= set(results[0])


def test_filters_narrow_the_trail(admin_client_api, admin_user, user, trail):
    def actions(**params) -> list[str]:
        response = admin_client_api.get(AUDIT_URL, params)
        assert response.status_code == 200, response.content
        return [row["action"] for row in response.json()["results"]]

    assert actions(actor=str(admin_user.pk)) == ["note"] * 5
    assert actions(action="login_failed") == ["login_failed"]
    assert actions(target_type="models_app.tag", target_id=str(trail["tag"].pk)) == ["created"]
    assert actions(target_type="auth_app.user", target_id=str(user.pk), action="note") == ["note"] * 5
    future = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert actions(created_after=future) == []
    assert len(actions(created_before=future)) == AuditEvent.objects.count()


def test_cursor_pages_walk_the_whole_trail_without_repeats(admin_client_api, trail):
    seen, url = [], f"{AUDIT_URL}?page_size=3"
    while url:
        body = admin_client_api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert len(seen) == len(set(seen)) == AuditEvent.objects.count()


@pytest.mark.parametrize("page_size", [2, 20])
def test_the_trail_costs_the_same_queries_at_any_page_size(
    admin_client_api, trail, page_size, django_assert_num_queries
):
    # authentication, Admin role, one page
    with django_assert_num_queries(3):
        response = admin_client_api.get(AUDIT_URL, {"page_size": page_size})

    assert len(response.json()["results"]) == min(page_size, AuditEvent.objects.count())


@pytest.mark.parametrize(
    "params",
    [
        {"actor": "not-a-uuid"},
        {"created_after": "yesterday"},
        {"created_before": "2024-13-45T99:00"},
        {"action": "x" * 101},
    ],
)
def test_bad_filters_are_a_400_in_the_error_shape(admin_client_api, params):
    response = admin_client_api.get(AUDIT_URL, params)

    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert set(response.json()["error"]["fields"]) == set(params)


def test_a_forged_cursor_is_a_404(admin_client_api):
    response = admin_client_api.get(AUDIT_URL, {"cursor": "garbage"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("offset", ["+16:00", "+20:00", "-23:59"])
def test_a_utc_offset_postgresql_refuses_still_filters_by_the_instant(admin_client_api, trail, offset):
    # given: an instant an hour ahead, written with an offset Python reads but PostgreSQL refuses
    sign, hours, minutes = offset[0], int(offset[1:3]), int(offset[4:])
    zone = timezone.get_fixed_timezone((-1 if sign == "-" else 1) * (hours * 60 + minutes))
    ahead = (timezone.now() + timedelta(hours=1)).astimezone(zone).replace(microsecond=0)

    # when
    after = admin_client_api.get(AUDIT_URL, {"created_after": ahead.isoformat()})
    before = admin_client_api.get(AUDIT_URL, {"created_before": ahead.isoformat()})

    # then
    assert ahead.isoformat().endswith(offset)
    assert (after.status_code, before.status_code) == (200, 200), after.content
    assert after.json()["results"] == []
    assert len(before.json()["results"]) == AuditEvent.objects.count()


@pytest.mark.parametrize(
    "params",
    [
        {"created_after": "2024-01-01T00:00:00+99:00"},
        {"created_after": "2024-01-01T00:00:00+24:00"},
        {"created_after": "0001-01-01T00:00:00+01:00"},  # before the year 1 in UTC
        {"created_before": "9999-12-31T23:59:59-01:00"},  # after the year 9999 in UTC
    ],
)
def test_an_instant_out_of_range_is_a_400(admin_client_api, params):
    response = admin_client_api.get(AUDIT_URL, params)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["fields"] == {key: ["Enter a valid date/time."] for key in params}


# --- background tasks --------------------------------------------------------------------------------


def test_a_task_acts_for_whoever_queued_it(admin_user):
    """What a worker changes is attributed to the admin whose request queued the task."""
    headers: dict = {}
    with request_id_scope("req-pull-9"), audit_context(actor=admin_user, ip_address="192.0.2.8", staff=True):
        signals.before_task_publish.send(sender="models.pull", headers=headers, body=None)
    worker_task = SimpleNamespace(request=SimpleNamespace(is_eager=False, **headers))
    model = AIModelFactory(install_status="pulling")

    signals.task_prerun.send(sender="models.pull", task_id="t-1", task=worker_task, args=(), kwargs={})
    try:
        core_services.versioned_update(model, fields={"install_status": "installed"})
    finally:
        signals.task_postrun.send(sender="models.pull", task_id="t-1", task=worker_task, args=(), kwargs={})
    core_services.versioned_update(model, fields={"install_status": "failed"})

    by_task, after_task = target_events(model)[1:]
    assert (by_task.actor_id, by_task.request_id, by_task.ip_address) == (
        admin_user.pk,
        "req-pull-9",
        "192.0.2.8",
    )
    assert by_task.after == {"install_status": "installed"}
    assert (after_task.actor_id, after_task.request_id) == (None, "")
