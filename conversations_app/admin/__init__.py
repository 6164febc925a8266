"""Django admin of conversations: staff moderate what users wrote (folders, conversations, feedback,
notes, attachments, labels) and read the messages; nothing here is authored by staff.

Conversations and folders go to the trash and come back through the services, so what a
conversation owns (exchanges, messages, feedback, notes, attachments) follows it. Exchanges and
their prompt and answer are the record of what was said: read-only, deleted with their conversation.
"""

from conversations_app.admin.annotations import (
    AttachmentAdmin,
    ConversationLabelAdmin,
    FeedbackAdmin,
    LabelAdmin,
    NoteAdmin,
    TransferJobAdmin,
)
from conversations_app.admin.conversations import ConversationAdmin, FolderAdmin
from conversations_app.admin.messages import AIResponseAdmin, ExchangeAdmin, PromptAdmin
from conversations_app.admin.shares import SharedLinkAdmin

__all__ = [
    "AIResponseAdmin",
    "AttachmentAdmin",
    "ConversationAdmin",
    "ConversationLabelAdmin",
    "ExchangeAdmin",
    "FeedbackAdmin",
    "FolderAdmin",
    "LabelAdmin",
    "NoteAdmin",
    "PromptAdmin",
    "SharedLinkAdmin",
    "TransferJobAdmin",
]
