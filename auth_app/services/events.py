"""The one funnel of security events."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from auth_app.models import User
from core.audit import audit_record

security_logger = logging.getLogger("auth_app.security")

# Events the audit trail already has as a row change (the new user's row), not recorded twice.
RECORDED_AS_ROW_CHANGE = frozenset({"user_registered"})
# Events where the person acting is the account itself, whoever the request says is signed in.
ACTED_BY_THE_USER = frozenset({"login_succeeded", "password_reset_completed", "temporary_password_replaced"})


def security_event_record(
    *, event: str, user: User | None = None, before: Mapping[str, Any] | None = None, **details: Any
) -> None:
    """Record a security event: login succeeded/failed, account locked, password changed/reset,
    sessions revoked, roles changed, locked/unlocked by an admin. Logged on `auth_app.security` and
    written to the audit trail (`details` as the "after", `before` when the event changes values)."""
    security_logger.info(
        "security event %s",
        event,
        extra={"security_event": event, "user_id": str(user.pk) if user else None, "details": details},
    )
    if event in RECORDED_AS_ROW_CHANGE:
        return
    audit_record(
        action=event,
        target=user,
        target_type=User._meta.label_lower,
        before=before,
        after=details,
        actor=user if event in ACTED_BY_THE_USER else None,
    )
