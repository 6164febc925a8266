"""Accounts: the custom user. Roles are Django Groups (`User`, `Admin`, and any admins create)."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group, PermissionsMixin
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from auth_app.querysets import AllUsersManager, UserManager
from core.models import BaseModel, VersionedModel


class ApprovalStatus(models.TextChoices):
    """Where an account stands with the staff: registrations under `REGISTRATION_MODE=approval` start
    `pending`; staff approve them (active) or reject them (inactive, then in the trash)."""

    APPROVED = "approved", "Approved"
    PENDING = "pending", "Pending approval"
    REJECTED = "rejected", "Rejected"


class User(BaseModel, VersionedModel, AbstractBaseUser, PermissionsMixin):
    """A person who signs in: by username or e-mail, both unique case-insensitively among alive users."""

    ApprovalStatus = ApprovalStatus

    username = models.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    email = models.EmailField(max_length=254)
    display_name = models.CharField(max_length=150, blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    locked_until = models.DateTimeField(null=True, blank=True)
    failed_login_count = models.PositiveIntegerField(default=0)
    failed_login_window_started_at = models.DateTimeField(null=True, blank=True)
    preferences = models.JSONField(default=dict, blank=True)
    # Quotas of the user's API use (API keys and the compatible endpoints); NULL: the defaults
    # (API_KEY_REQUESTS_PER_MINUTE, API_KEY_TOKENS_PER_DAY), 0: unlimited. Set by staff.
    api_requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    api_tokens_per_day = models.PositiveBigIntegerField(null=True, blank=True)
    approval_status = models.CharField(
        max_length=10,
        choices=ApprovalStatus.choices,
        default=ApprovalStatus.APPROVED,
        db_default=ApprovalStatus.APPROVED,
        help_text="Only approved accounts can be active.",
    )
    password_change_required = models.BooleanField(
        default=False,
        db_default=False,
        help_text="The password is a temporary one set by staff: the next sign-in must choose a new one.",
    )
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = UserManager()
    all_objects = AllUsersManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        db_table = "auth_user"
        ordering = ("username",)
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=Q(deleted_at__isnull=True), name="auth_user_email_ci_alive_uniq"
            ),
            models.UniqueConstraint(
                Lower("username"),
                condition=Q(deleted_at__isnull=True),
                name="auth_user_username_ci_alive_uniq",
            ),
            models.CheckConstraint(condition=~Q(username=""), name="auth_user_username_not_blank"),
            models.CheckConstraint(condition=Q(email__contains="@"), name="auth_user_email_has_at"),
            models.CheckConstraint(
                condition=Q(approval_status__in=ApprovalStatus.values), name="auth_user_approval_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(approval_status=ApprovalStatus.APPROVED) | Q(is_active=False),
                name="auth_user_active_only_if_approved",
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="auth_user_created_idx"),
            # The staff's queue of registrations waiting for a decision.
            models.Index(
                fields=["created_at"],
                name="auth_user_pending_idx",
                condition=Q(approval_status=ApprovalStatus.PENDING, deleted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > timezone.now()

    @property
    def is_pending_approval(self) -> bool:
        return self.approval_status == ApprovalStatus.PENDING

    @property
    def can_sign_in(self) -> bool:
        """Active, not deleted and not locked: may log in, refresh tokens and use access tokens."""
        return self.is_active and not self.is_deleted and not self.is_locked

    def get_full_name(self) -> str:
        return self.display_name or self.username

    def get_short_name(self) -> str:
        return self.display_name or self.username


class Role(Group):
    """A role: a Django group under the name the product gives it (the admin lists and edits roles)."""

    class Meta:
        proxy = True
        verbose_name = "role"
        verbose_name_plural = "roles"


class ApiScope(models.TextChoices):
    """What a personal API key may be used for on the Ollama- and OpenAI-compatible endpoints."""

    CHAT = "chat", "chat and text generation"
    MODELS = "models", "listing and describing models"
    EMBEDDINGS = "embeddings", "embeddings"


def all_api_scopes() -> list[str]:
    """Default scopes of a new key: every scope."""
    return [scope.value for scope in ApiScope]


class ApiKey(BaseModel):
    """A personal API key: `onk_<prefix>_<secret>`. Only the lookup `prefix` and an HMAC-SHA256 of the
    whole key are stored; the key itself is shown once, when it is created."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = ArrayField(models.CharField(max_length=20, choices=ApiScope.choices), default=all_api_scopes)
    record = models.BooleanField(
        default=True, help_text="Chats made with the key are saved as conversations in the owner's history."
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Own limit of the key (0: unlimited); empty: the owner's."
    )
    tokens_per_day = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Own limit of the key (0: unlimited); empty: the owner's."
    )

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "API key"
        constraints = [
            models.UniqueConstraint(
                "user",
                Lower("name"),
                condition=Q(revoked_at__isnull=True),
                name="auth_apikey_name_ci_live_uniq",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="auth_apikey_name_not_blank"),
            models.CheckConstraint(
                condition=Q(scopes__contained_by=all_api_scopes()), name="auth_apikey_scopes_valid"
            ),
            models.CheckConstraint(condition=~Q(key_hash=""), name="auth_apikey_hash_not_blank"),
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="auth_apikey_user_created_idx")]

    def __str__(self) -> str:
        return f"{self.name} (onk_{self.prefix}_…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_live(self) -> bool:
        """Neither revoked nor expired."""
        return not self.is_revoked and not self.is_expired

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class ApiUsage(BaseModel):
    """Requests and tokens of one user per UTC day, through one API key (or none: signed-in use of
    the compatible endpoints). Rows are upserted with additions in SQL, never read and written back."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_usage")
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, null=True, blank=True, related_name="usage")
    day = models.DateField()
    requests = models.PositiveBigIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    eval_tokens = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ("day",)
        verbose_name = "API usage"
        verbose_name_plural = "API usage"
        constraints = [
            # NULLS NOT DISTINCT: keyless use has one row per user and day too (the upsert's target).
            models.UniqueConstraint(
                fields=["user", "api_key", "day"],
                nulls_distinct=False,
                name="auth_apiusage_user_key_day_uniq",
            ),
        ]
        indexes = [
            models.Index(fields=["day"], name="auth_apiusage_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}"
