import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from auth_app import selectors
from auth_app.models import User
from tests.auth_app.factories import UserFactory
from tests.auth_app.helpers import ME_URL, REGISTER_URL, bearer, post_concurrently

GOOD = {"username": "Alice_1", "email": "  Alice@Example.COM ", "password": "violet-otter-canyon-42"}


def register(payload: dict):
    return APIClient().post(REGISTER_URL, payload, format="json")


@pytest.mark.django_db
def test_register_creates_a_user_with_the_user_role_and_signs_it_in():
    # when
    response = register({**GOOD, "display_name": "Alice"})

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"]["username"] == "Alice_1"
    assert body["user"]["email"] == "alice@example.com"
    assert body["user"]["display_name"] == "Alice"
    assert body["user"]["roles"] == ["User"]
    assert body["user"]["is_staff"] is False
    assert "password" not in body["user"]
    user = User.objects.get(username="Alice_1")
    assert user.check_password(GOOD["password"])
    assert OutstandingToken.objects.filter(user=user).count() == 1
    assert bearer(body["access"]).get(ME_URL).json()["id"] == str(user.pk)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("taken", "payload", "field"),
    [
        ({"username": "alice_1"}, {}, "username"),
        ({"email": "ALICE@example.com"}, {}, "email"),
        ({"username": "ALICE_1", "email": "alice@example.com"}, {}, "both"),
    ],
)
def test_register_refuses_a_taken_username_or_email_case_insensitively(taken, payload, field):
    # given
    UserFactory(**taken)
    before = User.objects.count()

    # when
    response = register({**GOOD, **payload})

    # then
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    expected = {"username", "email"} if field == "both" else {field}
    assert set(fields) == expected
    assert User.objects.count() == before


@pytest.mark.django_db
def test_a_deleted_users_name_and_address_can_be_registered_again():
    UserFactory(username="alice_1", email="alice@example.com", deleted=True)

    response = register(GOOD)

    assert response.status_code == 201
    assert User.all_objects.filter(username__iexact="alice_1").count() == 2


LONG = "x" * 151


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"username": None}, "username"),
        ({"email": None}, "email"),
        ({"password": None}, "password"),
        ({"username": 12345}, "username"),
        ({"username": ["alice"]}, "username"),
        ({"username": ""}, "username"),
        ({"username": "al"}, "username"),
        ({"username": LONG}, "username"),
        ({"username": "alice smith"}, "username"),
        ({"username": "alice@home"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"email": 42}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "qwertyuiop"}, "password"),
        ({"password": "48213975601"}, "password"),
        ({"password": 48213975601234}, "password"),
        ({"password": "p" * 129}, "password"),
        ({"password": "Alice_1Alice"}, "password"),
        ({"display_name": LONG}, "display_name"),
        ({"display_name": 7}, "display_name"),
    ],
)
def test_register_bad_input_is_a_400_with_field_errors_and_writes_nothing(change, field):
    # given
    payload = {**GOOD, **change}
    payload = {key: value for key, value in payload.items() if value is not None}

    # when
    response = register(payload)

    # then
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert all(isinstance(message, str) for message in error["fields"][field])
    assert not User.objects.exists()
    assert not OutstandingToken.objects.exists()


@pytest.mark.django_db
def test_register_with_a_body_that_is_not_an_object_is_a_400():
    response = APIClient().post(REGISTER_URL, ["alice"], format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not User.objects.exists()


@pytest.fixture
def first_identity_check_misses(monkeypatch):
    """The service's pre-check finds nothing (as if the other registration had not committed yet)."""
    real = selectors.user_identity_conflicts
    calls = []

    def first_check_misses(**kwargs):
        calls.append(kwargs)
        return {} if len(calls) == 1 else real(**kwargs)

    monkeypatch.setattr(selectors, "user_identity_conflicts", first_check_misses)


@pytest.mark.django_db
@pytest.mark.usefixtures("first_identity_check_misses")
def test_register_loses_cleanly_when_the_constraint_decides_after_the_check(monkeypatch):
    """The name was free when checked, then taken before the insert: the partial unique index decides."""
    # given: full_clean's constraint validation misses the other row too
    UserFactory(username="alice_1")
    monkeypatch.setattr(User, "validate_constraints", lambda self, exclude=None: None)

    # when
    response = register(GOOD)

    # then
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"username": [selectors.USERNAME_TAKEN]}
    assert User.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("first_identity_check_misses")
def test_register_maps_a_constraint_failure_of_full_clean_to_the_field():
    # given: full_clean's constraint validation sees the row the pre-check missed
    UserFactory(email="alice@example.com")

    # when
    response = register(GOOD)

    # then
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"email": [selectors.EMAIL_TAKEN]}
    assert User.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(
    "second",
    [
        {"username": "alice_1", "email": "other@example.com"},
        {"username": "someone_else", "email": "ALICE@example.com"},
    ],
)
def test_concurrent_duplicate_registrations_give_one_201_and_one_400(second):
    # when
    statuses = post_concurrently(REGISTER_URL, [GOOD, {**GOOD, **second}])

    # then
    assert sorted(statuses) == [201, 400]
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_registration_per_ip_throttle_is_not_bypassed_by_x_forwarded_for():
    # given: ten sign-ups from one address, each claiming another one in X-Forwarded-For
    for number in range(10):
        APIClient().post(
            REGISTER_URL,
            {"username": f"user{number}", "email": f"user{number}@example.com", "password": GOOD["password"]},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{number}",
        )

    # when
    response = APIClient().post(
        REGISTER_URL,
        {"username": "one_more", "email": "one_more@example.com", "password": GOOD["password"]},
        format="json",
        HTTP_X_FORWARDED_FOR="10.0.1.1",
    )

    # then
    assert response.status_code == 429
    assert not User.objects.filter(username="one_more").exists()
    assert User.objects.filter(username__startswith="user").count() == 10
