import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from auth_app.models import User
from tests.auth_app.factories import DEFAULT_PASSWORD, UserFactory
from tests.auth_app.helpers import LOGIN_URL, ME_URL, bearer, login


@pytest.mark.django_db
@pytest.mark.parametrize("identifier", ["ada", "ADA", "ada@example.com", " Ada@Example.com "])
def test_login_with_username_or_email_returns_a_token_pair(identifier):
    # given
    user = UserFactory(username="ada", email="ada@example.com")

    # when
    response = login(APIClient(), identifier)

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["user"]["id"] == str(user.pk)
    assert set(body) == {"user", "access", "refresh"}
    assert bearer(body["access"]).get(ME_URL).status_code == 200
    user.refresh_from_db()
    assert user.last_login is not None
    assert OutstandingToken.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_login_ignores_a_stale_authorization_header():
    user = UserFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert login(client, user.username).status_code == 200


def _refusals():
    """One refused login per reason, each against a fresh account: status, headers and bytes."""
    UserFactory(username="wrongpw")
    UserFactory(username="inactive", is_active=False)
    UserFactory(username="locked", locked=True)
    UserFactory(username="deleted", deleted=True)
    attempts = {
        "wrong password": ("wrongpw", "not-the-password"),
        "unknown user": ("nobody", DEFAULT_PASSWORD),
        "unknown e-mail": ("nobody@example.com", DEFAULT_PASSWORD),
        "inactive user": ("inactive", DEFAULT_PASSWORD),
        "locked user": ("locked", DEFAULT_PASSWORD),
        "deleted user": ("deleted", DEFAULT_PASSWORD),
    }
    return {reason: login(APIClient(), *credentials) for reason, credentials in attempts.items()}


@pytest.mark.django_db
def test_every_refused_login_looks_the_same():
    # when
    responses = _refusals()

    # then
    bodies = {reason: response.content for reason, response in responses.items()}
    assert len(set(bodies.values())) == 1, bodies
    assert {response.status_code for response in responses.values()} == {401}
    assert {response["WWW-Authenticate"] for response in responses.values()} == {'Bearer realm="api"'}
    assert responses["wrong password"].json() == {
        "error": {
            "code": "invalid_credentials",
            "message": "Unable to sign in with the given credentials.",
            "fields": {},
        }
    }


@pytest.mark.django_db
def test_five_wrong_passwords_lock_the_account_until_the_lock_expires(clock, settings):
    # given
    user = UserFactory()
    client = APIClient()
    for _ in range(settings.LOGIN_LOCKOUT_THRESHOLD):
        assert login(client, user.username, "wrong-password").status_code == 401
    locked_at = clock.now

    # when: the right password, while locked
    refused = login(client, user.username)

    # then
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_credentials"
    user.refresh_from_db()
    assert user.locked_until == locked_at + settings.LOGIN_LOCKOUT_DURATION

    # when: a moment before the lock expires, and then after it
    clock.advance(minutes=14, seconds=59)
    still_refused = login(client, user.username)
    clock.advance(seconds=2)
    accepted = login(client, user.username)

    # then
    assert still_refused.status_code == 401
    assert accepted.status_code == 200
    user.refresh_from_db()
    assert (user.failed_login_count, user.locked_until) == (0, None)


@pytest.mark.django_db
def test_wrong_passwords_while_locked_do_not_extend_the_lock(clock, settings):
    user = UserFactory(locked=True)
    locked_until = user.locked_until

    assert login(APIClient(), user.username, "wrong-password").status_code == 401

    user.refresh_from_db()
    assert user.locked_until == locked_until
    assert user.failed_login_count == 0


@pytest.mark.django_db
def test_failures_outside_the_window_do_not_add_up(clock, settings):
    # given: four failures, then the window passes
    user = UserFactory()
    for _ in range(settings.LOGIN_LOCKOUT_THRESHOLD - 1):
        login(APIClient(), user.username, "wrong-password")
    clock.advance(minutes=15, seconds=1)

    # when
    login(APIClient(), user.username, "wrong-password")

    # then
    user.refresh_from_db()
    assert user.locked_until is None
    assert user.failed_login_count == 1
    assert login(APIClient(), user.username).status_code == 200


