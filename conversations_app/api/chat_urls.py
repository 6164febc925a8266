"""Chat routes: send a message (streamed or not), history, regenerate, switch branch."""

from django.urls import path

from conversations_app.api.chat_views import (
    ConversationMessagesView,
    ExchangeRegenerateView,
    ExchangeSelectView,
)

urlpatterns = [
    path(
        "<uuid:conversation_id>/messages/",
        ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
    path(
        "<uuid:conversation_id>/exchanges/<uuid:exchange_id>/regenerate/",
        ExchangeRegenerateView.as_view(),
        name="conversation-exchange-regenerate",
    ),
    path(
        "<uuid:conversation_id>/exchanges/<uuid:exchange_id>/select/",
        ExchangeSelectView.as_view(),
        name="conversation-exchange-select",
    ),
]
