"""Who may sign up (REGISTRATION_MODE) and what signing in says to accounts that wait: for approval, or
to replace a temporary password."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from admin_app.models import AuditEvent
from auth_app.models import ApprovalStatus, User
from tests.auth_app.factories import DEFAULT_PASSWORD, UserFactory
from tests.auth_app.helpers import ME_URL, REGISTER_URL, bearer, login

pytestmark = pytest.mark.django_db

GOOD = {"username": "newcomer", "email": "newcomer@example.com", "password": "violet-otter-canyon-42"}
NEW_PASSWORD = "amber-heron-quartz-77"


def register(payload: dict = GOOD):
    return APIClient().post(REGISTER_URL, payload, format="json")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


# --- registration modes --------------------------------------------------------------------------------


def test_open_mode_is_the_default_and_signs_the_new_account_in(settings):
    assert settings.REGISTRATION_MODE == "open"

    response = register()

    assert response.status_code == 201, response.content
    user = User.objects.get(username="newcomer")
    assert (user.is_active, user.approval_status) == (True, ApprovalStatus.APPROVED)
    assert bearer(response.json()["access"]).get(ME_URL).status_code == 200


def test_approval_mode_creates_an_inactive_pending_account_without_tokens(settings):
    # given
    settings.REGISTRATION_MODE = "approval"

    # when
    response = register()

    # then
    assert response.status_code == 202, response.content
    body = response.json()
    assert "access" not in body
    assert "refresh" not in body
    assert "approval" in body["detail"]
    assert body["user"]["username"] == "newcomer"
    assert body["user"]["is_active"] is False
    user = User.objects.get(username="newcomer")
    assert (user.is_active, user.approval_status) == (False, ApprovalStatus.PENDING)
    assert user.groups.filter(name="User").exists()
    assert not OutstandingToken.objects.filter(user=user).exists()


def test_closed_mode_refuses_every_registration_and_writes_nothing(settings):
    # given
    settings.REGISTRATION_MODE = "closed"
    users_before = User.all_objects.count()

    # when
    response = register()

    # then
    error = assert_error(response, 403, "registration_closed")
    assert "administrators" in error["message"]
    assert User.all_objects.count() == users_before


def test_closed_mode_refuses_before_looking_at_the_input(settings):
    settings.REGISTRATION_MODE = "closed"

    assert_error(register({**GOOD, "email": "not-an-address"}), 400, "invalid")
    assert_error(register({**GOOD, "username": UserFactory().username}), 403, "registration_closed")


# --- pending accounts at sign-in -----------------------------------------------------------------------


def test_the_right_password_of_a_pending_account_gets_a_clear_403_not_bad_credentials(settings):
    # given
    settings.REGISTRATION_MODE = "approval"
    register()

    # when
    right = login(APIClient(), "newcomer", GOOD["password"])
    by_email = login(APIClient(), "NEWCOMER@example.com", GOOD["password"])
    wrong = login(APIClient(), "newcomer", "not-the-password-at-all")

    # then
    assert_error(right, 403, "account_pending_approval")
    assert_error(by_email, 403, "account_pending_approval")
    assert_error(wrong, 401, "invalid_credentials")
    assert "awaits approval" in right.json()["error"]["message"]
    user = User.objects.get(username="newcomer")
    assert not OutstandingToken.objects.filter(user=user).exists()
    assert user.failed_login_count == 0
    assert AuditEvent.objects.filter(action="login_refused_pending_approval", target_id=str(user.pk)).exists()


def test_an_approved_account_signs_in(settings):
    settings.REGISTRATION_MODE = "approval"
    register()
    User.objects.filter(username="newcomer").update(approval_status=ApprovalStatus.APPROVED, is_active=True)

    response = login(APIClient(), "newcomer", GOOD["password"])

    assert response.status_code == 200, response.content


def test_the_database_refuses_an_active_account_that_is_not_approved():
    from django.db import IntegrityError, transaction

    user = UserFactory()
    with pytest.raises(IntegrityError, match="auth_user_active_only_if_approved"), transaction.atomic():
        User.objects.filter(pk=user.pk).update(approval_status=ApprovalStatus.PENDING)


# --- temporary passwords ---------------------------------------------------------------------------------


def temporary_account() -> User:
    return UserFactory(username="temp", password_change_required=True)


def test_a_temporary_password_signs_in_only_with_a_new_one():
    # given
    user = temporary_account()

    # when
    refused = login(APIClient(), "temp", DEFAULT_PASSWORD)
    wrong = login(APIClient(), "temp", "not-the-password-at-all")

    # then
    assert_error(refused, 403, "password_change_required")
    assert "new_password" in refused.json()["error"]["message"]
    assert_error(wrong, 401, "invalid_credentials")
    assert not OutstandingToken.objects.filter(user=user).exists()

    # when
    response = APIClient().post(
        "/api/v1/auth/login/",
        {"login": "temp", "password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )

    # then
    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.password_change_required is False
    assert user.check_password(NEW_PASSWORD)
    assert bearer(response.json()["access"]).get(ME_URL).status_code == 200
    assert login(APIClient(), "temp", DEFAULT_PASSWORD).status_code == 401
    assert login(APIClient(), "temp", NEW_PASSWORD).status_code == 200
    event = AuditEvent.objects.get(action="temporary_password_replaced", target_id=str(user.pk))
    assert event.actor_id == user.pk
    # The flag's change is that security event, not a second row event.
    assert not AuditEvent.objects.filter(
        action="updated", target_id=str(user.pk), after__has_key="password_change_required"
    ).exists()


@pytest.mark.parametrize(
    ("new_password", "reason"),
    [(DEFAULT_PASSWORD, "differ"), ("short", "too short"), ("password123", "too common")],
)
def test_the_new_password_is_checked_and_nothing_changes_when_it_is_refused(new_password, reason):
    user = temporary_account()

    response = APIClient().post(
        "/api/v1/auth/login/",
        {"login": "temp", "password": DEFAULT_PASSWORD, "new_password": new_password},
        format="json",
    )

    error = assert_error(response, 400, "invalid")
    assert any(reason in message for message in error["fields"]["new_password"])
    user.refresh_from_db()
    assert user.password_change_required is True
    assert user.check_password(DEFAULT_PASSWORD)
    assert not OutstandingToken.objects.filter(user=user).exists()


def test_new_password_at_sign_in_is_refused_for_an_ordinary_account(user):
    response = APIClient().post(
        "/api/v1/auth/login/",
        {"login": user.username, "password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )

    assert "new_password" in assert_error(response, 400, "invalid")["fields"]
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_tokens_of_an_account_given_a_temporary_password_stop_working():
    # given: staff flag an account that has a session (Django admin)
    user = UserFactory()
    access = login(APIClient(), user.username).json()["access"]
    User.objects.filter(pk=user.pk).update(password_change_required=True)

    # when
    response = bearer(access).get(ME_URL)

    # then
    assert_error(response, 401, "account_unavailable")
