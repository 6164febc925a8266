from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from auth_app.models import User
from tests.auth_app.factories import UserFactory
from tests.auth_app.helpers import (
    LOGOUT_ALL_URL,
    LOGOUT_URL,
    ME_URL,
    REFRESH_URL,
    bearer,
    post_concurrently,
    signed_in,
)


def refresh(token):
    return APIClient().post(REFRESH_URL, {"refresh": token}, format="json")


def logout(token):
    return APIClient().post(LOGOUT_URL, {"refresh": token}, format="json")


@pytest.mark.django_db
def test_refresh_rotates_and_a_rotated_token_is_refused():
    # given
    session = signed_in(UserFactory())

    # when
    rotated = refresh(session["refresh"])
    reused = refresh(session["refresh"])

    # then
    assert rotated.status_code == 200
    pair = rotated.json()
    assert set(pair) == {"access", "refresh"}
    assert pair["refresh"] != session["refresh"]
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "token_not_valid"
    assert reused["WWW-Authenticate"] == 'Bearer realm="api"'
    assert bearer(pair["access"]).get(ME_URL).status_code == 200
    assert refresh(pair["refresh"]).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [{}, {"refresh": 42}, {"refresh": "garbage"}, {"refresh": ""}, {"refresh": "x" * 5000}],
)
def test_refresh_bad_input_is_refused_in_the_error_shape(payload):
    response = APIClient().post(REFRESH_URL, payload, format="json")

    assert response.status_code in {400, 401}
    error = response.json()["error"]
    assert error["code"] == ("invalid" if response.status_code == 400 else "token_not_valid")
    assert not BlacklistedToken.objects.exists()


@pytest.mark.django_db
def test_an_access_token_is_not_a_refresh_token():
    session = signed_in(UserFactory())

    assert refresh(session["access"]).status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [{"is_active": False}, {"deleted_at": "now"}, {"locked_until": "later"}],
    ids=["deactivated", "deleted", "locked"],
)
def test_an_unusable_accounts_tokens_stop_working_on_the_next_request(change):
    # given: a signed-in user whose access token works
    user = UserFactory()
    session = signed_in(user)
    client = bearer(session["access"])
    assert client.get(ME_URL).status_code == 200

    # when: an admin deactivates, deletes or locks the account
    values = {
        key: {"now": timezone.now(), "later": timezone.now() + timedelta(minutes=5)}.get(value, value)
        for key, value in change.items()
    }
    User.all_objects.filter(pk=user.pk).update(**values)

    # then
    response = client.get(ME_URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "account_unavailable"
    assert refresh(session["refresh"]).status_code == 401
    assert not BlacklistedToken.objects.exists()


@pytest.mark.django_db
def test_logout_blacklists_the_refresh_token():
    # given
    session = signed_in(UserFactory())

    # when
    response = logout(session["refresh"])

    # then
    assert response.status_code == 204
    assert refresh(session["refresh"]).status_code == 401
    assert logout(session["refresh"]).status_code == 401


@pytest.mark.django_db
def test_logout_works_without_an_access_token_and_keeps_other_sessions():
    user = UserFactory()
    first, second = signed_in(user), signed_in(user)

    assert logout(first["refresh"]).status_code == 204

    assert refresh(second["refresh"]).status_code == 200


@pytest.mark.django_db
def test_logout_everywhere_ends_every_session_of_the_caller_only():
    # given
    user, other = UserFactory(), UserFactory()
    sessions = [signed_in(user) for _ in range(3)]
    others = signed_in(other)

    # when
    response = bearer(sessions[0]["access"]).post(LOGOUT_ALL_URL)

    # then
    assert response.status_code == 204
    assert [refresh(session["refresh"]).status_code for session in sessions] == [401, 401, 401]
    assert refresh(others["refresh"]).status_code == 200


@pytest.mark.django_db
def test_logout_everywhere_needs_an_access_token():
    response = APIClient().post(LOGOUT_ALL_URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header", ["Bearer garbage", "Bearer a b", "Bearer"], ids=["garbage", "three-parts", "no-token"]
)
def test_a_bad_access_token_is_a_401_in_the_error_shape(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get(ME_URL)

    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert "{" not in error["message"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_refreshes_of_one_token_give_one_new_pair():
    # given
    session = signed_in(UserFactory())

    # when
    statuses = post_concurrently(REFRESH_URL, [{"refresh": session["refresh"]}] * 2)

    # then
    assert sorted(statuses) == [200, 401]
    assert OutstandingToken.objects.count() == 2
    assert BlacklistedToken.objects.count() == 1
