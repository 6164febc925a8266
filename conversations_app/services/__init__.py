"""Writes on conversations_app's tables, re-exported from the modules of this package."""

from conversations_app.services.trash import (
    conversation_restore,
    conversation_soft_delete,
    folder_descendant_ids,
    folder_restore,
    folder_soft_delete,
)

__all__ = [
    "conversation_restore",
    "conversation_soft_delete",
    "folder_descendant_ids",
    "folder_restore",
    "folder_soft_delete",
]
