"""Reads of admin_app's tables: system messages (for other apps) and the audit trail; inference and
database reports for staff. Platform usage is read through conversations_app's selectors."""

from admin_app.selectors.audit import audit_event_list
from admin_app.selectors.database import (
    ConnectionsSummary,
    SlowStatements,
    database_connections,
    database_health,
    database_migrations,
    database_replication,
    database_slow_statements,
    database_tables,
)
from admin_app.selectors.inference import (
    InferenceServer,
    InstalledModel,
    inference_server_list,
    model_pull_get,
    model_pull_list,
    ollama_model_list,
)
from admin_app.selectors.system_messages import (
    system_message_get,
    system_message_get_active,
    system_message_list,
    system_message_list_published,
)

__all__ = [
    "ConnectionsSummary",
    "InferenceServer",
    "InstalledModel",
    "SlowStatements",
    "audit_event_list",
    "database_connections",
    "database_health",
    "database_migrations",
    "database_replication",
    "database_slow_statements",
    "database_tables",
    "inference_server_list",
    "model_pull_get",
    "model_pull_list",
    "ollama_model_list",
    "system_message_get",
    "system_message_get_active",
    "system_message_list",
    "system_message_list_published",
]
