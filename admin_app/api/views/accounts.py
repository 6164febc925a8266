"""Staff views of accounts: users (status, roles, locks, sessions, deletion) and roles.

Each action validates, calls one auth_app service, serializes; the audit trail records what the
service changed (see core.audit).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from admin_app.api.filters import UserFilter
from admin_app.api.serializers import (
    AdminUserSerializer,
    RoleCreateSerializer,
    RoleModelAccessSerializer,
    RoleModelAccessUpdateSerializer,
    RoleSerializer,
    SessionsRevokedSerializer,
    UserApiQuotaSerializer,
    UserCreateSerializer,
    UserLockSerializer,
    UserRolesSerializer,
)
from admin_app.api.views.base import AdminViewSet
from auth_app import selectors as account_selectors
from auth_app import services as account_services
from auth_app.models import User
from auth_app.services import api_keys as api_key_services
from core.api import IF_MATCH, NO_CONTENT
from models_app import selectors as catalogue_selectors
from models_app import services as catalogue_services

# --- users -------------------------------------------------------------------------------------------

USER_ACTION: dict[str, Any] = {"parameters": [IF_MATCH], "request": None, "responses": AdminUserSerializer}


@extend_schema_view(
    list=extend_schema(
        summary="List users (alive unless `deleted=true`), with search and filters",
        description="`status=pending` lists the registrations waiting for approval "
        "(`REGISTRATION_MODE=approval`); rejected accounts are in the trash: `deleted=true&status=rejected`.",
    ),
    retrieve=extend_schema(summary="A user (deleted ones too)"),
    create=extend_schema(
        summary="Create an account (with a temporary password, or a link to choose one)",
        description="Works whatever `REGISTRATION_MODE` says. Exactly one of `temporary_password` (the "
        "owner must replace it at the first sign-in: login answers 403 `password_change_required` until "
        "it is sent again with `new_password`) and `send_password_link: true` (the owner gets an e-mail "
        "with a password-reset link; 503 while e-mails cannot be queued).",
        request=UserCreateSerializer,
        responses={201: AdminUserSerializer},
    ),
    password_link=extend_schema(
        summary="E-mail the owner a link to choose a password (an invitation; 503 while e-mails cannot "
        "be queued)",
        request=None,
        responses=AdminUserSerializer,
    ),
    approve=extend_schema(
        summary="Approve a pending account (it becomes active; 409 `not_pending` otherwise)", **USER_ACTION
    ),
    reject=extend_schema(
        summary="Reject a pending account (marked rejected and moved to the trash; 409 `not_pending` "
        "otherwise)",
        **USER_ACTION,
    ),
    roles=extend_schema(
        summary="Replace the user's roles (409 when it would leave no administrator)",
        parameters=[IF_MATCH],
        request=UserRolesSerializer,
        responses=AdminUserSerializer,
    ),
    activate=extend_schema(summary="Activate an account", **USER_ACTION),
    deactivate=extend_schema(summary="Deactivate an account (not your own)", **USER_ACTION),
    lock=extend_schema(
        summary="Lock an account for N minutes (not your own)",
        parameters=[IF_MATCH],
        request=UserLockSerializer,
        responses=AdminUserSerializer,
    ),
    unlock=extend_schema(summary="Unlock an account and forget its failed sign-ins", **USER_ACTION),
    destroy=extend_schema(
        summary="Delete an account (to the trash; not your own)", parameters=[IF_MATCH], responses=NO_CONTENT
    ),
    restore=extend_schema(summary="Restore a deleted account", **USER_ACTION),
    api_quota=extend_schema(
        summary="Set the user's API quotas (requests per minute, tokens per day)",
        description="What the user's API keys without limits of their own and the user's signed-in use "
        "of the compatible endpoints share. null: the default (API_KEY_REQUESTS_PER_MINUTE, "
        "API_KEY_TOKENS_PER_DAY); 0: unlimited; an absent field stays as it is. In the audit trail.",
        parameters=[IF_MATCH],
        request=UserApiQuotaSerializer,
        responses=AdminUserSerializer,
    ),
    logout=extend_schema(
        summary="Log the user out everywhere (every refresh token revoked)",
        request=None,
        responses=SessionsRevokedSerializer,
    ),
)
class UserAdminViewSet(AdminViewSet):
    serializer_class = AdminUserSerializer
    input_serializer_classes = {
        "create": UserCreateSerializer,
        "roles": UserRolesSerializer,
        "lock": UserLockSerializer,
        "api_quota": UserApiQuotaSerializer,
    }
    filterset_class = UserFilter

    def owned_queryset(self) -> QuerySet[User]:
        return account_selectors.users_for_admin()

    def get_object(self) -> User:
        # Deleted users have a detail page too: no list filters here.
        return account_selectors.user_get_for_admin(user_id=self.kwargs["pk"])

    def _respond_with(self, user: User) -> Response:
        return self.respond(account_selectors.user_get_for_admin(user_id=user.pk))

    def create(self, request, *args, **kwargs) -> Response:
        data = self.validated_input()
        user = account_services.user_create(
            actor=request.user,
            username=data["username"],
            email=data["email"],
            display_name=data["display_name"],
            role_names=data.get("roles"),
            temporary_password=data.get("temporary_password"),
            send_password_link=data["send_password_link"],
        )
        return self.respond(
            account_selectors.user_get_for_admin(user_id=user.pk), status_code=status.HTTP_201_CREATED
        )

    @action(detail=True, methods=["post"], url_path="password-link")
    def password_link(self, request, pk=None) -> Response:
        user = account_services.user_password_link_send(actor=request.user, user=self.get_object())
        return self._respond_with(user)

    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None) -> Response:
        user = account_services.user_approve(
            actor=request.user, user=self.get_object(), expected_version=self.expected_version
        )
        return self._respond_with(user)

    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None) -> Response:
        user = account_services.user_reject(
            actor=request.user, user=self.get_object(), expected_version=self.expected_version
        )
        return self._respond_with(user)

    @action(detail=True, methods=["put"])
    def roles(self, request, pk=None) -> Response:
        user = account_services.user_roles_replace(
            actor=request.user,
            user=self.get_object(),
            role_names=self.validated_input()["roles"],
            expected_version=self.expected_version,
        )
        return self._respond_with(user)

    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None) -> Response:
        user = account_services.user_set_active(
            actor=request.user, user=self.get_object(), is_active=True, expected_version=self.expected_version
        )
        return self._respond_with(user)

    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None) -> Response:
        user = account_services.user_set_active(
            actor=request.user,
            user=self.get_object(),
            is_active=False,
            expected_version=self.expected_version,
        )
        return self._respond_with(user)

    @action(detail=True, methods=["post"])
    def lock(self, request, pk=None) -> Response:
        user = account_services.user_lock(
            actor=request.user,
            user=self.get_object(),
            minutes=self.validated_input()["minutes"],
            expected_version=self.expected_version,
        )
        return self._respond_with(user)

    @action(detail=True, methods=["post"])
    def unlock(self, request, pk=None) -> Response:
        user = account_services.user_unlock(
            actor=request.user, user=self.get_object(), expected_version=self.expected_version
        )
        return self._respond_with(user)

    def destroy(self, request, *args, **kwargs) -> Response:
        account_services.user_soft_delete(
            actor=request.user, user=self.get_object(), expected_version=self.expected_version
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None) -> Response:
        user = account_services.user_restore(
            actor=request.user, user=self.get_object(), expected_version=self.expected_version
        )
        return self._respond_with(user)

    @action(detail=True, methods=["put"], url_path="api-quota")
    def api_quota(self, request, pk=None) -> Response:
        user = api_key_services.user_api_quota_set(
            user=self.get_object(), expected_version=self.expected_version, **self.validated_input()
        )
        return self._respond_with(user)

    @action(detail=True, methods=["post"])
    def logout(self, request, pk=None) -> Response:
        revoked = account_services.user_sessions_revoke(actor=request.user, user=self.get_object())
        return Response(SessionsRevokedSerializer({"revoked": revoked}).data)


# --- roles -------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List roles with how many users hold each"),
    retrieve=extend_schema(summary="A role with how many users hold it"),
    create=extend_schema(
        summary="Create a role", request=RoleCreateSerializer, responses={201: RoleSerializer}
    ),
    destroy=extend_schema(
        summary="Delete a role (409 while anyone holds it; User and Admin stay)", responses=NO_CONTENT
    ),
)
class RoleAdminViewSet(AdminViewSet):
    serializer_class = RoleSerializer
    input_serializer_classes = {
        "create": RoleCreateSerializer,
        "model_access": RoleModelAccessUpdateSerializer,
    }
    lookup_value_converter = "int"
    http_method_names = ["get", "post", "put", "delete", "head", "options"]

    def owned_queryset(self) -> QuerySet[Group]:
        return account_selectors.roles_with_member_counts()

    def create(self, request, *args, **kwargs) -> Response:
        role = account_services.role_create(name=self.validated_input()["name"])
        return self.respond(role, status_code=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs) -> Response:
        account_services.role_delete(role=account_selectors.role_get(role_id=self.kwargs["pk"]))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["GET"],
        summary="Which models the role may use",
        description="No entries (`restricted: false`): every published model. A user may use a model "
        "when any of their roles allows it.",
        responses=RoleModelAccessSerializer,
    )
    @extend_schema(
        methods=["PUT"],
        summary="Set which models the role may use (both lists empty: every published model)",
        description="Replaces the role's entries with these models and tags (a role with tags may use "
        "every model carrying one of them). Unknown ids are a 400 and nothing changes. Each entry "
        "added or removed is in the audit trail (`models_app.rolemodelaccess`).",
        request=RoleModelAccessUpdateSerializer,
        responses=RoleModelAccessSerializer,
    )
    @action(detail=True, methods=["get", "put"], url_path="model-access")
    def model_access(self, request, pk=None) -> Response:
        role = account_selectors.role_get(role_id=self.kwargs["pk"])
        if request.method == "PUT":
            data = self.validated_input()
            models, tags = catalogue_services.role_model_access_replace(
                role_id=role.pk, model_ids=data["models"], tag_ids=data["tags"]
            )
        else:
            models, tags = catalogue_selectors.role_model_access_get(role_id=role.pk)
        body = {"restricted": bool(models or tags), "models": models, "tags": tags}
        return Response(RoleModelAccessSerializer(body).data)
