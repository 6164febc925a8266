"""Routes of the conversations API: resources (folders, conversations, feedback, notes, attachments,
search, export, trash) and chat (messages, regenerate, branches)."""

from django.urls import include, path

urlpatterns = [
    path("", include("conversations_app.api.chat_urls")),
    path("", include("conversations_app.api.resource_urls")),
]
