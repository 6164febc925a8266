"""Input and output shapes of the auth API. They validate and shape; services do the writing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from auth_app.models import ApiKey, ApiScope, User
from auth_app.services.api_keys import NAME_MAX_LENGTH
from core.api import JSONField, StrictKeysMixin
from core.schema import ErrorSerializer as ErrorEnvelopeSerializer  # noqa: F401 - the error shape, for views

PASSWORD_MAX_LENGTH = 128
PREFERENCES_MAX_BYTES = 16 * 1024
USERNAME_VALIDATORS = [
    RegexValidator(
        r"^[\w.+-]+\Z",
        "Use letters, digits and the characters . + - _ only (no spaces, no @).",
        code="invalid_username",
    )
]


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers, booleans and containers instead of turning them into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    """An EmailField that only takes strings (so `123` is not silently read as "123")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def password_field(**kwargs: Any) -> StrictCharField:
    return StrictCharField(
        max_length=PASSWORD_MAX_LENGTH,
        trim_whitespace=False,
        write_only=True,
        style={"input_type": "password"},
        **kwargs,
    )


def username_field(**kwargs: Any) -> StrictCharField:
    return StrictCharField(min_length=3, max_length=150, validators=USERNAME_VALIDATORS, **kwargs)


def email_field(**kwargs: Any) -> StrictEmailField:
    return StrictEmailField(max_length=254, **kwargs)


# --- Output ---------------------------------------------------------------------------------------------


class ProfileSerializer(serializers.ModelSerializer):
    """A user's own profile. `roles`, `is_staff` and `is_active` are shown but never written here."""

    roles = serializers.ListField(
        child=serializers.CharField(),
        source="role_names",
        read_only=True,
        help_text="Names of the roles held.",
    )

    class Meta:
        model = User
        fields: tuple[str, ...] = (
            "id",
            "username",
            "email",
            "display_name",
            "preferences",
            "roles",
            "is_staff",
            "is_active",
            "last_login",
            "created_at",
            "updated_at",
            "version",
        )
        read_only_fields: tuple[str, ...] = fields


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(
        read_only=True, help_text="Access token (JWT) for `Authorization: Bearer`."
    )
    refresh = serializers.CharField(read_only=True, help_text="Refresh token (JWT), single use: it rotates.")


