"""Staff actions on accounts and roles: what the admin API does to users, in one place.

Every action takes the acting admin (`actor`) and refuses what no admin may do: act on their own
account where that would lock them out (lock, deactivate, delete), change a superuser's account
without being one, or leave the platform without an administrator. `expected_version` (from
If-Match) makes a stale action fail with 412. Each action leaves exactly one audit event: the row
triggers see active/deleted changes; locks, roles and sessions are security events.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from auth_app import selectors
from auth_app.models import User
from auth_app.services.accounts import LOCKOUT_FIELDS, password_problems, user_roles_set
from auth_app.services.events import security_event_record
from auth_app.services.tokens import refresh_tokens_revoke_all
from core import services as core_services
from core.exceptions import Conflict, ValidationFailed
from core.permissions import ADMIN_ROLE, USER_ROLE
from core.queue import enqueue_on_commit, require_task_queue

BUILT_IN_ROLES = frozenset({USER_ROLE, ADMIN_ROLE})
LOCK_MINUTES_MIN, LOCK_MINUTES_MAX = 1, 43_200  # up to 30 days
ROLE_NAME = re.compile(r"[\w -]{2,50}")
ROLE_NAME_RULES = "2 to 50 characters: letters, digits, spaces, '-' and '_'."


# --- guards ------------------------------------------------------------------------------------------


def _ensure_not_self(*, actor: User, user: User, verb: str) -> None:
    if actor.pk == user.pk:
        raise Conflict(f"You cannot {verb} your own account.", code="own_account")


def _ensure_may_manage(*, actor: User, user: User) -> None:
    if user.is_superuser and not actor.is_superuser:
        raise PermissionDenied("Only a superuser can change a superuser's account.")


def _locked_user(*, actor: User, user: User, expected_version: int | None, alive: bool = True) -> User:
    """The user's row, locked for the rest of the transaction, after the checks every action makes."""
    locked = core_services.lock_for_update(User, user.pk)
    _ensure_may_manage(actor=actor, user=locked)
    if alive:
        core_services.ensure_alive(locked)
    core_services.ensure_version(locked, expected_version)
    return locked


# --- accounts ----------------------------------------------------------------------------------------


def user_create(
    *,
    actor: User,
    username: str,
    email: str,
    display_name: str = "",
    role_names: Iterable[str] | None = None,
    temporary_password: str | None = None,
    send_password_link: bool = False,
) -> User:
    """An account made by staff (whatever REGISTRATION_MODE says), active and approved, with the given
    roles (`User` when none are given). Its owner gets in one of two ways, exactly one of which is
    asked for:

    - `temporary_password`: checked by the password validators; the first sign-in must replace it
      (`password_change_required`), and until then no token is issued for the account;
    - `send_password_link`: the account gets a random password nobody knows and its owner an e-mail
      with a link of the password-reset flow to choose one (503 while e-mails cannot be queued).

    Audited as the row's `created` event plus one `account_created_by_admin` security event (roles,
    how the password is set)."""
    if (temporary_password is None) == (not send_password_link):
        raise ValidationFailed(
            "Give a temporary password or ask for a password link, not both and not neither.",
            fields={"temporary_password": ["Give this or set send_password_link, not both."]},
        )
    if send_password_link:
        require_task_queue()
    username = username.strip()
    email = User.objects.normalize_address(email)
    names = {name.strip() for name in role_names} if role_names is not None else {USER_ROLE}
    errors = selectors.user_identity_conflicts(username=username, email=email)
    if temporary_password is not None:
        problems = password_problems(
            temporary_password, user=User(username=username, email=email, display_name=display_name)
        )
        if problems:
            errors["temporary_password"] = problems
    if errors:
        raise ValidationFailed(fields=errors)
    password = temporary_password if temporary_password is not None else secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username,
                email=email,
                password=password,
                display_name=display_name,
                password_change_required=temporary_password is not None,
            )
            user_roles_set(user=user, role_names=names, record=False)
            security_event_record(
                event="account_created_by_admin",
                user=user,
                roles=sorted(names),
                is_staff=user.is_staff,
                password="temporary" if temporary_password is not None else "link_sent",
            )
            if send_password_link:
                enqueue_on_commit("auth_app.tasks.send_password_reset_email", str(user.pk), True)
    except IntegrityError as exc:
        conflicts = selectors.user_identity_conflicts(username=username, email=email)
        if conflicts:
            raise ValidationFailed(fields=conflicts) from exc
        raise
    return user


