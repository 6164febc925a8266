"""Accounts: the custom user. Roles are Django Groups (`User`, `Admin`, and any admins create)."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group, PermissionsMixin
from django.contrib.auth.validators import UnicodeUsernameValidator
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
