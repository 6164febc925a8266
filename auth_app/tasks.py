"""Background work of accounts: password reset e-mails and the daily purge of expired refresh tokens."""

from __future__ import annotations

from celery import shared_task

from auth_app import services


@shared_task(name="auth_app.tasks.send_password_reset_email")
def send_password_reset_email(user_id: str, invitation: bool = False) -> bool:
    """Mail a password reset link to the user (nothing when the account can no longer use one);
    `invitation`: worded for an account staff have just created."""
    return services.password_reset_email_send(user_id=user_id, invitation=invitation)


@shared_task(name="auth_app.tasks.purge_expired_refresh_tokens")
def purge_expired_refresh_tokens() -> int:
    """Delete refresh tokens past their expiry, with their blacklist entries (idempotent)."""
    return services.refresh_tokens_purge_expired()