class AuthSessionSerializer(TokenPairSerializer):
    """What signing in (or up) returns: the profile and a token pair."""

    user = ProfileSerializer(read_only=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField(read_only=True)


class RegistrationPendingSerializer(DetailSerializer):
    """What registering returns under `REGISTRATION_MODE=approval`: no tokens, the account waits."""

    user = ProfileSerializer(read_only=True)


# --- Input ----------------------------------------------------------------------------------------------


class RegisterSerializer(serializers.Serializer):
    username = username_field(help_text="3 to 150 letters, digits or . + - _; unique, case-insensitively.")
    email = email_field(help_text="Unique, case-insensitively; stored lower-cased.")
    password = password_field(help_text="Checked by the password validators (length, common, similarity).")
    display_name = StrictCharField(max_length=150, required=False, allow_blank=True, default="")


# Where sign-in takes the account: `login`, or the names other DRF and JWT clients send.
LOGIN_IDENTIFIER_FIELDS = ("login", "username", "email")


def login_identifier_field(help_text: str) -> StrictCharField:
    return StrictCharField(max_length=254, required=False, allow_blank=True, help_text=help_text)


class LoginSerializer(serializers.Serializer):
    """Sign-in: the account in one of `login`, `username` or `email` (blank counts as absent), and the
    password. Validated data is `{"login", "password"}` (and `new_password` when given) whichever name
    carried the account."""

    login = login_identifier_field("Username or e-mail address.")
    username = login_identifier_field("The same as `login`, for clients that send `username`.")
    email = login_identifier_field("The same as `login`, for clients that send `email`.")
    password = password_field()
    new_password = password_field(
        required=False,
        help_text="Only for an account with a temporary password set by staff: the password that "
        "replaces it (checked by the password validators).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = {name: attrs[name] for name in LOGIN_IDENTIFIER_FIELDS if attrs.get(name)}
        if not given:
            raise serializers.ValidationError(
                {"login": ["Give the username or e-mail address in `login`, `username` or `email`."]},
                code="required",
            )
        first, *others = given
        if any(given[name].lower() != given[first].lower() for name in others):
            raise serializers.ValidationError(
                {name: [f"Names another account than `{first}`: give one."] for name in others},
                code="invalid",
            )
        data = {"login": given[first], "password": attrs["password"]}
        if "new_password" in attrs:
            data["new_password"] = attrs["new_password"]
        return data


class RefreshSerializer(serializers.Serializer):
    refresh = StrictCharField(max_length=4096, write_only=True, help_text="A refresh token.")


class ProfileUpdateSerializer(serializers.Serializer):
    """PATCH of the own profile. Keys other than these are refused with 400 (never silently ignored):
    roles, staff, active and lock fields cannot be mass-assigned."""

    username = username_field(required=False)
    email = email_field(required=False)
    display_name = StrictCharField(max_length=150, required=False, allow_blank=True)
    preferences = JSONField(required=False, help_text="A JSON object (at most 16 KiB), replaced as a whole.")
    current_password = password_field(required=False, help_text="Required when changing the e-mail address.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        if isinstance(data, Mapping):
            shown = set(ProfileSerializer.Meta.fields)
            for name in sorted(set(data) - set(self.fields)):
                errors[name] = ["This field is read-only." if name in shown else "Unknown field."]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            errors = {**exc.detail, **errors}
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def validate_preferences(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        if len(json.dumps(value).encode()) > PREFERENCES_MAX_BYTES:
            raise serializers.ValidationError(f"Must be at most {PREFERENCES_MAX_BYTES} bytes of JSON.")
        return value


class PasswordChangeSerializer(serializers.Serializer):
    old_password = password_field()
    new_password = password_field(help_text="Checked by the password validators.")


class PasswordResetRequestSerializer(serializers.Serializer):
    email = email_field()


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = StrictCharField(max_length=64, help_text="The `uid` parameter of the link in the e-mail.")
    token = StrictCharField(max_length=128, help_text="The `token` parameter of the link in the e-mail.")
    new_password = password_field(help_text="Checked by the password validators.")


# --- API keys ---------------------------------------------------------------------------------------------


class StrictDateTimeField(serializers.DateTimeField):
    """An ISO 8601 instant given as a string, converted to UTC (numbers and instants PostgreSQL cannot
    store are refused with a 400)."""

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str):
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]")
        parsed = super().to_internal_value(value)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]")


class ApiKeyCreateSerializer(StrictKeysMixin, serializers.Serializer):
    name = StrictCharField(max_length=NAME_MAX_LENGTH, help_text="Unique among your unrevoked keys")
    expires_at = StrictDateTimeField(
        required=False, allow_null=True, help_text="When the key stops working; never when absent or null"
    )
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiScope.choices),
        required=False,
        allow_empty=False,
        max_length=len(ApiScope.choices),
        help_text="What the key may be used for on the compatible endpoints; all when absent",
    )
    record = serializers.BooleanField(
        required=False, default=True, help_text="Save chats made with the key as conversations"
    )

    def validate_record(self, value: Any) -> bool:
        if not isinstance(self.initial_data.get("record"), bool | type(None)):
            raise serializers.ValidationError("Must be true or false.")
        return value


class ApiKeyUsageSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    eval_tokens = serializers.IntegerField(help_text="Tokens generated")


class ApiKeySerializer(serializers.ModelSerializer):
    usage = serializers.SerializerMethodField(help_text="Totals over the key's life")

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "record",
            "created_at",
            "expires_at",
            "last_used_at",
            "requests_per_minute",
            "tokens_per_day",
            "usage",
        ]
        read_only_fields = fields

    @extend_schema_field(ApiKeyUsageSerializer)
    def get_usage(self, key: ApiKey) -> dict[str, int]:
        return {
            "requests": int(getattr(key, "usage_requests", 0)),
            "prompt_tokens": int(getattr(key, "usage_prompt_tokens", 0)),
            "eval_tokens": int(getattr(key, "usage_eval_tokens", 0)),
        }


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The key itself: shown this once, never again")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields
