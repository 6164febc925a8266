"""User QuerySet and managers: soft-delete aware, case-insensitive natural key."""

from __future__ import annotations

from django.contrib.auth.base_user import BaseUserManager

from core.querysets import SoftDeleteQuerySet


class UserQuerySet(SoftDeleteQuerySet):
    def by_login(self, identifier: str) -> UserQuerySet:
        """Users whose username or e-mail equals `identifier`, case-insensitively."""
        identifier = identifier.strip()
        field = "email__iexact" if "@" in identifier else "username__iexact"
        return self.filter(**{field: identifier})


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    """Default user manager: alive users only; creation helpers for commands and tests."""

    use_in_migrations = True

    def get_queryset(self) -> UserQuerySet:
        return super().get_queryset().alive()

    def get_by_natural_key(self, username: str):
        return self.get(username__iexact=username)

    def _create_user(self, username: str, email: str, password: str | None, **extra):
        if not username:
            raise ValueError("username is required")
        if not email:
            raise ValueError("email is required")
        user = self.model(username=username.strip(), email=self.normalize_email(email).lower(), **extra)
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
