import pytest
from django.contrib.auth.models import Group
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from auth_app import services
from core.exceptions import ValidationFailed
from core.permissions import IsAdminRole
from tests.auth_app.factories import UserFactory
from tests.auth_app.helpers import bearer, signed_in


class AdminOnlyView(APIView):
    permission_classes = (IsAdminRole,)

    def get(self, request):
        return Response({"ok": True})


def call_admin_view(access: str):
    request = APIRequestFactory().get("/admin-only/", HTTP_AUTHORIZATION=f"Bearer {access}")
    return AdminOnlyView.as_view()(request)


@pytest.mark.django_db
def test_the_admin_role_makes_staff_and_losing_it_takes_staff_away():
    # given
    user = UserFactory()

    # when / then
    services.user_roles_set(user=user, role_names=["User", "Admin"])
    user.refresh_from_db()
    assert user.is_staff
    assert set(user.groups.values_list("name", flat=True)) == {"User", "Admin"}

    services.user_roles_set(user=user, role_names=["User"])
    user.refresh_from_db()
    assert not user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["User"]


@pytest.mark.django_db
def test_a_superuser_stays_staff_without_the_admin_role(superuser):
    services.user_roles_set(user=superuser, role_names=[])

    superuser.refresh_from_db()
    assert superuser.is_staff


@pytest.mark.django_db
def test_unknown_roles_are_refused_and_nothing_changes():
    user = UserFactory()
    user.groups.add(Group.objects.get(name="User"))

    with pytest.raises(ValidationFailed) as refused:
        services.user_roles_set(user=user, role_names=["Admin", "Wizard"])

    assert refused.value.fields == {"roles": ["Unknown role: Wizard."]}
    assert list(user.groups.values_list("name", flat=True)) == ["User"]
    assert not user.is_staff


@pytest.mark.django_db
def test_a_revoked_admin_loses_access_on_the_next_request():
    # given: an admin with a valid access token
    admin = UserFactory()
    services.user_roles_set(user=admin, role_names=["User", "Admin"])
    access = signed_in(admin)["access"]
    assert call_admin_view(access).status_code == 200

    # when
    services.user_roles_set(user=admin, role_names=["User"])

    # then: same token, refused at once
    assert call_admin_view(access).status_code == 403
    assert bearer(access).get("/api/v1/auth/me/").json()["roles"] == ["User"]


@pytest.mark.django_db
def test_the_default_role_is_recreated_when_it_was_removed():
    Group.objects.filter(name="User").delete()
    user = UserFactory()

    services.user_role_assign_default(user=user)

    assert list(user.groups.values_list("name", flat=True)) == ["User"]
