"""Django admin of accounts: users with their roles, the roles (Django groups, shown as roles),
refresh tokens. Access goes by role, so the per-user and per-role permission pickers Django offers
(which would have no effect) are not shown; superusers count as Admin."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UsernameField
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Case, Count, Exists, F, Func, IntegerField, OuterRef, Q, Subquery, Value, When
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.admin import BlacklistedTokenAdmin, OutstandingTokenAdmin
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from auth_app.models import ApiKey, ApiUsage, Role
from auth_app.services import (
    refresh_tokens_revoke_all,
    role_create,
    role_delete,
    security_event_record,
    user_approve,
    user_lock,
    user_password_link_send,
    user_reject,
    user_restore,
    user_role_assign_default,
    user_roles_replace,
    user_sessions_revoke,
    user_set_active,
    user_soft_delete,
    user_unlock,
)
from auth_app.services.admin import BUILT_IN_ROLES
from auth_app.services.api_keys import api_key_quota_set, revoke_api_key
from auth_app.services.tokens import refresh_tokens_revoke_selected
from core import services as core_services
from core.admin import (
    AdminRoleAccessMixin,
    BaseModelAdmin,
    ConditionFilter,
    LargeTableAdminMixin,
    NoAddAdminMixin,
    SoftDeleteAdmin,
    ViewOnlyAdminMixin,
    WholeRowConstraintsMixin,
    request_has_admin_role,
)
from core.admin.display import preview
from core.permissions import ADMIN_ROLE

User = get_user_model()

ADMIN_LOCK_MINUTES = 15


# --- forms ------------------------------------------------------------------------------------------


class UserCreationForm(WholeRowConstraintsMixin, AdminUserCreationForm):
    """New account: username, e-mail, display name and a password (or none, to sign in otherwise)."""

    class Meta(AdminUserCreationForm.Meta):  # type: ignore[name-defined]  # the stubs lack Meta
        model = User
        fields = ("username", "email", "display_name", "password_change_required")
        field_classes = {"username": UsernameField}
        labels = {"password_change_required": "Temporary password (to be replaced at the first sign-in)"}

    def clean_email(self) -> str:
        return User.objects.normalize_address(self.cleaned_data["email"])


class UserChangeForm(WholeRowConstraintsMixin, DjangoUserChangeForm):
    class Meta(DjangoUserChangeForm.Meta):  # type: ignore[name-defined]  # the stubs lack Meta
        model = User
        fields = "__all__"
        field_classes = {"username": UsernameField}

    def clean_email(self) -> str:
        return User.objects.normalize_address(self.cleaned_data["email"])


class PasswordChangeForm(AdminPasswordChangeForm):
    """Sets the password with one UPDATE of that column (bumping the row's version) and signs the
    account out everywhere, like a password change by its owner."""

    def save(self, commit: bool = True):
        # Django's AdminPasswordChangeForm has SetPasswordMixin's method; its stubs do not.
        user = self.set_password_and_save(self.user, commit=False)  # type: ignore[attr-defined]
        if commit:
            with transaction.atomic():
                core_services.versioned_update(user, fields={"password": user.password})
                refresh_tokens_revoke_all(user=user)
            security_event_record(event="password_set_by_admin", user=user)
        return user


# --- users ------------------------------------------------------------------------------------------


class LockedFilter(ConditionFilter):
    title = "locked"
    parameter_name = "locked"

    def conditions(self):
        now = timezone.now()
        return {
            "yes": ("Locked now", Q(locked_until__gt=now)),
            "no": ("Not locked", Q(locked_until__isnull=True) | Q(locked_until__lte=now)),
        }


class RoleFilter(admin.SimpleListFilter):
    """Users by role; superusers count as Admin."""

    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [(str(role.pk), role.name) for role in Role.objects.order_by("name")]

    def queryset(self, request, queryset):
        role = Role.objects.filter(pk=self.value()).first() if (self.value() or "").isdigit() else None
        if role is None:
            return queryset
        holds = Exists(User.groups.through.objects.filter(user_id=OuterRef("pk"), group_id=role.pk))
        return queryset.filter(holds | Q(is_superuser=True) if role.name == ADMIN_ROLE else holds)


@admin.register(User)
class UserAdmin(LargeTableAdminMixin, SoftDeleteAdmin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = PasswordChangeForm
    list_display = (
        "username",
        "email",
        "display_name",
        "role_list",
        "is_active",
        "approval_status",
        "is_locked_display",
        "last_login",
    )
    list_filter = ("is_active", "approval_status", RoleFilter, "is_superuser", LockedFilter)
    search_fields = ("username", "email", "display_name")
    ordering = ("username",)
    readonly_fields = ("is_staff", "approval_status", "last_login", "failed_login_window_started_at")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("email", "display_name", "preferences")}),
        (
            "Roles",
            {
                "description": "Access goes by role: the Admin role gives staff status and the admin; "
                "superusers count as Admin.",
                "fields": ("is_active", "approval_status", "groups", "is_staff", "is_superuser"),
            },
        ),
        (
            "Sign-in",
            {
                "fields": (
                    "password_change_required",
                    "last_login",
                    "locked_until",
                    "failed_login_count",
                    "failed_login_window_started_at",
                )
            },
        ),
        (
            "API quotas",
            {
                "description": "Requests per minute and tokens per UTC day of the user's API use (keys "
                "without limits of their own, the compatible endpoints). Empty: the defaults "
                "(API_KEY_REQUESTS_PER_MINUTE, API_KEY_TOKENS_PER_DAY); 0: unlimited.",
                "fields": ("api_requests_per_minute", "api_tokens_per_day"),
            },
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "description": "Give a password and tick “temporary” (the owner replaces it at the first "
                "sign-in), or create the account without one and use the action “Send a link to choose "
                "a password”.",
                "fields": (
                    "username",
                    "email",
                    "display_name",
                    "usable_password",
                    "password1",
                    "password2",
                    "password_change_required",
                ),
            },
        ),
    )
    actions = (
        *SoftDeleteAdmin.actions,
        "activate_selected",
        "deactivate_selected",
        "sign_out_everywhere",
        "lock_selected",
        "unlock_selected",
        "approve_selected",
        "reject_selected",
        "send_password_link",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly.append("is_superuser")  # no climbing above the Admin role
        if obj is not None and obj.pk == request.user.pk:
            readonly.append("is_active")
        return readonly

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False  # a superuser's account is theirs (and other superusers') to change
        return super().has_change_permission(request, obj)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups":
            kwargs.setdefault("label", "Roles")
            kwargs.setdefault("help_text", "")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description="roles")
    def role_list(self, obj) -> str:
        names = [group.name for group in obj.groups.all()]
        if obj.is_superuser and ADMIN_ROLE not in names:
            names.append(ADMIN_ROLE)  # what a superuser may do
        return ", ".join(sorted(names)) + (" (superuser)" if obj.is_superuser else "")

    @admin.display(boolean=True, description="locked", ordering="locked_until")
    def is_locked_display(self, obj) -> bool:
        return obj.is_locked

    def update_object(self, request, obj, changes: dict) -> None:
        is_active = changes.pop("is_active", None)
        if changes:
            super().update_object(request, obj, changes)
        if is_active is not None:
            user_set_active(actor=request.user, user=obj, is_active=is_active)

    def save_related(self, request, form, formsets, change) -> None:
        # Roles go through the service (staff follows the Admin role; the last Admin keeps it), not
        # through the form's many-to-many save.
        roles = form.cleaned_data.pop("groups", None)
        super().save_related(request, form, formsets, change)
        if not change:
            user_role_assign_default(user=form.instance)
        elif roles is not None:
            user_roles_replace(
                actor=request.user, user=form.instance, role_names=[role.name for role in roles]
            )

    def soft_delete_object(self, request, obj) -> None:
        user_soft_delete(actor=request.user, user=obj)

    def restore_object(self, request, obj) -> None:
        user_restore(actor=request.user, user=obj)

    @admin.action(description="Activate selected users", permissions=["change"])
    def activate_selected(self, request, queryset) -> None:
        def activate(request, user) -> None:
            user_set_active(actor=request.user, user=user, is_active=True)

        self._apply(request, queryset.filter(deleted_at__isnull=True), activate, "activated")

    @admin.action(description="Deactivate selected users", permissions=["change"])
    def deactivate_selected(self, request, queryset) -> None:
        def deactivate(request, user) -> None:
            user_set_active(actor=request.user, user=user, is_active=False)

        self._apply(request, queryset.filter(deleted_at__isnull=True), deactivate, "deactivated")

    @admin.action(description="Sign selected users out everywhere", permissions=["change"])
    def sign_out_everywhere(self, request, queryset) -> None:
        def sign_out(request, user) -> None:
            user_sessions_revoke(actor=request.user, user=user)

        self._apply(request, queryset, sign_out, "signed out everywhere")

    @admin.action(description="Lock selected users for 15 minutes", permissions=["change"])
    def lock_selected(self, request, queryset) -> None:
        def lock(request, user) -> None:
            user_lock(actor=request.user, user=user, minutes=ADMIN_LOCK_MINUTES)

        self._apply(request, queryset.filter(deleted_at__isnull=True), lock, "locked for 15 minutes")

    @admin.action(description="Unlock selected users", permissions=["change"])
    def unlock_selected(self, request, queryset) -> None:
        def unlock(request, user) -> None:
            user_unlock(actor=request.user, user=user)

        self._apply(request, queryset.filter(deleted_at__isnull=True), unlock, "unlocked")

    @admin.action(description="Approve selected accounts (pending approval)", permissions=["change"])
    def approve_selected(self, request, queryset) -> None:
        def approve(request, user) -> None:
            user_approve(actor=request.user, user=user)

        self._apply(request, queryset.filter(deleted_at__isnull=True), approve, "approved")

    @admin.action(
        description="Reject selected accounts (pending approval; to the trash)", permissions=["change"]
    )
    def reject_selected(self, request, queryset) -> None:
        def reject(request, user) -> None:
            user_reject(actor=request.user, user=user)

        self._apply(request, queryset.filter(deleted_at__isnull=True), reject, "rejected")

    @admin.action(description="Send a link to choose a password", permissions=["change"])
    def send_password_link(self, request, queryset) -> None:
        def send(request, user) -> None:
            user_password_link_send(actor=request.user, user=user)

        self._apply(
            request, queryset.filter(deleted_at__isnull=True), send, "sent a link to choose a password"
        )


# --- roles ------------------------------------------------------------------------------------------

admin.site.unregister(Group)


def _superusers_outside_admin_role() -> Subquery:
    """How many alive superusers do not hold the Admin role (they count as Admin all the same)."""
    outside = User.objects.filter(is_superuser=True).exclude(groups__name=ADMIN_ROLE).order_by()
    count = Func(F("pk"), function="COUNT", output_field=IntegerField())
    return Subquery(outside.annotate(n=count).values("n")[:1], output_field=IntegerField())


@admin.register(Role)
class RoleAdmin(BaseModelAdmin, DjangoGroupAdmin):
    """Roles are groups. `User` and `Admin` are built in (their names are fixed, they cannot be
    deleted); a role someone holds cannot be deleted either. Access goes by role name, so a role
    has no permission rows to pick."""

    list_display = ("name", "member_count")
    fields = ("name",)
    actions = None

    def get_queryset(self, request):
        held_by = Count("user", filter=Q(user__deleted_at__isnull=True))
        superusers = Case(
            When(name=ADMIN_ROLE, then=_superusers_outside_admin_role()),
            default=Value(0),
            output_field=IntegerField(),
        )
        return super().get_queryset(request).annotate(member_count=held_by + superusers)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return (*readonly, "name") if obj is not None and obj.name in BUILT_IN_ROLES else readonly

    @admin.display(description="members", ordering="member_count")
    def member_count(self, obj: Group) -> int:
        return obj.member_count  # type: ignore[attr-defined]  # get_queryset annotates it

    def has_delete_permission(self, request, obj=None) -> bool:
        if not super().has_delete_permission(request, obj):
            return False
        return obj is None or (obj.name not in BUILT_IN_ROLES and not obj.user_set.exists())

    def create_object(self, request, obj: Group, form) -> Group:
        return role_create(name=form.cleaned_data["name"])

    def delete_model(self, request, obj: Group) -> None:
        role_delete(role=obj)


# --- refresh tokens (simplejwt's tables, shown read-only) ---------------------------------------------

admin.site.unregister(OutstandingToken)
admin.site.unregister(BlacklistedToken)


@admin.register(OutstandingToken)
class RefreshTokenAdmin(
    ViewOnlyAdminMixin, LargeTableAdminMixin, AdminRoleAccessMixin, OutstandingTokenAdmin
):
    """Issued refresh tokens. The token itself is a live credential, so it is never shown."""

    list_display = ("jti", "user", "created_at", "expires_at", "is_revoked")
    search_fields = ("=jti", "user__username", "user__email")
    list_filter = (("expires_at", admin.DateFieldListFilter),)
    ordering = ("-id",)
    exclude = ("token",)
    raw_id_fields = ("user",)
    actions = ("revoke_selected",)

    def get_queryset(self, request):
        # simplejwt's admin already joins the user, which makes Django skip `list_select_related`.
        return super().get_queryset(request).select_related("user", "blacklistedtoken")

    def has_revoke_permission(self, request) -> bool:
        return request_has_admin_role(request)

    @admin.display(boolean=True, description="revoked")
    def is_revoked(self, obj: OutstandingToken) -> bool:
        return hasattr(obj, "blacklistedtoken")

    @admin.action(
        description="Revoke selected refresh tokens (sign those sessions out)", permissions=["revoke"]
    )
    def revoke_selected(self, request, queryset) -> None:
        revoked = refresh_tokens_revoke_selected(tokens=queryset)
        noun = "refresh token" if revoked == 1 else "refresh tokens"
        self.message_user(request, f"{revoked} {noun} revoked.", messages.SUCCESS)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "token"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BlacklistedToken)
class RevokedTokenAdmin(
    ViewOnlyAdminMixin, LargeTableAdminMixin, AdminRoleAccessMixin, BlacklistedTokenAdmin
):
    """Revoked refresh tokens."""

    search_fields = ("=token__jti", "token__user__username", "token__user__email")
    ordering = ("-id",)
    exclude = ("token",)
    readonly_fields = ("token_jti", "token_user", "token_created_at", "token_expires_at", "blacklisted_at")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- API keys and their use -----------------------------------------------------------------------------


class RevokedFilter(ConditionFilter):
    title = "revoked"
    parameter_name = "revoked"

    def conditions(self):
        return {
            "yes": ("revoked", Q(revoked_at__isnull=False)),
            "no": ("not revoked", Q(revoked_at__isnull=True)),
        }


@admin.register(ApiKey)
class ApiKeyAdmin(NoAddAdminMixin, LargeTableAdminMixin, BaseModelAdmin):
    """Personal API keys: created by their owners (the secret is never stored, so never shown);
    staff set a key's own limits and revoke keys. Both are recorded in the audit trail."""

    list_display = (
        "name_preview",
        "prefix",
        "user",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = (RevokedFilter, ("created_at", admin.DateFieldListFilter))
    search_fields = ("=prefix", "name", "user__username", "user__email")
    list_select_related = ("user",)
    ordering = ("-created_at",)
    raw_id_fields = ("user",)
    fields = (
        "user",
        "name",
        "prefix",
        "scopes",
        "record",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "requests_per_minute",
        "tokens_per_day",
    )
    readonly_fields = (
        "user",
        "name",
        "prefix",
        "scopes",
        "record",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    actions = ("revoke_selected",)

    @admin.display(description="name", ordering="name")
    def name_preview(self, obj: ApiKey) -> str:
        return preview(obj.name, 40)

    def update_object(self, request, obj, changes) -> None:
        api_key_quota_set(api_key=obj, **changes)

    def has_revoke_permission(self, request) -> bool:
        return request_has_admin_role(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return bool(request.user.is_superuser)

    @admin.action(description="Revoke selected API keys", permissions=["revoke"])
    def revoke_selected(self, request, queryset) -> None:
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            revoke_api_key(api_key=key)
            revoked += 1
        self.message_user(
            request, f"{revoked} API key{'s' if revoked != 1 else ''} revoked.", messages.SUCCESS
        )


@admin.register(ApiUsage)
class ApiUsageAdmin(ViewOnlyAdminMixin, LargeTableAdminMixin, BaseModelAdmin):
    """API use per user, key and UTC day (written by the API itself)."""

    list_display = ("day", "user", "key_prefix", "requests", "prompt_tokens", "eval_tokens")
    list_filter = (("day", admin.DateFieldListFilter),)
    search_fields = ("user__username", "=api_key__prefix")
    list_select_related = ("user", "api_key")
    ordering = ("-day",)

    @admin.display(description="API key", ordering="api_key__prefix")
    def key_prefix(self, obj: ApiUsage) -> str:
        return f"onk_{obj.api_key.prefix}_…" if obj.api_key is not None else "(signed in)"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
