"""Reads of conversations_app's tables, re-exported from the modules of this package."""

from conversations_app.selectors.attachments import attachment_list
from conversations_app.selectors.conversations import (
    ConversationExport,
    conversation_count_per_model,
    conversation_export,
    conversation_for_api_history,
    conversation_get,
    conversation_list,
    label_list,
    response_get_owned,
    with_label_ids,
)
from conversations_app.selectors.feedback import feedback_get
from conversations_app.selectors.folders import folder_get_owned, folder_list
from conversations_app.selectors.notes import note_list
from conversations_app.selectors.platform_usage import (
    PLATFORM_USAGE_GROUPS,
    PLATFORM_USAGE_MAX_DAYS,
    platform_feedback_by_model,
    platform_feedback_totals,
    platform_usage_by_day,
    platform_usage_totals,
)
from conversations_app.selectors.preferences import (
    Preference,
    answer_preferences,
    feedback_by_model_and_user,
)
from conversations_app.selectors.search import SearchHit, message_search, message_search_statement
from conversations_app.selectors.shares import (
    shared_link_get_open,
    shared_link_get_owned,
    shared_link_list,
)
from conversations_app.selectors.transfers import transfer_job_get
from conversations_app.selectors.trash import (
    trashed_conversation_list,
    trashed_exchange_list,
    trashed_folder_list,
)
from conversations_app.selectors.usage import usage_by_model_and_day, usage_totals

__all__ = [
    "PLATFORM_USAGE_GROUPS",
    "PLATFORM_USAGE_MAX_DAYS",
    "ConversationExport",
    "Preference",
    "SearchHit",
    "answer_preferences",
    "attachment_list",
    "conversation_count_per_model",
    "conversation_export",
    "conversation_for_api_history",
    "conversation_get",
    "conversation_list",
    "feedback_by_model_and_user",
    "feedback_get",
    "folder_get_owned",
    "folder_list",
    "label_list",
    "message_search",
    "message_search_statement",
    "note_list",
    "platform_feedback_by_model",
    "platform_feedback_totals",
    "platform_usage_by_day",
    "platform_usage_totals",
    "response_get_owned",
    "shared_link_get_open",
    "shared_link_get_owned",
    "shared_link_list",
    "transfer_job_get",
    "trashed_conversation_list",
    "trashed_exchange_list",
    "trashed_folder_list",
    "usage_by_model_and_day",
    "usage_totals",
    "with_label_ids",
]
