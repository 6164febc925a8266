"""The audit trail's recording: who did what to which record, when, from where, under which request.

Every app writes through this module; the events land in admin_app's append-only `AuditEvent` table,
which admin_app owns and serves to staff.

How events come about
---------------------
1. **Row changes record themselves.** PostgreSQL triggers (migration 0003) on the audited tables write
   one `AuditEvent` per inserted, updated, soft-deleted, restored or deleted row, with the before/after
   of the changed columns only. They see everything: `save()`, `QuerySet.update()` (a bulk soft delete
   of N rows leaves N events), `bulk_create`, `delete()`, raw SQL. Actions: `created`, `updated`,
   `soft_deleted`, `restored`, `deleted`; `target_type` is the model's label (`models_app.tag`).
2. **Everything else is recorded explicitly** with `audit_record(...)`: events that change no audited
   column (a failed login, sessions revoked, a pull requested from Ollama). Security events go through
   `auth_app.services.security_event_record`, which calls it.

Never call `audit_record` for a change the triggers already see: that would record it twice.

Who and from where
------------------
The triggers read the actor, request id and client IP from PostgreSQL settings that a database
execute-wrapper sets right before every INSERT/UPDATE/DELETE on an audited table, from the current
`AuditContext`:

- every HTTP request has one (`core.middleware.AuditContextMiddleware`): the actor is the
  authenticated user (JWT or session, read when the write happens), the IP is the client's
  (`core.http.client_ip`: the peer address, or X-Forwarded-For of `NUM_PROXIES` trusted proxies), the
  request id is core.request_id's; requests under `/api/v1/admin/` and `/admin/` are staff requests,
  for which changes to users' content are recorded in full, not only their trips to the trash;
- Celery tasks run under the context of the request that queued them (actor, IP and request id travel
  in message headers);
- anywhere else (a management command, a script), wrap the work:

      with audit_context(actor=user, staff=True):
          tag_update(tag=tag, changes=...)

  Without a context the change is recorded as the system's (actor NULL).

So an admin endpoint needs nothing special: call the service, and each row it changes leaves exactly
one event. To attribute work to someone else than the caller, nest an `audit_context(actor=...)`.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace
from typing import Any

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.http import HttpRequest

from core.http import client_ip
from core.request_id import get_request_id
from core.task_context import carry_into_tasks

FULL, TRASH = "full", "trash"
# The tables migration 0003 put triggers on: (mode, columns the triggers never record besides
# created_at, updated_at and version). A test checks the tables against the database.
AUDITED_TABLES: dict[str, tuple[str, frozenset[str]]] = {
    "auth_user": (
        FULL,
        frozenset(
            {
                "password",
                "last_login",
                "failed_login_count",
                "failed_login_window_started_at",
                "locked_until",
                "is_staff",
                "password_change_required",
            }
        ),
    ),
    "auth_group": (FULL, frozenset()),
    "models_app_aimodel": (FULL, frozenset({"search_vector", "tag_names", "install_progress"})),
    "models_app_tag": (FULL, frozenset()),
    "models_app_modeltag": (FULL, frozenset()),
    "models_app_rolemodelaccess": (FULL, frozenset()),
    "admin_app_systemmessage": (FULL, frozenset()),
    "conversations_app_folder": (TRASH, frozenset()),
    "conversations_app_conversation": (TRASH, frozenset()),
    "conversations_app_note": (TRASH, frozenset()),
    "conversations_app_feedback": (TRASH, frozenset()),
    "conversations_app_attachment": (TRASH, frozenset()),
}
NEVER_RECORDED = frozenset({"created_at", "updated_at", "version"})
STAFF_PATH_PREFIXES = ("/api/v1/admin/", "/admin/")

_WRITE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
# The columns an UPDATE assigns (`SET "a" = ..., "b" = ...`); a false match only costs a statement.
_ASSIGNED = re.compile(r'(?:\bSET\s+|,\s*)"?(\w+)"?\s*=(?!=)', re.IGNORECASE)
# Session-level on purpose: they must hold for writes outside a transaction too. Every write on an
# audited table sets all of them first, so a value can never outlive the write it was meant for.
SET_AUDIT_SETTINGS = (
    "SELECT set_config('ollamanet.audit_actor_id', %s, false),"
    " set_config('ollamanet.audit_actor', %s, false),"
    " set_config('ollamanet.audit_request_id', %s, false), set_config('ollamanet.audit_ip', %s, false),"
    " set_config('ollamanet.audit_all', %s, false)"
)


@dataclass(frozen=True)
class AuditContext:
    """Who is acting, from where, under which request id. The actor is read when it is needed, so a
    request's context knows the user DRF authenticates after the middleware ran."""

    request: HttpRequest | None = None
    actor: Any = None
    actor_id: str = ""
    actor_repr: str = ""
    request_id: str = ""
    ip_address: str = ""
    staff: bool = False

    def who(self) -> tuple[str, str]:
        """(actor id, actor name), ("", "") for the system or an anonymous caller."""
        user = self.actor
        if user is None and self.request is not None:
            user = getattr(self.request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            return str(user.pk), user.get_username()[:150]
        try:
            return str(uuid.UUID(self.actor_id)), self.actor_repr[:150]
        except ValueError:
            return "", ""

    def current_request_id(self) -> str:
        return (self.request_id or get_request_id())[:64]

    def settings_values(self) -> list[str]:
        """Values of the `ollamanet.audit_*` settings the triggers read, in SET_AUDIT_SETTINGS order."""
        actor_id, actor_repr = self.who()
        return [actor_id, actor_repr, self.current_request_id(), self.ip_address, "on" if self.staff else ""]


NO_CONTEXT = AuditContext()
_current: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)


