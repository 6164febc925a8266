"""Passwords: change (signed in) and reset (by e-mailed link)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from auth_app import selectors
from auth_app.models import User
from auth_app.services.accounts import lockout_forget, password_problems
from auth_app.services.events import security_event_record
from auth_app.services.tokens import TokenPair, refresh_tokens_blacklist, token_pair_issue
from core.exceptions import ValidationFailed
from core.queue import enqueue_on_commit, require_task_queue

logger = logging.getLogger(__name__)

INVALID_RESET_LINK = "The password reset link is invalid or has expired."


def user_password_change(*, user: User, old_password: str, new_password: str) -> TokenPair:
    """Change the password, revoke every refresh token of the user and return a fresh pair.

    Access tokens issued before stop working too (they carry a digest of the old password hash).
    """
    if not user.check_password(old_password):
        security_event_record(event="password_change_failed", user=user)
        raise ValidationFailed(fields={"old_password": ["The current password is not correct."]})
    problems = password_problems(new_password, user=user)
    if new_password == old_password:
        problems.insert(0, "The new password must differ from the current one.")
    if problems:
        raise ValidationFailed(fields={"new_password": problems})
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password", "updated_at"])
        revoked = refresh_tokens_blacklist(selectors.refresh_tokens_outstanding(user=user))
        tokens = token_pair_issue(user=user)
    security_event_record(event="password_changed", user=user, revoked=revoked)
    return tokens


def user_password_reset_request(*, email: str) -> None:
    """Send a reset link when an active account has this address; do nothing visible otherwise.

    The e-mail goes out from a background task, so the response takes as long either way. While the
    task queue is unreachable every request is refused alike (TaskQueueUnavailable, 503) before the
    address is even looked up: nothing would send the e-mail, and the answer must not depend on
    whether the address exists.
    """
    require_task_queue()
    user = selectors.user_get_for_password_reset(email=email)
    security_event_record(event="password_reset_requested", user=user)
    if user is not None:
        enqueue_on_commit("auth_app.tasks.send_password_reset_email", str(user.pk))


def password_reset_email_send(*, user_id: str, invitation: bool = False) -> bool:
    """Mail the user a link carrying uid + token (Django's token generator); False when the account
    can no longer reset its password. The token is valid for PASSWORD_RESET_TIMEOUT seconds and
    only until the password (or last login) changes, which makes it single-use. `invitation`: the
    account was just created by staff, and the link is how its owner chooses a first password."""
    user = selectors.user_get_alive(user_id=user_id)
    if user is None or not user.is_active or not user.has_usable_password():
        return False
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = settings.PASSWORD_RESET_URL.format(uid=uid, token=default_token_generator.make_token(user))
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    if invitation:
        subject = "Your OllamaNet account"
        reason = (
            f"an administrator has created an OllamaNet account for you (username: {user.username}). "
            "To choose your password, open"
        )
        otherwise = "If you did not expect it, ignore this e-mail: nobody can sign in without that password."
    else:
        subject = "Reset your OllamaNet password"
        reason = "someone asked to reset the password of your OllamaNet account. To choose a new one, open"
        otherwise = "If you did not ask for it, ignore this e-mail: your password stays as it is."
    send_mail(
        subject=subject,
        message=(
            f"Hello {user.get_short_name()},\n\n{reason}\n\n{link}\n\n"
            f"The link works once and expires in {minutes} minutes. {otherwise}\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    return True


def _user_id_from_uid(uid: str) -> str | None:
    try:
        return force_str(urlsafe_base64_decode(uid))
    except (TypeError, ValueError, UnicodeDecodeError):
        return None


def user_password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password from a reset link; revokes every refresh token and lifts a lockout.

    The row is locked while the token is checked, so one link cannot be used twice concurrently.
    """
    user_id = _user_id_from_uid(uid)
    with transaction.atomic():
        try:
            user = User.objects.select_for_update().filter(pk=user_id).first() if user_id else None
        except (ValueError, DjangoValidationError):
            user = None  # the uid decoded to something that is not a user id
        if user is None or not user.is_active or not default_token_generator.check_token(user, token):
            raise ValidationFailed(INVALID_RESET_LINK, fields={"token": [INVALID_RESET_LINK]})
        problems = password_problems(new_password, user=user)
        if problems:
            raise ValidationFailed(fields={"new_password": problems})
        user.set_password(new_password)
        user.password_change_required = False  # the owner chose this one
        user.save(update_fields=["password", "password_change_required", "updated_at", *lockout_forget(user)])
        revoked = refresh_tokens_blacklist(selectors.refresh_tokens_outstanding(user=user))
    security_event_record(event="password_reset_completed", user=user, revoked=revoked)
    return user
