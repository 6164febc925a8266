"""Resource views of the conversations API: folders, conversations, attachments, feedback, notes,
search, export, trash and usage. Each action validates, calls one service, serializes."""

from conversations_app.api.views.annotations import FeedbackView, NoteViewSet
from conversations_app.api.views.attachments import AttachmentViewSet
from conversations_app.api.views.conversations import ConversationViewSet
from conversations_app.api.views.folders import FolderViewSet
from conversations_app.api.views.search import SearchView
from conversations_app.api.views.trash import TrashedConversationViewSet, TrashedFolderViewSet, TrashView
from conversations_app.api.views.usage import UserUsageView

__all__ = [
    "AttachmentViewSet",
    "ConversationViewSet",
    "FeedbackView",
    "FolderViewSet",
    "NoteViewSet",
    "SearchView",
    "TrashView",
    "TrashedConversationViewSet",
    "TrashedFolderViewSet",
    "UserUsageView",
]