def user_password_link_send(*, actor: User, user: User) -> User:
    """E-mail the owner of an active account a link of the password-reset flow to choose a (new)
    password, worded as an invitation: how staff let someone into an account they created without a
    password (an account without a usable one gets a random password nobody knows first, which the
    link replaces). 503 while e-mails cannot be queued; 409 `inactive` for an inactive account."""
    require_task_queue()
    with transaction.atomic():
        locked = _locked_user(actor=actor, user=user, expected_version=None)
        if not locked.is_active:
            raise Conflict("This account is not active; activate or approve it first.", code="inactive")
        if not locked.has_usable_password():
            locked.set_password(secrets.token_urlsafe(32))
            core_services.versioned_update(locked, fields={"password": locked.password})
        security_event_record(event="password_link_sent", user=locked)
        enqueue_on_commit("auth_app.tasks.send_password_reset_email", str(locked.pk), True)
    return locked


def user_approve(*, actor: User, user: User, expected_version: int | None = None) -> User:
    """Approve an account waiting for approval (or one rejected earlier and restored): it becomes
    active and can sign in. 409 `not_pending` for an account that is already approved."""
    with transaction.atomic():
        locked = _locked_user(actor=actor, user=user, expected_version=expected_version)
        if locked.approval_status == User.ApprovalStatus.APPROVED:
            raise Conflict("This account is not waiting for approval.", code="not_pending")
        return core_services.versioned_update(
            locked, fields={"approval_status": User.ApprovalStatus.APPROVED, "is_active": True}
        )


def user_reject(*, actor: User, user: User, expected_version: int | None = None) -> User:
    """Reject an account waiting for approval: it is marked `rejected` and moved to the trash in one
    write (its username and e-mail are free again; staff still find it with `deleted=true`, and can
    restore and then approve it). 409 `not_pending` for an account that is not pending."""
    with transaction.atomic():
        locked = _locked_user(actor=actor, user=user, expected_version=expected_version)
        if locked.approval_status != User.ApprovalStatus.PENDING:
            raise Conflict("This account is not waiting for approval.", code="not_pending")
        return core_services.versioned_update(
            locked,
            fields={
                "approval_status": User.ApprovalStatus.REJECTED,
                "is_active": False,
                "deleted_at": timezone.now(),
            },
        )


def user_roles_replace(
    *, actor: User, user: User, role_names: Iterable[str], expected_version: int | None = None
) -> User:
    """Give the user exactly these roles. Taking `Admin` from the last account that can administer
    is refused (409); the Admin role's row is locked first, so two admins cannot demote each other
    at the same time."""
    names = {name.strip() for name in role_names}
    with transaction.atomic():
        Group.objects.select_for_update().filter(name=ADMIN_ROLE).first()
        locked = _locked_user(actor=actor, user=user, expected_version=expected_version)
        held = set(locked.groups.values_list("name", flat=True))
        if held == names:
            return locked
        losing_admin = ADMIN_ROLE in held and ADMIN_ROLE not in names and not locked.is_superuser
        if losing_admin and not selectors.admins_other_than(user=locked):
            raise Conflict(
                "This is the last account with the Admin role; give the role to someone else first.",
                code="last_admin",
            )
        user_roles_set(user=locked, role_names=names)
        # The roles are part of what the ETag stands for.
        return core_services.versioned_update(locked, fields={})


def user_set_active(*, actor: User, user: User, is_active: bool, expected_version: int | None = None) -> User:
    """Activate or deactivate an account. A deactivated account cannot sign in, and its tokens stop
    working at the next request. Admins cannot deactivate themselves."""
    if not is_active:
        _ensure_not_self(actor=actor, user=user, verb="deactivate")
    with transaction.atomic():
        locked = _locked_user(actor=actor, user=user, expected_version=expected_version)
        if locked.is_active == is_active:
            return locked
        if is_active and locked.approval_status != User.ApprovalStatus.APPROVED:
            raise Conflict(
                "This account has not been approved; approve it to activate it.", code="not_approved"
            )
        return core_services.versioned_update(locked, fields={"is_active": is_active})


