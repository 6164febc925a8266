"""Staff API, access: creating accounts (temporary password or a link to choose one), approving and
rejecting registrations, the pending queue, and which models a role may use. Every write is audited."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from admin_app.models import AuditEvent
from auth_app.models import ApprovalStatus, User
from core.permissions import ADMIN_ROLE, USER_ROLE
from models_app.models import RoleModelAccess
from tests.admin_app.helpers import audit_events_of
from tests.auth_app.factories import UserFactory
from tests.auth_app.helpers import PASSWORD_RESET_CONFIRM_URL, login
from tests.conftest import client_for
from tests.models_app.factories import AIModelFactory, TagFactory

pytestmark = pytest.mark.django_db

USERS = reverse("admin-user-list")
TEMPORARY = "plum-walrus-lantern-58"
CHOSEN = "amber-heron-quartz-77"


@pytest.fixture
def admin_client(admin_user) -> APIClient:
    return client_for(admin_user)


def action_url(user, name: str) -> str:
    return reverse(f"admin-user-{name}", args=[user.pk])


def access_url(role: Group) -> str:
    return reverse("admin-role-model-access", args=[role.pk])


def pending_user(**fields) -> User:
    user = UserFactory(is_active=False, approval_status=ApprovalStatus.PENDING, **fields)
    user.groups.add(Group.objects.get(name=USER_ROLE))
    return user


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    if code:
        assert error["code"] == code
    return error


# --- creating accounts -----------------------------------------------------------------------------------


def test_staff_create_an_account_with_a_temporary_password(admin_client, admin_user, settings):
    # given: sign-up is closed, staff create accounts anyway
    settings.REGISTRATION_MODE = "closed"

    # when
    response = admin_client.post(
        USERS,
        {"username": "Grace", "email": "Grace@Example.com", "temporary_password": TEMPORARY},
        format="json",
    )

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["username"], body["email"], body["roles"]) == ("Grace", "grace@example.com", [USER_ROLE])
    assert body["password_change_required"] is True
    assert body["approval_status"] == "approved"
    assert body["is_active"] is True
    assert response["ETag"]
    user = User.objects.get(username="Grace")
    assert user.check_password(TEMPORARY)
    created, described = audit_events_of(user)
    assert (created.action, created.actor_id) == ("created", admin_user.pk)
    assert created.after["username"] == "Grace"
    assert (described.action, described.actor_id) == ("account_created_by_admin", admin_user.pk)
    assert described.after == {"roles": [USER_ROLE], "is_staff": False, "password": "temporary"}
    # The owner must choose their own password at the first sign-in.
    assert_error(login(APIClient(), "grace", TEMPORARY), 403, "password_change_required")


def test_staff_create_an_account_whose_owner_chooses_a_password_from_an_emailed_link(
    admin_client, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            USERS,
            {
                "username": "linus",
                "email": "linus@example.com",
                "send_password_link": True,
                "roles": ["Admin"],
            },
            format="json",
        )

    # then
    assert response.status_code == 201, response.content
    assert response.json()["roles"] == [ADMIN_ROLE]
    assert response.json()["is_staff"] is True
    assert response.json()["password_change_required"] is False
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["linus@example.com"]
    assert "created an OllamaNet account for you" in message.body
    uid, token = re.search(r"uid=([\w-]+)&token=([\w-]+)", message.body).groups()
    assert token not in response.content.decode()
    assert login(APIClient(), "linus", CHOSEN).status_code == 401

    # when: the owner follows the link
    confirmed = APIClient().post(
        PASSWORD_RESET_CONFIRM_URL, {"uid": uid, "token": token, "new_password": CHOSEN}, format="json"
    )

    # then
    assert confirmed.status_code == 204
    assert login(APIClient(), "linus", CHOSEN).status_code == 200
    event = AuditEvent.objects.get(action="account_created_by_admin")
    assert event.after["password"] == "link_sent"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "temporary_password"),  # neither
        ({"temporary_password": TEMPORARY, "send_password_link": True}, "temporary_password"),  # both
        ({"temporary_password": "short"}, "temporary_password"),
        ({"temporary_password": "password123"}, "temporary_password"),
        ({"temporary_password": 12345678901}, "temporary_password"),
        ({"temporary_password": TEMPORARY, "roles": ["Nobody"]}, "roles"),
        ({"temporary_password": TEMPORARY, "roles": []}, "roles"),
        ({"temporary_password": TEMPORARY, "username": "taken"}, "username"),
        ({"temporary_password": TEMPORARY, "email": "TAKEN@example.com"}, "email"),
        ({"temporary_password": TEMPORARY, "username": "has space"}, "username"),
        ({"temporary_password": TEMPORARY, "email": "nope"}, "email"),
        ({"temporary_password": TEMPORARY, "is_staff": True}, "is_staff"),
    ],
)
def test_creating_an_account_refuses_bad_input_and_writes_nothing(admin_client, payload, field):
    UserFactory(username="taken", email="taken@example.com")
    users_before, events_before = User.all_objects.count(), AuditEvent.objects.count()

    response = admin_client.post(
        USERS, {"username": "new", "email": "new@example.com", **payload}, format="json"
    )

    assert field in assert_error(response, 400)["fields"]
    assert (User.all_objects.count(), AuditEvent.objects.count()) == (users_before, events_before)


def test_only_staff_create_accounts(anon_client, api_client):
    payload = {"username": "new", "email": "new@example.com", "temporary_password": TEMPORARY}

    assert anon_client.post(USERS, payload, format="json").status_code == 401
    assert api_client.post(USERS, payload, format="json").status_code == 403
    assert not User.objects.filter(username="new").exists()


# --- approving and rejecting ---------------------------------------------------------------------------


def test_staff_list_the_registrations_waiting_for_approval(admin_client, django_assert_num_queries):
    waiting = [pending_user() for _ in range(3)]
    UserFactory()

    with django_assert_num_queries(4):  # the caller, their Admin role, count, page
        response = admin_client.get(USERS, {"status": "pending"})

    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {str(user.pk) for user in waiting}
    assert all(row["approval_status"] == "pending" for row in response.json()["results"])
    assert_error(admin_client.get(USERS, {"status": "maybe"}), 400)


def test_approving_activates_the_account_and_is_audited(admin_client, admin_user):
    user = pending_user()

    response = admin_client.post(action_url(user, "approve"))

    assert response.status_code == 200, response.content
    assert (response.json()["approval_status"], response.json()["is_active"]) == ("approved", True)
    [event] = [e for e in audit_events_of(user) if e.action != "created"]
    assert (event.action, event.actor_id) == ("updated", admin_user.pk)
    assert event.before == {"approval_status": "pending", "is_active": False}
    assert event.after == {"approval_status": "approved", "is_active": True}
    assert login(APIClient(), user.username).status_code == 200


def test_rejecting_moves_the_account_to_the_trash_and_is_audited(admin_client, admin_user):
    user = pending_user(username="spam", email="spam@example.com")

    response = admin_client.post(action_url(user, "reject"))

    assert response.status_code == 200, response.content
    assert response.json()["approval_status"] == "rejected"
    assert response.json()["deleted_at"] is not None
    [event] = [e for e in audit_events_of(user) if e.action != "created"]
    assert (event.action, event.actor_id) == ("soft_deleted", admin_user.pk)
    assert event.after["approval_status"] == "rejected"
    # It can no longer sign in (nothing says why), its name is free, and staff find it in the trash.
    assert_error(login(APIClient(), "spam"), 401, "invalid_credentials")
    assert not User.objects.filter(username="spam").exists()
    trash = admin_client.get(USERS, {"deleted": "true", "status": "rejected"}).json()["results"]
    assert [row["id"] for row in trash] == [str(user.pk)]


def test_approve_and_reject_refuse_accounts_that_are_not_pending(admin_client, user):
    events_before = AuditEvent.objects.count()

    assert_error(admin_client.post(action_url(user, "approve")), 409, "not_pending")
    assert_error(admin_client.post(action_url(user, "reject")), 409, "not_pending")
    assert AuditEvent.objects.count() == events_before


def test_a_pending_account_is_approved_not_activated(admin_client):
    user = pending_user()

    assert_error(admin_client.post(action_url(user, "activate")), 409, "not_approved")
    user.refresh_from_db()
    assert user.is_active is False


def test_approve_honours_if_match_and_plain_users_get_403(admin_client, api_client, anon_client):
    user = pending_user()

    assert anon_client.post(action_url(user, "approve")).status_code == 401
    assert api_client.post(action_url(user, "approve")).status_code == 403
    assert api_client.post(action_url(user, "reject")).status_code == 403
    assert_error(admin_client.post(action_url(user, "approve"), HTTP_IF_MATCH='"99"'), 412)
    user.refresh_from_db()
    assert user.approval_status == ApprovalStatus.PENDING
    assert not OutstandingToken.objects.filter(user=user).exists()


# --- which models a role may use -------------------------------------------------------------------------


def test_a_role_without_entries_is_unrestricted(admin_client, django_assert_num_queries):
    role = Group.objects.get(name=USER_ROLE)

    with django_assert_num_queries(4):  # the caller, their Admin role, the role, its entries
        response = admin_client.get(access_url(role))

    assert response.status_code == 200
    assert response.json() == {"restricted": False, "models": [], "tags": []}


def test_staff_set_which_models_a_role_may_use_and_each_change_is_audited(admin_client, admin_user):
    # given
    role = Group.objects.get(name=USER_ROLE)
    chat, coder = AIModelFactory(name="chat:1b"), AIModelFactory(name="coder:7b")
    code = TagFactory(name="code")

    # when
    response = admin_client.put(
        access_url(role), {"models": [str(chat.pk), str(coder.pk)], "tags": [str(code.pk)]}, format="json"
    )

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["restricted"] is True
    assert [model["name"] for model in body["models"]] == ["chat:1b", "coder:7b"]
    assert [tag["slug"] for tag in body["tags"]] == ["code"]
    assert admin_client.get(access_url(role)).json() == body
    created = AuditEvent.objects.filter(target_type="models_app.rolemodelaccess", action="created")
    assert created.count() == 3
    assert {event.actor_id for event in created} == {admin_user.pk}

    # when: one model less, then no restriction at all
    admin_client.put(access_url(role), {"models": [str(chat.pk)], "tags": [str(code.pk)]}, format="json")
    lifted = admin_client.put(access_url(role), {"models": [], "tags": []}, format="json")

    # then
    assert lifted.json() == {"restricted": False, "models": [], "tags": []}
    assert not RoleModelAccess.objects.exists()
    deleted = AuditEvent.objects.filter(target_type="models_app.rolemodelaccess", action="deleted")
    assert deleted.count() == 3
    assert deleted.order_by("created_at").first().before["model_id"] == str(coder.pk)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"models": ["00000000-0000-0000-0000-000000000000"]}, "models"),
        ({"tags": ["00000000-0000-0000-0000-000000000000"]}, "tags"),
        ({"models": ["not-a-uuid"]}, "models"),
        ({"models": "chat:1b"}, "models"),
        ({"tags": [None]}, "tags"),
        ({"roles": []}, "roles"),
    ],
)
def test_setting_model_access_refuses_bad_input_and_changes_nothing(admin_client, payload, field):
    role = Group.objects.get(name=USER_ROLE)
    RoleModelAccess.objects.create(role_id=role.pk, model=AIModelFactory())
    events_before = AuditEvent.objects.count()

    response = admin_client.put(access_url(role), payload, format="json")

    assert field in assert_error(response, 400)["fields"]
    assert RoleModelAccess.objects.count() == 1
    assert AuditEvent.objects.count() == events_before


def test_model_access_of_an_unknown_role_is_404_and_plain_users_get_403(
    admin_client, api_client, anon_client
):
    role = Group.objects.get(name=USER_ROLE)
    missing = reverse("admin-role-model-access", args=[999_999])

    assert_error(admin_client.get(missing), 404)
    assert_error(admin_client.put(missing, {"models": []}, format="json"), 404)
    assert anon_client.get(access_url(role)).status_code == 401
    assert api_client.get(access_url(role)).status_code == 403
    assert api_client.put(access_url(role), {"models": []}, format="json").status_code == 403


def test_deleting_a_role_takes_its_entries_with_it(admin_client):
    role = Group.objects.create(name="Coders")
    RoleModelAccess.objects.create(role_id=role.pk, model=AIModelFactory())

    assert admin_client.delete(reverse("admin-role-detail", args=[role.pk])).status_code == 204
    assert not RoleModelAccess.objects.exists()


def test_staff_send_an_account_a_link_to_choose_a_password(
    admin_client, admin_user, api_client, django_capture_on_commit_callbacks
):
    invited = UserFactory(email="invited@example.com")

    assert api_client.post(action_url(invited, "password-link")).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(action_url(invited, "password-link"))

    assert response.status_code == 200, response.content
    assert [message.to for message in mail.outbox] == [["invited@example.com"]]
    event = AuditEvent.objects.get(action="password_link_sent")
    assert (event.target_id, event.actor_id) == (str(invited.pk), admin_user.pk)
    assert_error(admin_client.post(action_url(pending_user(), "password-link")), 409, "inactive")
