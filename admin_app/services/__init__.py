"""Writes of admin_app: catalogue and inference services, system messages. The audit trail's
recording is the kernel's (core.audit), which every app writes through."""

from admin_app.services.catalogue import aimodel_create_from_ollama
from admin_app.services.inference import (
    PullRequestOutcome,
    model_pull_request,
    model_pull_run,
    ollama_model_delete,
)
from admin_app.services.servers import CatalogueSync, catalogue_sync
from admin_app.services.system_messages import (
    system_message_create,
    system_message_restore,
    system_message_soft_delete,
    system_message_update,
)

__all__ = [
    "CatalogueSync",
    "PullRequestOutcome",
    "aimodel_create_from_ollama",
    "catalogue_sync",
    "model_pull_request",
    "model_pull_run",
    "ollama_model_delete",
    "system_message_create",
    "system_message_restore",
    "system_message_soft_delete",
    "system_message_update",
]