def normalised_ip(value: str | None) -> str:
    """`value` as an IP address PostgreSQL's `inet` accepts, "" when it is not one."""
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return ""


def is_staff_request(request: HttpRequest) -> bool:
    return request.path.startswith(STAFF_PATH_PREFIXES)


def current_audit_context() -> AuditContext | None:
    return _current.get()


def context_for_request(request: HttpRequest) -> AuditContext:
    return AuditContext(request=request, ip_address=client_ip(request), staff=is_staff_request(request))


@contextmanager
def audit_context(
    *,
    actor: Any = None,
    request: HttpRequest | None = None,
    actor_id: str = "",
    actor_repr: str = "",
    request_id: str = "",
    ip_address: str = "",
    staff: bool | None = None,
) -> Iterator[AuditContext]:
    """Attribute the writes (and explicit events) of the block. Nested contexts inherit what they do
    not set from the enclosing one."""
    base = _current.get() or (context_for_request(request) if request is not None else NO_CONTEXT)
    changes: dict[str, Any] = {}
    if actor is not None or actor_id:
        changes.update(actor=actor, actor_id=actor_id, actor_repr=actor_repr, request=None)
    if request_id:
        changes["request_id"] = request_id
    if ip_address:
        changes["ip_address"] = normalised_ip(ip_address)
    if staff is not None:
        changes["staff"] = staff
    token = _current.set(replace(base, **changes))
    try:
        yield _current.get()  # type: ignore[misc]
    finally:
        _current.reset(token)


def enter_context(context: AuditContext) -> Token:
    """For middleware and task hooks that cannot use a `with` block; pair with `exit_context`."""
    return _current.set(context)


def exit_context(token: Token) -> None:
    _current.reset(token)


# --- the database side -------------------------------------------------------------------------------


def _may_record(sql: str) -> bool:
    """Whether this statement can make the triggers write an event (so they need fresh settings).

    Only an UPDATE of a staff-managed table that assigns nothing but never-recorded columns (sign-in
    bookkeeping, pull progress) cannot; users' content tables always get fresh settings, since
    whether they record an edit depends on the settings themselves.
    """
    match = _WRITE.match(sql)
    if match is None or match.group(2) not in AUDITED_TABLES:
        return False
    mode, ignored = AUDITED_TABLES[match.group(2)]
    if mode != FULL or not match.group(1).upper().startswith("UPDATE"):
        return True
    assigned = set(_ASSIGNED.findall(sql.split(" WHERE ", 1)[0]))
    return not assigned or not assigned <= ignored | NEVER_RECORDED


def audit_execute_wrapper(execute, sql, params, many, context):
    """Set the `ollamanet.audit_*` settings before each write that can leave an audit event (one
    extra statement per such write; reads and everything else pass through untouched)."""
    if isinstance(sql, str) and _may_record(sql):
        values = (_current.get() or NO_CONTEXT).settings_values()
        context["cursor"].execute(SET_AUDIT_SETTINGS, values)
    return execute(sql, params, many, context)


def install_audit_wrapper(sender: Any = None, connection: Any = None, **_: Any) -> None:
    """`connection_created` receiver: every database connection carries the wrapper."""
    if connection is not None and audit_execute_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(audit_execute_wrapper)


# --- explicit events ---------------------------------------------------------------------------------


def _jsonable(values: Mapping[str, Any] | None) -> dict[str, Any]:
    return json.loads(json.dumps(dict(values or {}), cls=DjangoJSONEncoder))


def audit_record(
    *,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor: Any = None,
) -> Any:
    """Record one event (an `admin_app.AuditEvent`) the row triggers cannot see. The actor, request
    id and IP come from the current context unless `actor` is given (a user acting on their own
    behalf, e.g. signing in).

    Part of the caller's transaction: an action that rolls back leaves no event.
    """
    context = _current.get() or NO_CONTEXT
    if actor is not None:
        context = replace(context, actor=actor)
    actor_id, actor_repr = context.who()
    if target is not None:
        target_type, target_id = target._meta.label_lower, str(target.pk)
    # The table is admin_app's (append-only, written by the triggers too); looked up by name, so the
    # kernel every app records through imports no app.
    audit_event = apps.get_model("admin_app", "AuditEvent")
    return audit_event.objects.create(
        actor_id=actor_id or None,
        actor_repr=actor_repr,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=_jsonable(before),
        after=_jsonable(after),
        request_id=context.current_request_id()[:64],
        ip_address=context.ip_address or None,
    )


# --- Celery: a task acts for whoever queued it -------------------------------------------------------

CELERY_HEADER = "ollamanet_audit"


def _context_for_task(context: AuditContext | None) -> dict[str, Any] | None:
    if context is None:
        return None
    actor_id, actor_repr = context.who()
    return {
        "actor_id": actor_id,
        "actor_repr": actor_repr,
        "request_id": context.current_request_id(),
        "ip_address": context.ip_address,
        "staff": context.staff,
    }


def _context_from_task(carried: Any) -> AuditContext:
    carried = carried if isinstance(carried, dict) else {}
    return AuditContext(
        actor_id=str(carried.get("actor_id") or ""),
        actor_repr=str(carried.get("actor_repr") or ""),
        request_id=str(carried.get("request_id") or ""),
        ip_address=normalised_ip(str(carried.get("ip_address") or "")),
        staff=bool(carried.get("staff")),
    )


def connect_celery_signals() -> None:
    carry_into_tasks(_current, header=CELERY_HEADER, dump=_context_for_task, load=_context_from_task)