def user_lock(*, actor: User, user: User, minutes: Any, expected_version: int | None = None) -> User:
    """Lock an account for `minutes` (1 to 43,200) from now; a lock already running is replaced."""
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int)
        or not (LOCK_MINUTES_MIN <= minutes <= LOCK_MINUTES_MAX)
    ):
        raise ValidationFailed(
            fields={
                "minutes": [f"Enter a whole number of minutes from {LOCK_MINUTES_MIN} to {LOCK_MINUTES_MAX}."]
            }
        )
    _ensure_not_self(actor=actor, user=user, verb="lock")
    with transaction.atomic():
        locked = _locked_user(actor=actor, user=user, expected_version=expected_version)
        before = locked.locked_until
        until = timezone.now() + timedelta(minutes=minutes)
        core_services.versioned_update(locked, fields={"locked_until": until})
        security_event_record(
            event="account_locked_by_admin",
            user=locked,
            before={"locked_until": before},
            locked_until=until,
            minutes=minutes,
        )
    return locked


def user_unlock(*, actor: User, user: User, expected_version: int | None = None) -> User:
    """Lift a lock and forget failed sign-in attempts; nothing happens to an account without either."""
    with transaction.atomic():
        locked = _locked_user(actor=actor, user=user, expected_version=expected_version)
        if all(getattr(locked, name) in (None, 0) for name in LOCKOUT_FIELDS):
            return locked
        before = locked.locked_until
        core_services.versioned_update(
            locked, fields=dict.fromkeys(LOCKOUT_FIELDS) | {"failed_login_count": 0}
        )
        security_event_record(
            event="account_unlocked_by_admin", user=locked, before={"locked_until": before}, locked_until=None
        )
    return locked


def user_soft_delete(*, actor: User, user: User, expected_version: int | None = None) -> User:
    """Move an account to the trash: it cannot sign in, its name and e-mail are free again, and it can
    be restored while nobody has taken them. Admins cannot delete themselves."""
    _ensure_not_self(actor=actor, user=user, verb="delete")
    with transaction.atomic():
        locked = _locked_user(actor=actor, user=user, expected_version=expected_version)
        return core_services.soft_delete(locked)


def user_restore(*, actor: User, user: User, expected_version: int | None = None) -> User:
    """Bring a deleted account back; 409 when its username or e-mail belongs to someone else now."""
    with transaction.atomic():
        locked = _locked_user(actor=actor, user=user, expected_version=expected_version, alive=False)
        return core_services.restore(locked)


def user_sessions_revoke(*, actor: User, user: User) -> int:
    """Log the user out everywhere (every refresh token blacklisted); returns how many were revoked."""
    _ensure_may_manage(actor=actor, user=user)
    return refresh_tokens_revoke_all(user=user)


# --- roles -------------------------------------------------------------------------------------------


def role_create(*, name: str) -> Group:
    """A new role. Names follow ROLE_NAME_RULES and are unique case-insensitively."""
    name = name.strip()
    if not ROLE_NAME.fullmatch(name):
        raise ValidationFailed(fields={"name": [f"A role name has {ROLE_NAME_RULES}"]})
    taken = ValidationFailed(fields={"name": ["A role with this name already exists."]})
    if selectors.role_name_taken(name=name):
        raise taken
    try:
        with transaction.atomic():
            return Group.objects.create(name=name)
    except IntegrityError as exc:
        raise taken from exc


def role_delete(*, role: Group) -> None:
    """Delete a role nobody holds. `User` and `Admin` are built in and stay."""
    with transaction.atomic():
        locked = Group.objects.select_for_update().filter(pk=role.pk).first()
        if locked is None:
            return
        if locked.name in BUILT_IN_ROLES:
            raise Conflict(f"The {locked.name} role is built in and cannot be deleted.", code="built_in_role")
        holders = selectors.role_member_count(role=locked)
        if holders:
            raise Conflict(
                f"{holders} user(s) hold this role; take it from them before deleting it.", code="role_in_use"
            )
        locked.delete()
