"""Writes on conversations_app's tables, re-exported from the modules of this package."""

from conversations_app.services.accounts import account_delete, account_purge, account_purge_expired
from conversations_app.services.attachments import (
    attachment_create,
    attachment_delete,
    attachment_extract_text,
    attachment_files_release,
    attachments_queue_pending,
    sniff_content_type,
)
from conversations_app.services.chat import (
    ExchangeRelay,
    answer_piece,
    conversation_switch_branch,
    exchange_chat_messages,
    exchange_complete,
    exchange_edit,
    exchange_fail,
    exchange_interrupt,
    exchange_interrupt_stale,
    exchange_regenerate,
    exchange_start,
)
from conversations_app.services.conversations import (
    conversation_api_history_set,
    conversation_create,
    conversation_update,
)
from conversations_app.services.exports import (
    export_download_token,
    export_for_download,
    export_job_create,
    transfer_files_purge_expired,
)
from conversations_app.services.feedback import feedback_create, feedback_delete, feedback_update
from conversations_app.services.folders import folder_create, folder_update
from conversations_app.services.imports import (
    ImportOutcome,
    conversation_import,
    import_job_create,
    import_job_run,
)
from conversations_app.services.labels import label_create, label_delete, label_update
from conversations_app.services.notes import note_create, note_delete, note_update
from conversations_app.services.shares import (
    conversation_fork_shared,
    shared_link_create,
    shared_link_record_access,
    shared_link_revoke,
)
from conversations_app.services.titles import conversation_title_generate
from conversations_app.services.trash import (
    conversation_purge,
    conversation_restore,
    conversation_soft_delete,
    exchange_purge,
    exchange_restore,
    exchange_soft_delete,
    folder_descendant_ids,
    folder_purge,
    folder_restore,
    folder_soft_delete,
    trash_empty,
    trash_purge_expired,
)

__all__ = [
    "ExchangeRelay",
    "ImportOutcome",
    "account_delete",
    "account_purge",
    "account_purge_expired",
    "answer_piece",
    "attachment_create",
    "attachment_delete",
    "attachment_extract_text",
    "attachment_files_release",
    "attachments_queue_pending",
    "conversation_api_history_set",
    "conversation_create",
    "conversation_fork_shared",
    "conversation_import",
    "conversation_purge",
    "conversation_restore",
    "conversation_soft_delete",
    "conversation_switch_branch",
    "conversation_title_generate",
    "conversation_update",
    "exchange_chat_messages",
    "exchange_complete",
    "exchange_edit",
    "exchange_fail",
    "exchange_interrupt",
    "exchange_interrupt_stale",
    "exchange_purge",
    "exchange_regenerate",
    "exchange_restore",
    "exchange_soft_delete",
    "exchange_start",
    "export_download_token",
    "export_for_download",
    "export_job_create",
    "feedback_create",
    "feedback_delete",
    "feedback_update",
    "folder_create",
    "folder_descendant_ids",
    "folder_purge",
    "folder_restore",
    "folder_soft_delete",
    "folder_update",
    "import_job_create",
    "import_job_run",
    "label_create",
    "label_delete",
    "label_update",
    "note_create",
    "note_delete",
    "note_update",
    "shared_link_create",
    "shared_link_record_access",
    "shared_link_revoke",
    "sniff_content_type",
    "transfer_files_purge_expired",
    "trash_empty",
    "trash_purge_expired",
]
