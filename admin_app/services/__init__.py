"""Writes of admin_app: the audit trail (explicit events and the context row changes are
attributed to). Catalogue and inference services live beside it."""

from admin_app.services.audit import AuditContext, audit_context, audit_record, current_audit_context
from admin_app.services.catalogue import aimodel_create_from_ollama
from admin_app.services.inference import (
    PullRequestOutcome,
    model_pull_request,
    model_pull_run,
    ollama_model_delete,
)
from admin_app.services.system_messages import (
    system_message_create,
    system_message_restore,
    system_message_soft_delete,
    system_message_update,
)

__all__ = [
    "AuditContext",
    "PullRequestOutcome",
    "aimodel_create_from_ollama",
    "audit_context",
    "audit_record",
    "current_audit_context",
    "model_pull_request",
    "model_pull_run",
    "ollama_model_delete",
    "system_message_create",
    "system_message_restore",
    "system_message_soft_delete",
    "system_message_update",
]
