"""Accounts: registration, roles, sign-in with lockout, the own profile."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from auth_app import selectors
from auth_app.models import User
from auth_app.services.events import security_event_record
from auth_app.services.tokens import TokenPair, token_pair_issue
from core import services as core_services
from core.exceptions import ApplicationError, ValidationFailed
from core.permissions import ADMIN_ROLE, USER_ROLE

PROFILE_FIELDS = frozenset({"username", "email", "display_name", "preferences"})
LOCKOUT_FIELDS = ("failed_login_count", "failed_login_window_started_at", "locked_until")


class InvalidCredentials(ApplicationError):
    """One answer for every failed sign-in, so it never tells which accounts exist or why."""

    status_code = status.HTTP_401_UNAUTHORIZED
    code = "invalid_credentials"
    default_message = "Unable to sign in with the given credentials."


class RegistrationClosed(ApplicationError):
    """`REGISTRATION_MODE=closed`: accounts are made by staff only."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "registration_closed"
    default_message = "Registration is closed: accounts are created by the administrators."


class AccountPendingApproval(ApplicationError):
    """The right password of an account staff have not approved yet (only then: a wrong password gets
    InvalidCredentials, so this never tells a stranger that the account exists)."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "account_pending_approval"
    default_message = "This account awaits approval by an administrator; you can sign in once it is approved."


class PasswordChangeRequired(ApplicationError):
    """The right, temporary password of an account staff created: sign in again with `new_password`."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "password_change_required"
    default_message = (
        "This account has a temporary password: sign in again with `new_password` to choose your own."
    )


def password_problems(password: str, *, user: User) -> list[str]:
    """What the password validators say against `password` for `user` (empty when it passes)."""
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        return list(exc.messages)
    return []


def lockout_forget(user: User) -> tuple[str, ...]:
    """Clear failed attempts and any lock on the instance; returns the fields to save."""
    user.failed_login_count, user.failed_login_window_started_at, user.locked_until = 0, None, None
    return LOCKOUT_FIELDS


# --- Roles ---------------------------------------------------------------------------------------------


def user_role_assign_default(*, user: User) -> None:
    """Give a new account the `User` role (recreated if an admin removed the group)."""
    group, _ = Group.objects.get_or_create(name=USER_ROLE)
    user.groups.add(group)


def user_roles_set(*, user: User, role_names: Iterable[str], record: bool = True) -> User:
    """Replace the user's roles. Holding `Admin` makes the user staff; losing it takes staff away
    (superusers stay staff). Unknown role names are refused. A change is a security event (unless
    `record` is False: the caller's own event says it)."""
    names = set(role_names)
    groups = selectors.roles_get(names=names)
    unknown = sorted(names - {group.name for group in groups})
    if unknown:
        raise ValidationFailed(fields={"roles": [f"Unknown role: {name}." for name in unknown]})
    with transaction.atomic():
        held = sorted(user.groups.values_list("name", flat=True))
        was_staff = user.is_staff
        user.groups.set(groups)
        is_staff = ADMIN_ROLE in names or user.is_superuser
        if user.is_staff != is_staff:
            user.is_staff = is_staff
            user.save(update_fields=["is_staff", "updated_at"])
        if record and held != sorted(names):
            security_event_record(
                event="roles_changed",
                user=user,
                before={"roles": held, "is_staff": was_staff},
                roles=sorted(names),
                is_staff=is_staff,
            )
    return user


# --- Registration --------------------------------------------------------------------------------------


def user_register(
    *, username: str, email: str, password: str, display_name: str = ""
) -> tuple[User, TokenPair | None]:
    """Create an account with the `User` role and sign it in, as REGISTRATION_MODE allows.

    `open`: the account is active and signed in. `approval`: it is created inactive and `pending`
    (no tokens: None) until staff approve it. `closed`: RegistrationClosed (403), nothing is written.
    A taken username or e-mail (case-insensitive, among alive users) is a field error; when two
    registrations race, the partial unique constraints decide and the loser gets the same error.
    """
    mode = settings.REGISTRATION_MODE
    if mode == "closed":
        raise RegistrationClosed()
    pending = mode == "approval"
    username = username.strip()
    email = User.objects.normalize_address(email)
    errors = selectors.user_identity_conflicts(username=username, email=email)
    problems = password_problems(
        password, user=User(username=username, email=email, display_name=display_name)
    )
    if problems:
        errors["password"] = problems
    if errors:
        raise ValidationFailed(fields=errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username,
                email=email,
                password=password,
                display_name=display_name,
                **({"is_active": False, "approval_status": User.ApprovalStatus.PENDING} if pending else {}),
            )
            user_role_assign_default(user=user)
            tokens = None if pending else token_pair_issue(user=user)
    except (IntegrityError, DjangoValidationError) as exc:
        conflicts = selectors.user_identity_conflicts(username=username, email=email)
        if conflicts:
            raise ValidationFailed(fields=conflicts) from exc
        raise
    security_event_record(event="user_registered", user=user)
    return user, tokens


# --- Sign-in and lockout -------------------------------------------------------------------------------


