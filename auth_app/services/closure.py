"""Closing one's own account: the checks, the sessions and keys revoked at once, the soft delete, and
the final purge of the user's row after the retention period.

The account's content (conversations, folders...) belongs to apps built on this one: their services
take it with the account (conversations_app.services.account_delete), in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.apps import apps
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from auth_app import selectors
from auth_app.models import User
from auth_app.services.events import security_event_record
from auth_app.services.tokens import refresh_tokens_blacklist
from core import services as core_services
from core.exceptions import Conflict, ValidationFailed
from core.permissions import ADMIN_ROLE


def _api_keys_revoke(user: User) -> int:
    """Revoke the user's API keys, when the platform has them (an `auth_app.ApiKey` model with a
    `revoked_at` column); returns how many were revoked."""
    try:
        model = apps.get_model("auth_app", "ApiKey")
    except LookupError:
        return 0
    names = {field.attname for field in model._meta.concrete_fields}
    owner = "user_id" if "user_id" in names else "owner_id"
    keys = model._base_manager.filter(**{owner: user.pk})
    if "revoked_at" in names:
        return keys.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    if "is_active" in names:
        return keys.filter(is_active=True).update(is_active=False)
    return keys.delete()[0]


def user_close_own_account(*, user: User, password: str) -> User:
    """Delete the caller's own account: the password must be right (400 otherwise), and the last
    account that can administer the platform cannot leave it (409 `last_admin`). Every refresh
    token (and API key) is revoked at once, the account is soft-deleted (it can no longer sign in;
    its access tokens stop working at the next request) and the deletion is audited.

    Runs in the caller's transaction when there is one, so the account's content goes with it."""
    if not user.check_password(password):
        security_event_record(event="account_deletion_failed", user=user)
        raise ValidationFailed(fields={"password": ["The password is not correct."]})
    with transaction.atomic():
        # The Admin role's row first: two admins leaving at once cannot both be "another admin".
        Group.objects.select_for_update().filter(name=ADMIN_ROLE).first()
        locked = core_services.lock_for_update(User, user.pk)
        core_services.ensure_alive(locked)
        can_administer = locked.is_superuser or locked.groups.filter(name=ADMIN_ROLE).exists()
        if can_administer and not selectors.admins_other_than(user=locked):
            raise Conflict(
                "You are the last administrator; give the Admin role to someone else before deleting "
                "your account.",
                code="last_admin",
            )
        revoked = refresh_tokens_blacklist(OutstandingToken.objects.filter(user=locked))
        keys = _api_keys_revoke(locked)
        core_services.soft_delete(locked)
        security_event_record(
            event="account_deleted", user=locked, sessions_revoked=revoked, api_keys_revoked=keys
        )
    user.refresh_from_db()
    return user


def users_deleted_before(*, deleted_before: datetime) -> list[User]:
    """Soft-deleted accounts deleted before `deleted_before` (what the retention purge takes)."""
    return list(User.all_objects.filter(deleted_at__lt=deleted_before).order_by("deleted_at", "pk"))


def user_purge(*, user: User) -> None:
    """Delete a soft-deleted account for good, with its refresh tokens. Its content must be gone
    already (the apps that own it purge it first). Conflict when the account is alive."""
    with transaction.atomic():
        locked = core_services.lock_for_update(User, user.pk)
        core_services.ensure_deleted(locked)
        OutstandingToken.objects.filter(user=locked).delete()
        User._base_manager.filter(pk=locked.pk).delete()
