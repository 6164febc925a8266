import re
from datetime import timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from rest_framework.test import APIClient

from auth_app.models import User
from tests.auth_app.factories import DEFAULT_PASSWORD, UserFactory
from tests.auth_app.helpers import (
    ME_URL,
    PASSWORD_CHANGE_URL,
    PASSWORD_RESET_CONFIRM_URL,
    PASSWORD_RESET_URL,
    REFRESH_URL,
    bearer,
    login,
    signed_in,
)

NEW_PASSWORD = "maroon-lantern-harbour-77"


def refresh(token):
    return APIClient().post(REFRESH_URL, {"refresh": token}, format="json")


# --- Change -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_change_password_revokes_every_session_and_returns_a_fresh_pair():
    # given: two sessions
    user = UserFactory()
    current, other = signed_in(user), signed_in(user)

    # when
    response = bearer(current["access"]).post(
        PASSWORD_CHANGE_URL, {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )

    # then
    assert response.status_code == 200, response.content
    fresh = response.json()
    assert refresh(current["refresh"]).status_code == 401
    assert refresh(other["refresh"]).status_code == 401
    assert bearer(current["access"]).get(ME_URL).status_code == 401
    assert bearer(fresh["access"]).get(ME_URL).status_code == 200
    assert refresh(fresh["refresh"]).status_code == 200
    assert login(APIClient(), user.username, NEW_PASSWORD).status_code == 200
    assert login(APIClient(), user.username, DEFAULT_PASSWORD).status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"new_password": NEW_PASSWORD}, "old_password"),
        ({"old_password": DEFAULT_PASSWORD}, "new_password"),
        ({"old_password": "wrong-password", "new_password": NEW_PASSWORD}, "old_password"),
        ({"old_password": DEFAULT_PASSWORD, "new_password": "short"}, "new_password"),
        ({"old_password": DEFAULT_PASSWORD, "new_password": "qwertyuiop"}, "new_password"),
        ({"old_password": DEFAULT_PASSWORD, "new_password": DEFAULT_PASSWORD}, "new_password"),
        ({"old_password": DEFAULT_PASSWORD, "new_password": 1234567890123}, "new_password"),
        ({"old_password": DEFAULT_PASSWORD, "new_password": "n" * 129}, "new_password"),
    ],
)
def test_change_password_bad_input_is_a_400_and_changes_nothing(payload, field):
    # given
    user = UserFactory()
    session = signed_in(user)

    # when
    response = bearer(session["access"]).post(PASSWORD_CHANGE_URL, payload, format="json")

    # then
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert User.objects.get(pk=user.pk).check_password(DEFAULT_PASSWORD)
    assert refresh(session["refresh"]).status_code == 200


