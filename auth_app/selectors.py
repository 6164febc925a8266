"""Reads on accounts. Other apps look users up through these, never through the ORM on User."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import Group
from django.contrib.postgres.aggregates import ArrayAgg
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ValidationError
from django.db.models import BigIntegerField, Count, F, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from auth_app.models import ApiKey, ApiUsage, User
from auth_app.querysets import UserQuerySet
from core.exceptions import NotFound
from core.permissions import ADMIN_ROLE

USERNAME_TAKEN = "A user with that username already exists."
EMAIL_TAKEN = "A user with that e-mail address already exists."


def user_profile_get(*, user_id: Any) -> User:
    """An alive user with `role_names` (sorted Group names) annotated: one query."""
    return User.objects.annotate(
        role_names=ArrayAgg(
            "groups__name",
            filter=Q(groups__isnull=False),
            order_by="groups__name",
            default=[],
        )
    ).get(pk=user_id)


def user_identity_conflicts(
    *, username: str | None = None, email: str | None = None, exclude_id: Any = None
) -> dict[str, list[str]]:
    """Field errors for a username and/or e-mail already used by another alive user (one query).

    Compared case-insensitively, as the partial unique constraints compare them.
    """
    if not username and not email:
        return {}
    condition = Q()
    if username:
        condition |= Q(username_lower=username.strip().lower())
    if email:
        condition |= Q(email_lower=email.strip().lower())
    matches = User.objects.alias(username_lower=Lower("username"), email_lower=Lower("email")).filter(
        condition
    )
    if exclude_id is not None:
        matches = matches.exclude(pk=exclude_id)
    errors: dict[str, list[str]] = {}
    for taken_username, taken_email in matches.values_list("username", "email"):
        if username and taken_username.lower() == username.strip().lower():
            errors["username"] = [USERNAME_TAKEN]
        if email and taken_email.lower() == email.strip().lower():
            errors["email"] = [EMAIL_TAKEN]
    return errors


def user_get_for_password_reset(*, email: str) -> User | None:
    """The alive, active user with this address and a usable password, or None."""
    user = User.objects.by_email(email).filter(is_active=True).first()
    return user if user is not None and user.has_usable_password() else None


def user_get_alive(*, user_id: Any) -> User | None:
    """An alive user by id, or None (also for ids that are not UUIDs)."""
    try:
        return User.objects.filter(pk=user_id).first()
    except (TypeError, ValueError, ValidationError):
        return None


def user_roles(*, user_id: Any) -> QuerySet[Group]:
    """The roles (Groups) the user holds, unevaluated: other apps use it inside their own queries, as
    a subquery, so it costs them no query of its own."""
    return Group.objects.filter(user=user_id)


def roles_get(*, names: set[str]) -> list[Group]:
    """The roles (Groups) among `names` that exist."""
    return list(Group.objects.filter(name__in=names))


def refresh_tokens_outstanding(*, user: User) -> QuerySet[OutstandingToken]:
    """The user's refresh tokens that are neither expired nor revoked."""
    return OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )


# --- Staff views of accounts and roles -----------------------------------------------------------------


def users_for_admin() -> UserQuerySet:
    """Every user, soft-deleted ones included, with `role_names` (sorted Group names) from a subquery,
    so a page of users is one query whatever its size."""
    roles = Group.objects.filter(user=OuterRef("pk")).order_by("name").values("name")
    return User.all_objects.annotate(role_names=ArraySubquery(roles)).order_by("username", "id")


def user_get_for_admin(*, user_id: Any) -> User:
    """One user (soft-deleted included) as `users_for_admin` has it; NotFound when there is none."""
    try:
        return users_for_admin().get(pk=user_id)
    except (User.DoesNotExist, TypeError, ValueError, ValidationError) as exc:
        raise NotFound() from exc


def roles_with_member_counts() -> QuerySet[Group]:
    """Every role by name, with `member_count`: how many alive users hold it (one query)."""
    return Group.objects.annotate(
        member_count=Count("user", filter=Q(user__deleted_at__isnull=True))
    ).order_by("name")


def role_get(*, role_id: Any) -> Group:
    """A role by id; NotFound when there is none."""
    try:
        return Group.objects.get(pk=role_id)
    except (Group.DoesNotExist, TypeError, ValueError) as exc:
        raise NotFound() from exc