@pytest.mark.django_db
def test_a_successful_login_resets_the_failure_count(settings):
    user = UserFactory()
    for _ in range(settings.LOGIN_LOCKOUT_THRESHOLD - 1):
        login(APIClient(), user.username, "wrong-password")

    assert login(APIClient(), user.username).status_code == 200
    login(APIClient(), user.username, "wrong-password")

    user.refresh_from_db()
    assert (user.failed_login_count, user.locked_until) == (1, None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"password": DEFAULT_PASSWORD}, "login"),
        ({"login": "ada"}, "password"),
        ({"login": 42, "password": DEFAULT_PASSWORD}, "login"),
        ({"login": "ada", "password": ["x"]}, "password"),
        ({"login": "a" * 255, "password": DEFAULT_PASSWORD}, "login"),
        ({"login": "ada", "password": "p" * 129}, "password"),
        ({"login": "", "password": DEFAULT_PASSWORD}, "login"),
    ],
)
def test_login_bad_input_is_a_400_with_field_errors(payload, field):
    user = UserFactory(username="ada")

    response = APIClient().post(LOGIN_URL, payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    user.refresh_from_db()
    assert user.failed_login_count == 0
    assert not OutstandingToken.objects.exists()


@pytest.mark.django_db
def test_login_is_throttled_per_ip():
    user = UserFactory()
    client = APIClient()
    for _ in range(10):
        login(client, f"nobody-{_}", "wrong-password")

    response = login(client, user.username)

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db
def test_login_is_throttled_per_account_across_addresses():
    # given: ten attempts at one account from ten addresses (locking aside: an unknown name)
    for number in range(10):
        login(APIClient(), "Target", "wrong-password", REMOTE_ADDR=f"10.0.0.{number}")

    # when
    response = login(APIClient(), "target", "wrong-password", REMOTE_ADDR="10.0.1.1")
    other = login(APIClient(), "someone-else", "wrong-password", REMOTE_ADDR="10.0.1.1")

    # then
    assert response.status_code == 429
    assert other.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("earlier_sessions", [0, 5])
def test_login_query_count_is_pinned(django_assert_num_queries, earlier_sessions):
    """Look up the user, record the login, persist the refresh token, read the profile, and write the
    sign-in to the audit trail."""
    user = UserFactory()
    for _ in range(earlier_sessions):
        login(APIClient(), user.username)
    client = APIClient()

    with django_assert_num_queries(7):
        response = login(client, user.username)

    assert response.status_code == 200
    assert User.objects.get(pk=user.pk).failed_login_count == 0


@pytest.mark.django_db
def test_the_per_ip_throttle_is_not_bypassed_by_x_forwarded_for():
    # given: ten failed attempts from one address, each claiming another one in X-Forwarded-For
    for number in range(10):
        login(APIClient(), f"nobody-{number}", "wrong-password", HTTP_X_FORWARDED_FOR=f"10.0.0.{number}")

    # when
    response = login(APIClient(), "nobody-else", "wrong-password", HTTP_X_FORWARDED_FOR="10.0.1.1")

    # then: no proxy is configured (NUM_PROXIES=0), so the header is ignored
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_address_it_saw_is_throttled(settings):
    # given: one proxy in front; it appends the address it saw to what the client sent
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for number in range(10):
        login(
            APIClient(),
            f"nobody-{number}",
            "wrong-password",
            REMOTE_ADDR="192.0.2.10",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{number}, 198.51.100.1",
        )

    # when
    spoofing = login(
        APIClient(),
        "nobody-else",
        "wrong-password",
        REMOTE_ADDR="192.0.2.10",
        HTTP_X_FORWARDED_FOR="10.0.1.1, 198.51.100.1",
    )
    another_client = login(
        APIClient(),
        "nobody-else",
        "wrong-password",
        REMOTE_ADDR="192.0.2.10",
        HTTP_X_FORWARDED_FOR="198.51.100.2",
    )

    # then
    assert spoofing.status_code == 429
    assert another_client.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        {"username": "ada"},
        {"email": "Ada@Example.com"},
        {"username": "", "email": "ada@example.com"},
        {"login": "ada", "username": "ADA"},
    ],
)
def test_login_takes_the_account_as_username_or_email_as_other_jwt_clients_send_it(payload):
    # given
    user = UserFactory(username="ada", email="ada@example.com")

    # when
    response = APIClient().post(LOGIN_URL, {**payload, "password": DEFAULT_PASSWORD}, format="json")

    # then
    assert response.status_code == 200, response.content
    assert response.json()["user"]["id"] == str(user.pk)
    assert bearer(response.json()["access"]).get(ME_URL).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "", "email": ""}, "login"),
        ({"username": 42}, "username"),
        ({"email": "a" * 255}, "email"),
        ({"login": "ada", "email": "someone@example.com"}, "email"),
    ],
)
def test_login_aliases_bad_input_is_a_400_and_signs_nobody_in(payload, field):
    user = UserFactory(username="ada", email="ada@example.com")

    response = APIClient().post(LOGIN_URL, {**payload, "password": DEFAULT_PASSWORD}, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    user.refresh_from_db()
    assert user.last_login is None
    assert not OutstandingToken.objects.exists()


@pytest.mark.django_db
def test_login_per_account_throttle_counts_the_aliases_as_the_same_account():
    # given: ten attempts at one account by `login`, `username` and `email`, from ten addresses
    for number in range(10):
        field = ("login", "username", "email")[number % 3]
        APIClient().post(
            LOGIN_URL, {field: "Target", "password": "wrong"}, format="json", REMOTE_ADDR=f"10.0.0.{number}"
        )

    # when
    response = APIClient().post(
        LOGIN_URL, {"username": "target", "password": "wrong"}, format="json", REMOTE_ADDR="10.0.1.1"
    )

    # then
    assert response.status_code == 429