@pytest.mark.django_db
def test_change_password_needs_authentication(anon_client):
    response = anon_client.post(
        PASSWORD_CHANGE_URL, {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )

    assert response.status_code == 401


# --- Reset ------------------------------------------------------------------------------------------------


def request_reset(email, capture):
    with capture(execute=True):
        return APIClient().post(PASSWORD_RESET_URL, {"email": email}, format="json")


def link_in(message) -> tuple[str, str]:
    match = re.search(r"uid=([\w-]+)&token=([\w-]+)", message.body)
    assert match, message.body
    return match.group(1), match.group(2)


def confirm(uid, token, password=NEW_PASSWORD):
    return APIClient().post(
        PASSWORD_RESET_CONFIRM_URL, {"uid": uid, "token": token, "new_password": password}, format="json"
    )


@pytest.mark.django_db
def test_reset_request_answers_the_same_for_known_and_unknown_addresses(django_capture_on_commit_callbacks):
    # given
    UserFactory(email="known@example.com")
    UserFactory(email="inactive@example.com", is_active=False)

    # when
    known = request_reset("Known@Example.com", django_capture_on_commit_callbacks)
    unknown = request_reset("unknown@example.com", django_capture_on_commit_callbacks)
    inactive = request_reset("inactive@example.com", django_capture_on_commit_callbacks)

    # then
    assert known.status_code == unknown.status_code == inactive.status_code == 202
    assert known.content == unknown.content == inactive.content
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["known@example.com"]
    uid, token = link_in(mail.outbox[0])
    assert token.encode() not in known.content
    assert uid.encode() not in known.content


@pytest.mark.django_db
def test_reset_link_sets_a_new_password_once_and_ends_every_session(django_capture_on_commit_callbacks):
    # given
    user = UserFactory(email="ada@example.com")
    session = signed_in(user)
    request_reset("ada@example.com", django_capture_on_commit_callbacks)
    uid, token = link_in(mail.outbox[0])
    assert mail.outbox[0].body.startswith("Hello")

    # when
    used = confirm(uid, token)
    reused = confirm(uid, token, "another-fresh-password-9")

    # then
    assert used.status_code == 204
    assert reused.status_code == 400
    assert "token" in reused.json()["error"]["fields"]
    assert refresh(session["refresh"]).status_code == 401
    assert bearer(session["access"]).get(ME_URL).status_code == 401
    assert login(APIClient(), "ada@example.com", NEW_PASSWORD).status_code == 200


@pytest.mark.django_db
def test_reset_lifts_a_lockout(django_capture_on_commit_callbacks):
    user = UserFactory(email="ada@example.com", locked=True)
    request_reset("ada@example.com", django_capture_on_commit_callbacks)

    assert confirm(*link_in(mail.outbox[0])).status_code == 204

    assert login(APIClient(), user.username, NEW_PASSWORD).status_code == 200


@pytest.mark.django_db
def test_reset_link_expires(django_capture_on_commit_callbacks, monkeypatch, settings):
    # given
    UserFactory(email="ada@example.com")
    request_reset("ada@example.com", django_capture_on_commit_callbacks)
    uid, token = link_in(mail.outbox[0])
    issued = default_token_generator._now()

    # when: the clock of the token generator moves past PASSWORD_RESET_TIMEOUT
    later = issued + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)
    response = confirm(uid, token)

    # then
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "token": ["The password reset link is invalid or has expired."]
    }
    assert login(APIClient(), "ada@example.com").status_code == 200


@pytest.mark.django_db
def test_reset_request_is_throttled_per_address(django_capture_on_commit_callbacks):
    UserFactory(email="ada@example.com")
    for number in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            APIClient().post(
                PASSWORD_RESET_URL,
                {"email": "ada@example.com"},
                format="json",
                REMOTE_ADDR=f"10.0.0.{number}",
            )

    response = APIClient().post(PASSWORD_RESET_URL, {"email": "ADA@example.com"}, format="json")

    assert response.status_code == 429
    assert len(mail.outbox) == 5


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "email"),
        ({"email": "nope"}, "email"),
        ({"email": 5}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
    ],
)
def test_reset_request_bad_input_is_a_400(payload, field, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post(PASSWORD_RESET_URL, payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert mail.outbox == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda uid, token: {"uid": "bm9wZQ", "token": token}, "token"),
        (lambda uid, token: {"uid": "!!", "token": token}, "token"),
        (lambda uid, token: {"uid": uid, "token": "1-abc"}, "token"),
        (lambda uid, token: {"uid": uid, "token": token, "new_password": "short"}, "new_password"),
        (lambda uid, token: {"uid": uid, "token": token, "new_password": "qwertyuiop"}, "new_password"),
        (lambda uid, token: {"uid": uid}, "token"),
        (lambda uid, token: {"token": token}, "uid"),
        (lambda uid, token: {"uid": 5, "token": token}, "uid"),
        (lambda uid, token: {"uid": uid, "token": "t" * 129}, "token"),
    ],
)
def test_reset_confirm_bad_input_is_a_400_and_changes_nothing(
    mutate, field, django_capture_on_commit_callbacks
):
    # given
    user = UserFactory(email="ada@example.com")
    request_reset("ada@example.com", django_capture_on_commit_callbacks)
    uid, token = link_in(mail.outbox[0])
    payload = {"new_password": NEW_PASSWORD, **mutate(uid, token)}

    # when
    response = APIClient().post(PASSWORD_RESET_CONFIRM_URL, payload, format="json")

    # then
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert User.objects.get(pk=user.pk).check_password(DEFAULT_PASSWORD)
    assert confirm(uid, token).status_code == 204  # the link still works afterwards
