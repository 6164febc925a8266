"""The two roles and the demo accounts (an admin and a regular user)."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import F

from admin_app.demo_data.results import AccountResult, AccountStatus, DemoDataResult
from auth_app.services import user_roles_set
from core.permissions import ADMIN_ROLE, USER_ROLE


def roles_ensure(*, result: DemoDataResult) -> None:
    """The `User` and `Admin` groups (a migration creates them; an operator may have removed one)."""
    roles = {group.name: group for group in Group.objects.filter(name__in=[USER_ROLE, ADMIN_ROLE])}
    for name in (USER_ROLE, ADMIN_ROLE):
        if name not in roles:
            roles[name] = Group.objects.create(name=name)
            result.record("roles")


def account_ensure(
    *,
    username: str,
    email: str,
    display_name: str,
    password: str,
    password_env: str,
    role: str,
    superuser: bool,
    result: DemoDataResult,
    default_password: str = "",
) -> tuple[AccountResult, Any]:
    """Create the account unless one with its username exists (even in the trash) or its e-mail is
    taken; returns the outcome and the user when it was created now.

    The password is `password` (read from `password_env`), else `default_password`, else random.
    """
    user_model = get_user_model()
    existing = (
        user_model.all_objects.by_username(username)
        .order_by(F("deleted_at").asc(nulls_first=True))
        .only("id", "deleted_at")
        .first()
    )
    if existing is not None:
        status = AccountStatus.DELETED if existing.deleted_at else AccountStatus.EXISTS
        return AccountResult(username, status), None
    if user_model.objects.by_email(email).exists():
        return AccountResult(username, AccountStatus.EMAIL_TAKEN), None
    if password:
        try:
            password_validation.validate_password(password, user_model(username=username, email=email))
        except ValidationError as exc:
            result.warnings.append(f"{password_env} is weak: {' '.join(exc.messages)}")
        outcome = AccountResult(username, AccountStatus.CREATED, password_env=password_env)
    else:
        generated = not default_password
        password = default_password or secrets.token_urlsafe(18)
        outcome = AccountResult(username, AccountStatus.CREATED, password=password, generated=generated)
    create = user_model.objects.create_superuser if superuser else user_model.objects.create_user
    user = create(username, email, password, display_name=display_name)
    user_roles_set(user=user, role_names=[role])
    result.record("accounts")
    return outcome, user
