"""Serializers of the staff API's accounts: users, their roles, locks and sessions; roles."""

from __future__ import annotations

from django.contrib.auth.models import Group
from rest_framework import serializers

from auth_app.api.serializers import (
    ProfileSerializer,
    StrictCharField,
    email_field,
    password_field,
    username_field,
)
from auth_app.services.admin import BUILT_IN_ROLES, LOCK_MINUTES_MAX, LOCK_MINUTES_MIN
from core.api import StrictKeysMixin


class AdminUserSerializer(ProfileSerializer):
    """A user as staff see it: the profile, plus status flags, sign-in state and deletion."""

    is_locked = serializers.BooleanField(read_only=True)

    class Meta(ProfileSerializer.Meta):
        fields = (
            *ProfileSerializer.Meta.fields,
            "is_superuser",
            "approval_status",
            "password_change_required",
            "is_locked",
            "locked_until",
            "failed_login_count",
            "api_requests_per_minute",
            "api_tokens_per_day",
            "deleted_at",
        )
        read_only_fields = fields


class UserCreateSerializer(StrictKeysMixin, serializers.Serializer):
    """A new account made by staff: a temporary password, or a link e-mailed to choose one."""

    username = username_field(help_text="3 to 150 letters, digits or . + - _; unique, case-insensitively.")
    email = email_field(help_text="Unique, case-insensitively; stored lower-cased.")
    display_name = StrictCharField(max_length=150, required=False, allow_blank=True, default="")
    roles = serializers.ListField(
        child=serializers.CharField(max_length=150),
        allow_empty=False,
        max_length=50,
        required=False,
        help_text="Role names to hold (default: User).",
    )
    temporary_password = password_field(
        required=False,
        help_text="A password the owner must replace at the first sign-in (checked by the validators). "
        "Give this or `send_password_link`.",
    )
    send_password_link = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: e-mail the owner a link (the password-reset flow's) to choose a password.",
    )

    def validate(self, attrs: dict) -> dict:
        if ("temporary_password" in attrs) == bool(attrs.get("send_password_link")):
            raise serializers.ValidationError(
                {"temporary_password": ["Give a temporary password or set send_password_link, not both."]}
            )
        return attrs


class UserRolesSerializer(serializers.Serializer):
    roles = serializers.ListField(
        child=serializers.CharField(max_length=150),
        allow_empty=False,
        max_length=50,
        help_text="The complete set of role names the user is to hold (it replaces the current one).",
    )


class UserLockSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(
        min_value=LOCK_MINUTES_MIN, max_value=LOCK_MINUTES_MAX, help_text="How long the lock lasts."
    )


class SessionsRevokedSerializer(serializers.Serializer):
    revoked = serializers.IntegerField(help_text="Refresh tokens blacklisted.")


class RoleSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True, default=0, help_text="Alive users holding it.")
    built_in = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = ("id", "name", "member_count", "built_in")
        read_only_fields = fields

    def get_built_in(self, role: Group) -> bool:
        return role.name in BUILT_IN_ROLES


class RoleCreateSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=150, help_text="2 to 50 letters, digits, spaces, '-' or '_'; unique (case-insensitive)."
    )


class RoleModelRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True, help_text="Ollama model name")
    is_active = serializers.BooleanField(read_only=True, help_text="Published")


class RoleTagRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    slug = serializers.CharField(read_only=True)


class RoleModelAccessSerializer(serializers.Serializer):
    """Which models a role may use. Not `restricted`: every published model."""

    restricted = serializers.BooleanField(
        read_only=True, help_text="false: no entries, the role may use every published model"
    )
    models = RoleModelRefSerializer(many=True, read_only=True, help_text="Models the role may use")
    tags = RoleTagRefSerializer(
        many=True, read_only=True, help_text="The role may use the models with these tags"
    )


class RoleModelAccessUpdateSerializer(StrictKeysMixin, serializers.Serializer):
    models = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=1000,
        required=False,
        default=list,
        help_text="Ids of the models the role may use.",
    )
    tags = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=200,
        required=False,
        default=list,
        help_text="Ids of tags: the role may use every model carrying one. Both lists empty: unrestricted.",
    )
