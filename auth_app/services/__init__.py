"""Writes on accounts: registration, roles, sign-in with lockout, refresh-token rotation and
revocation, profile, password change and reset. Other apps call these, never the ORM on User.

JWTs are simplejwt's: every refresh token is persisted as an `OutstandingToken` when issued and
revoked by blacklisting it. Security events all pass through `security_event_record`.
"""

from auth_app.services.accounts import (
    AccountPendingApproval,
    InvalidCredentials,
    PasswordChangeRequired,
    RegistrationClosed,
    user_login,
    user_profile_update,
    user_register,
    user_role_assign_default,
    user_roles_set,
)
from auth_app.services.admin import (
    role_create,
    role_delete,
    user_approve,
    user_create,
    user_lock,
    user_password_link_send,
    user_reject,
    user_restore,
    user_roles_replace,
    user_sessions_revoke,
    user_set_active,
    user_soft_delete,
    user_unlock,
)
from auth_app.services.closure import user_close_own_account, user_purge, users_deleted_before
from auth_app.services.events import security_event_record
from auth_app.services.passwords import (
    password_reset_email_send,
    user_password_change,
    user_password_reset_confirm,
    user_password_reset_request,
)
from auth_app.services.tokens import (
    InvalidRefreshToken,
    TokenPair,
    refresh_token_revoke,
    refresh_token_rotate,
    refresh_tokens_purge_expired,
    refresh_tokens_revoke_all,
)

__all__ = [
    "AccountPendingApproval",
    "InvalidCredentials",
    "InvalidRefreshToken",
    "PasswordChangeRequired",
    "RegistrationClosed",
    "TokenPair",
    "password_reset_email_send",
    "refresh_token_revoke",
    "refresh_token_rotate",
    "refresh_tokens_purge_expired",
    "refresh_tokens_revoke_all",
    "role_create",
    "role_delete",
    "security_event_record",
    "user_approve",
    "user_close_own_account",
    "user_create",
    "user_lock",
    "user_login",
    "user_password_change",
    "user_password_link_send",
    "user_password_reset_confirm",
    "user_password_reset_request",
    "user_profile_update",
    "user_purge",
    "user_register",
    "user_reject",
    "user_restore",
    "user_role_assign_default",
    "user_roles_replace",
    "user_roles_set",
    "user_sessions_revoke",
    "user_set_active",
    "user_soft_delete",
    "user_unlock",
    "users_deleted_before",
]
