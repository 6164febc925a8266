import pytest
from django.contrib.auth.models import Group

from auth_app.models import User
from tests.auth_app.factories import DEFAULT_PASSWORD, UserFactory
from tests.auth_app.helpers import ME_URL


@pytest.mark.django_db
def test_me_returns_the_own_profile_with_roles_and_an_etag(user, api_client):
    # given
    user.groups.add(Group.objects.get(name="User"))

    # when
    response = api_client.get(ME_URL)

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(user.pk)
    assert body["username"] == user.username
    assert body["email"] == user.email
    assert body["roles"] == ["User"]
    assert (body["is_staff"], body["is_active"]) == (False, True)
    assert "password" not in body
    assert response["ETag"] == f'"{user.version}"'


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "patch"])
def test_me_needs_authentication(anon_client, method):
    response = getattr(anon_client, method)(ME_URL, {}, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.django_db
@pytest.mark.parametrize("extra_roles", [0, 2])
def test_me_query_count_is_pinned(user, api_client, django_assert_num_queries, extra_roles):
    """One query authenticates, one reads the profile with its roles, whatever their number."""
    user.groups.add(Group.objects.get(name="User"))
    for number in range(extra_roles):
        user.groups.add(Group.objects.create(name=f"Role {number}"))

    with django_assert_num_queries(2):
        response = api_client.get(ME_URL)

    assert len(response.json()["roles"]) == 1 + extra_roles


@pytest.mark.django_db
def test_patch_me_changes_the_profile_and_bumps_the_version(user, api_client):
    # given
    version = user.version

    # when
    response = api_client.patch(
        ME_URL,
        {"display_name": "Ada L.", "preferences": {"theme": "dark"}, "username": "Ada_L"},
        format="json",
        HTTP_IF_MATCH=f'"{version}"',
    )

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["display_name"], body["preferences"], body["username"]) == (
        "Ada L.",
        {"theme": "dark"},
        "Ada_L",
    )
    assert body["version"] == version + 1
    assert response["ETag"] == f'"{version + 1}"'
    user.refresh_from_db()
    assert (user.username, user.display_name, user.preferences) == ("Ada_L", "Ada L.", {"theme": "dark"})


@pytest.mark.django_db
def test_patch_me_changes_the_email_with_the_current_password(user, api_client):
    response = api_client.patch(
        ME_URL, {"email": " New@Example.com", "current_password": DEFAULT_PASSWORD}, format="json"
    )

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.email == "new@example.com"


@pytest.mark.django_db
def test_patch_me_can_change_the_case_of_the_own_username(user, api_client):
    response = api_client.patch(ME_URL, {"username": user.username.upper()}, format="json")

    assert response.status_code == 200
    assert response.json()["username"] == user.username.upper()


@pytest.mark.django_db
def test_patch_me_with_a_stale_etag_is_a_412_and_writes_nothing(user, api_client):
    response = api_client.patch(ME_URL, {"display_name": "Late"}, format="json", HTTP_IF_MATCH='"999"')

    assert response.status_code == 412
    assert response.json()["error"]["code"] == "stale_version"
    user.refresh_from_db()
    assert user.display_name != "Late"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"roles": ["Admin"]}, "roles"),
        ({"is_staff": True}, "is_staff"),
        ({"is_active": False}, "is_active"),
        ({"is_superuser": True}, "is_superuser"),
        ({"locked_until": None}, "locked_until"),
        ({"failed_login_count": 0}, "failed_login_count"),
        ({"version": 1}, "version"),
        ({"id": "0190d3b5-0000-7000-8000-000000000000"}, "id"),
        ({"display_name": "Fine", "is_staff": True}, "is_staff"),
        ({"username": "taken_name"}, "username"),
        ({"username": "TAKEN_NAME"}, "username"),
        ({"email": "TAKEN@example.com", "current_password": DEFAULT_PASSWORD}, "email"),
        ({"email": "new@example.com"}, "current_password"),
        ({"email": "new@example.com", "current_password": "wrong-password"}, "current_password"),
        ({"email": "not-an-email", "current_password": DEFAULT_PASSWORD}, "email"),
        ({"username": 42}, "username"),
        ({"username": "a b"}, "username"),
        ({"username": "x" * 151}, "username"),
        ({"display_name": "x" * 151}, "display_name"),
        ({"display_name": None}, "display_name"),
        ({"preferences": ["dark"]}, "preferences"),
        ({"preferences": "dark"}, "preferences"),
        ({"preferences": {"blob": "x" * 17000}}, "preferences"),
    ],
)
def test_patch_me_bad_input_is_a_400_and_writes_nothing(user, api_client, payload, field):
    # given
    UserFactory(username="taken_name", email="taken@example.com")
    before = User.objects.values().get(pk=user.pk)

    # when
    response = api_client.patch(ME_URL, payload, format="json")

    # then
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["fields"]
    assert User.objects.values().get(pk=user.pk) == before


@pytest.mark.django_db
def test_patch_me_names_read_only_and_unknown_fields_differently(api_client):
    response = api_client.patch(ME_URL, {"is_staff": True, "colour": "red"}, format="json")

    assert response.json()["error"]["fields"] == {
        "colour": ["Unknown field."],
        "is_staff": ["This field is read-only."],
    }


@pytest.mark.django_db
def test_patch_me_takes_a_name_a_deleted_user_had(user, api_client):
    UserFactory(username="ghost", deleted=True)

    response = api_client.patch(ME_URL, {"username": "ghost"}, format="json")

    assert response.status_code == 200


@pytest.mark.django_db
def test_an_empty_patch_changes_nothing(user, api_client):
    response = api_client.patch(ME_URL, {}, format="json")

    assert response.status_code == 200
    assert response.json()["version"] == user.version
