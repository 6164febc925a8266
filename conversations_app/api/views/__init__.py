"""Views of the conversations API: folders, conversations, attachments, feedback, notes, search,
export, trash and usage (each action validates, calls one service, serializes), and chat (async
views streaming answers)."""

from conversations_app.api.views.annotations import FeedbackView, NoteViewSet
from conversations_app.api.views.attachments import AttachmentViewSet
from conversations_app.api.views.chat import (
    ConversationMessagesView,
    ExchangeDetailView,
    ExchangeEditView,
    ExchangeRegenerateView,
    ExchangeSelectView,
)
from conversations_app.api.views.conversations import ConversationViewSet
from conversations_app.api.views.folders import FolderViewSet
from conversations_app.api.views.labels import LabelViewSet
from conversations_app.api.views.runs import ResponseEventsView, ResponseStopView
from conversations_app.api.views.search import SearchView
from conversations_app.api.views.shares import (
    SharedConversationForkView,
    SharedConversationView,
    SharedLinkCreateView,
    SharedLinkViewSet,
)
from conversations_app.api.views.transfers import (
    AccountExportDownloadView,
    AccountExportJobView,
    AccountExportView,
    AccountView,
    ConversationImportView,
    ImportJobView,
)
from conversations_app.api.views.trash import (
    TrashedConversationViewSet,
    TrashedExchangeViewSet,
    TrashedFolderViewSet,
    TrashView,
)
from conversations_app.api.views.usage import UserUsageView

__all__ = [
    "AccountExportDownloadView",
    "AccountExportJobView",
    "AccountExportView",
    "AccountView",
    "AttachmentViewSet",
    "ConversationImportView",
    "ConversationMessagesView",
    "ConversationViewSet",
    "ExchangeDetailView",
    "ExchangeEditView",
    "ExchangeRegenerateView",
    "ExchangeSelectView",
    "FeedbackView",
    "FolderViewSet",
    "ImportJobView",
    "LabelViewSet",
    "NoteViewSet",
    "ResponseEventsView",
    "ResponseStopView",
    "SearchView",
    "SharedConversationForkView",
    "SharedConversationView",
    "SharedLinkCreateView",
    "SharedLinkViewSet",
    "TrashView",
    "TrashedConversationViewSet",
    "TrashedExchangeViewSet",
    "TrashedFolderViewSet",
    "UserUsageView",
]