def role_get_for_update(*, role_id: Any) -> Group:
    """A role by id, its row locked for the rest of the transaction; NotFound when there is none."""
    try:
        return Group.objects.select_for_update().get(pk=role_id)
    except (Group.DoesNotExist, TypeError, ValueError) as exc:
        raise NotFound() from exc


def role_name_taken(*, name: str) -> bool:
    """Whether a role is already called `name`, compared case-insensitively."""
    return Group.objects.filter(name__iexact=name.strip()).exists()


def role_member_count(*, role: Group) -> int:
    """How many alive users hold `role`."""
    return User.objects.filter(groups=role).count()


def admins_other_than(*, user: User) -> bool:
    """Whether an alive, active account other than `user` can administer (Admin role or superuser)."""
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=ADMIN_ROLE))
        .exclude(pk=user.pk)
        .exists()
    )


# --- API keys and their usage ---------------------------------------------------------------------------


def _total(field: str) -> Coalesce:
    return Coalesce(Sum(field), Value(0), output_field=BigIntegerField())


def _with_usage_totals(keys: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
    """`usage_requests`, `usage_prompt_tokens`, `usage_eval_tokens`: the key's totals over all days."""
    return keys.annotate(
        usage_requests=_total("usage__requests"),
        usage_prompt_tokens=_total("usage__prompt_tokens"),
        usage_eval_tokens=_total("usage__eval_tokens"),
    )


def api_keys_of_user(*, user: User) -> QuerySet[ApiKey]:
    """The user's unrevoked keys (expired ones included), newest first, with their usage totals: one
    query per page."""
    return _with_usage_totals(ApiKey.objects.filter(user=user, revoked_at__isnull=True)).order_by(
        "-created_at", "-id"
    )


def api_keys_for_admin() -> QuerySet[ApiKey]:
    """Every key (revoked ones too) with its owner and usage totals, newest first: one query per page."""
    return _with_usage_totals(ApiKey.objects.select_related("user")).order_by("-created_at", "-id")


def api_key_get_for_admin(*, key_id: Any) -> ApiKey:
    """One key as `api_keys_for_admin` has it; NotFound when there is none."""
    try:
        return api_keys_for_admin().get(pk=key_id)
    except (ApiKey.DoesNotExist, TypeError, ValueError, ValidationError) as exc:
        raise NotFound() from exc


def _usage_in(start: datetime.date | None, end: datetime.date | None) -> QuerySet[ApiUsage]:
    rows = ApiUsage.objects.all()
    if start is not None:
        rows = rows.filter(day__gte=start)
    if end is not None:
        rows = rows.filter(day__lte=end)
    return rows


API_USAGE_MEASURES = ("requests", "prompt_tokens", "eval_tokens")


def api_usage_by_key_and_day(
    *, user: User, since: datetime.date | None = None, until: datetime.date | None = None
) -> list[dict[str, Any]]:
    """The user's API use per (UTC day, key), oldest day first: `day`, `api_key_id`, `api_key_name` and
    `api_key_prefix` (None for signed-in use without a key), `requests`, `prompt_tokens`,
    `eval_tokens`. Revoked keys count: their tokens were spent. One query."""
    rows = (
        _usage_in(since, until)
        .filter(user=user)
        .values("day", "api_key_id", api_key_name=F("api_key__name"), api_key_prefix=F("api_key__prefix"))
        .annotate(**{measure: _total(measure) for measure in API_USAGE_MEASURES})
        .order_by("day", "api_key_name", "api_key_id")
    )
    return list(rows)


def api_usage_report(*, start: datetime.date, end: datetime.date) -> QuerySet:
    """Staff: API use per (UTC day, user, key) over the days, oldest first, then by username."""
    return (
        _usage_in(start, end)
        .values(
            "day",
            "user_id",
            "api_key_id",
            username=F("user__username"),
            api_key_name=F("api_key__name"),
            api_key_prefix=F("api_key__prefix"),
        )
        .annotate(**{measure: _total(measure) for measure in API_USAGE_MEASURES})
        .order_by("day", "username", "user_id", "api_key_name", "api_key_id")
    )


def api_usage_totals(*, start: datetime.date, end: datetime.date) -> dict[str, Any]:
    """Staff: the same measures over the days, with how many users and keys were used."""
    return _usage_in(start, end).aggregate(
        **{measure: _total(measure) for measure in API_USAGE_MEASURES},
        users=Count("user", distinct=True),
        api_keys=Count("api_key", distinct=True),
    )