def _login_failure_record(*, login: str, password: str) -> None:
    """Count a wrong password against the account it names; the threshold-th failure within the
    window locks the account for LOGIN_LOCKOUT_DURATION. Attempts on accounts that cannot sign in
    anyway (unknown, inactive, locked) are not counted, so they never extend a lock.

    The right password of an account waiting for approval raises AccountPendingApproval: the person
    learns why, a stranger without the password learns nothing."""
    candidate = User.objects.by_login(login).first()
    if candidate is None or not candidate.can_sign_in:
        if candidate is not None and candidate.is_pending_approval and candidate.check_password(password):
            security_event_record(event="login_refused_pending_approval", user=candidate, login=login)
            raise AccountPendingApproval()
        security_event_record(event="login_failed", user=candidate, login=login)
        return
    with transaction.atomic():
        user = core_services.lock_for_update(User, candidate.pk)
        if user.is_locked:
            return
        now = timezone.now()
        window_started = user.failed_login_window_started_at
        if window_started is None or now - window_started >= settings.LOGIN_LOCKOUT_WINDOW:
            user.failed_login_count, user.failed_login_window_started_at = 1, now
        else:
            user.failed_login_count += 1
        locked = user.failed_login_count >= settings.LOGIN_LOCKOUT_THRESHOLD
        if locked:
            lockout_forget(user)
            user.locked_until = now + settings.LOGIN_LOCKOUT_DURATION
        user.save(update_fields=LOCKOUT_FIELDS)
    security_event_record(event="login_failed", user=user, login=login)
    if locked:
        security_event_record(event="account_locked", user=user, locked_until=user.locked_until)


def _temporary_password_replace(*, user: User, password: str, new_password: str | None) -> list[str]:
    """The sign-in of an account with a temporary password: it must bring `new_password` (checked by
    the validators, different from the temporary one), which replaces it; returns the fields to save.
    `new_password` on an account without a temporary password is refused (the change-password
    endpoint is for that)."""
    if not user.password_change_required:
        if new_password is not None:
            raise ValidationFailed(
                fields={"new_password": ["Only a temporary password is replaced at sign-in."]}
            )
        return []
    if new_password is None:
        raise PasswordChangeRequired()
    problems = password_problems(new_password, user=user)
    if new_password == password:
        problems.insert(0, "The new password must differ from the temporary one.")
    if problems:
        raise ValidationFailed(fields={"new_password": problems})
    user.set_password(new_password)
    user.password_change_required = False
    return ["password", "password_change_required", "updated_at"]


def user_login(*, login: str, password: str, new_password: str | None = None) -> tuple[User, TokenPair]:
    """Sign in with username or e-mail + password; returns the user and a new token pair.

    Wrong password, unknown account, inactive, deleted or locked account all raise the same
    InvalidCredentials; the right password of an account awaiting approval raises
    AccountPendingApproval, and of an account with a temporary password PasswordChangeRequired
    unless `new_password` replaces it. Success resets the failure count and records `last_login`.
    """
    user = authenticate(None, username=login, password=password)
    if user is None:
        _login_failure_record(login=login, password=password)
        raise InvalidCredentials()
    password_fields = _temporary_password_replace(user=user, password=password, new_password=new_password)
    with transaction.atomic():
        user.last_login = timezone.now()
        user.save(update_fields=["last_login", *lockout_forget(user), *password_fields])
        tokens = token_pair_issue(user=user)
    if password_fields:
        security_event_record(event="temporary_password_replaced", user=user)
    security_event_record(event="login_succeeded", user=user)
    return user, tokens


# --- Profile -------------------------------------------------------------------------------------------


def user_profile_update(
    *,
    user: User,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
    current_password: str | None = None,
) -> User:
    """Change the caller's own username, e-mail, display name or preferences (replaced whole).

    Anything else (roles, staff, active, lock fields...) is refused. A new e-mail address needs
    the current password. Username and e-mail stay unique case-insensitively; `expected_version`
    (from If-Match) makes a stale write fail with 412.
    """
    refused = sorted(set(changes) - PROFILE_FIELDS)
    if refused:
        raise ValidationFailed(fields={name: ["This field cannot be changed here."] for name in refused})
    values = dict(changes)
    if "username" in values:
        values["username"] = values["username"].strip()
    if "email" in values:
        values["email"] = User.objects.normalize_address(values["email"])
        if values["email"] != user.email and not (current_password and user.check_password(current_password)):
            raise ValidationFailed(
                fields={"current_password": ["Enter your current password to change the e-mail address."]}
            )
    values = {name: value for name, value in values.items() if getattr(user, name) != value}
    if not values:
        core_services.ensure_version(user, expected_version)
        return user
    identity: dict[str, Any] = {
        "username": values.get("username"),
        "email": values.get("email"),
        "exclude_id": user.pk,
    }
    conflicts = selectors.user_identity_conflicts(**identity)
    if conflicts:
        raise ValidationFailed(fields=conflicts)
    try:
        with transaction.atomic():
            core_services.versioned_update(user, fields=values, expected_version=expected_version)
    except IntegrityError as exc:
        # Another account took the name between the check and the write: the constraint decided.
        conflicts = selectors.user_identity_conflicts(**identity)
        if conflicts:
            raise ValidationFailed(fields=conflicts) from exc
        raise
    return user
