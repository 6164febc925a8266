import logging

import pytest
from rest_framework.test import APIClient

from tests.auth_app.factories import DEFAULT_PASSWORD, UserFactory
from tests.auth_app.helpers import PASSWORD_CHANGE_URL, bearer, login, signed_in


@pytest.fixture
def security_events(caplog):
    """The events that went through the one security-event funnel, in order."""
    caplog.set_level(logging.INFO, logger="auth_app.security")

    def events() -> list[tuple[str, str | None]]:
        return [
            (record.security_event, record.user_id)
            for record in caplog.records
            if record.name == "auth_app.security"
        ]

    return events


@pytest.mark.django_db
def test_sign_in_lockout_and_password_change_pass_through_the_security_event_funnel(
    security_events, settings
):
    # given
    user = UserFactory()
    user_id = str(user.pk)

    # when
    for _ in range(settings.LOGIN_LOCKOUT_THRESHOLD):
        login(APIClient(), user.username, "wrong-password")
    login(APIClient(), "nobody", "wrong-password")

    # then
    assert security_events() == [
        *[("login_failed", user_id)] * settings.LOGIN_LOCKOUT_THRESHOLD,
        ("account_locked", user_id),
        ("login_failed", None),
    ]


@pytest.mark.django_db
def test_a_password_change_is_a_security_event(security_events):
    user = UserFactory()
    access = signed_in(user)["access"]

    bearer(access).post(
        PASSWORD_CHANGE_URL,
        {"old_password": DEFAULT_PASSWORD, "new_password": "maroon-lantern-harbour-77"},
        format="json",
    )

    assert security_events() == [("login_succeeded", str(user.pk)), ("password_changed", str(user.pk))]
