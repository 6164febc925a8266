"""User QuerySet and managers: soft-delete aware, case-insensitive natural key."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.base_user import BaseUserManager
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.utils import timezone

from core.querysets import SoftDeleteQuerySet


class UserQuerySet(SoftDeleteQuerySet):
    def by_login(self, identifier: str) -> UserQuerySet:
        """Users whose username or e-mail equals `identifier`, case-insensitively."""
        identifier = identifier.strip()
        return self.by_email(identifier) if "@" in identifier else self.by_username(identifier)

    def by_username(self, username: str) -> UserQuerySet:
        """Users named `username`, compared as lower(username) like the unique index does."""
        return self.alias(username_lower=Lower("username")).filter(username_lower=username.strip().lower())

    def by_email(self, email: str) -> UserQuerySet:
        """Users with the address `email`, compared as lower(email) like the unique index does."""
        return self.alias(email_lower=Lower("email")).filter(email_lower=email.strip().lower())

    def search(self, term: str) -> UserQuerySet:
        """Users whose username or e-mail contains `term`, case-insensitively (all for a blank term)."""
        term = term.strip()
        return self.filter(Q(username__icontains=term) | Q(email__icontains=term)) if term else self

    def with_role(self, name: str) -> UserQuerySet:
        """Users holding the role (Group) called `name`, compared case-insensitively."""
        from django.contrib.auth.models import Group

        return self.filter(Exists(Group.objects.filter(user=OuterRef("pk"), name__iexact=name.strip())))

    def locked(self, *, at: datetime | None = None) -> UserQuerySet:
        """Users whose lock runs past `at` (now by default)."""
        return self.filter(locked_until__gt=at or timezone.now())

    def not_locked(self, *, at: datetime | None = None) -> UserQuerySet:
        """Users without a lock, or whose lock has run out by `at` (now by default)."""
        return self.filter(Q(locked_until__isnull=True) | Q(locked_until__lte=at or timezone.now()))


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    """Default user manager: alive users only; creation helpers for commands and tests."""

    use_in_migrations = True

    def get_queryset(self) -> UserQuerySet:
        return super().get_queryset().alive()

    def get_by_natural_key(self, username: str):
        return self.by_username(username).get()

    @classmethod
    def normalize_address(cls, email: str) -> str:
        """The stored form of an e-mail address: trimmed and lower-cased."""
        return cls.normalize_email(email.strip()).lower()

    def _create_user(self, username: str, email: str, password: str | None, **extra):
        if not username:
            raise ValueError("username is required")
        if not email:
            raise ValueError("email is required")
        user = self.model(username=username.strip(), email=self.normalize_address(email), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, username: str, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(username, email, password, **extra)

    def create_superuser(self, username: str, email: str, password: str | None = None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(username, email, password, **extra)


class AllUsersManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    """Every user, soft-deleted included."""
