"""Routes of the conversations API: resources (folders, conversations, feedback, notes, attachments,
search, export, trash) and chat (messages, regenerate, branches).

folders/                                         GET list, POST create
folders/{id}/                                    GET, PATCH (If-Match), DELETE (to the trash)
folders/{id}/move/                               POST {"parent": id | null}
labels/                                          GET list, POST create
labels/{id}/                                     GET, PATCH (If-Match), DELETE
""                                               GET list (filters incl. label, q; latest first), POST
{id}/                                            GET, PATCH (If-Match), DELETE (to the trash)
{id}/move/                                       POST {"folder": id | null}
{id}/usage/                                      GET tokens and answers by model and day
{id}/export/?format=json|markdown                GET
{id}/attachments/                                GET list, POST multipart upload
{id}/attachments/{attachment_id}/                GET (with extracted text), DELETE
{id}/attachments/{attachment_id}/download/       GET the bytes
responses/{response_id}/feedback/                GET, POST, PATCH (If-Match), DELETE: the caller's one
responses/{response_id}/notes/                   GET list, POST create
responses/{response_id}/notes/{note_id}/         GET, PATCH (If-Match), DELETE
responses/{response_id}/events/                  GET the answer's events (SSE): replay, then live
responses/{response_id}/stop/                    POST stop an answer being written
{id}/messages/                                   GET the current branch, POST send a message (streamed or not)
{id}/exchanges/{exchange_id}/regenerate/         POST another answer, as a sibling
{id}/exchanges/{exchange_id}/select/             POST follow that branch
{id}/exchanges/{exchange_id}/edit/               POST a new text for the prompt, answered as a sibling
{id}/exchanges/{exchange_id}/                    DELETE the exchange and its branch (to the trash)
{id}/share/                                      POST a public snapshot of the current branch (see share_urls)
search/?q=                                       GET ranked hits with snippets
import/                                          POST multipart `file`: import another application's export
imports/{job_id}/                                GET an import's progress and outcome
trash/                                           DELETE empties the trash
trash/conversations/, trash/folders/, trash/exchanges/   GET list
trash/{conversations|folders|exchanges}/{id}/            GET, DELETE (for good)
trash/{conversations|folders|exchanges}/{id}/restore/    POST
"""

from django.urls import path
from rest_framework.routers import SimpleRouter

from conversations_app.api import views

router = SimpleRouter(use_regex_path=False)
router.register("folders", views.FolderViewSet, basename="folder")
router.register("labels", views.LabelViewSet, basename="label")
router.register("trash/conversations", views.TrashedConversationViewSet, basename="trash-conversation")
router.register("trash/folders", views.TrashedFolderViewSet, basename="trash-folder")
router.register("trash/exchanges", views.TrashedExchangeViewSet, basename="trash-exchange")
router.register("", views.ConversationViewSet, basename="conversation")

urlpatterns = [
    path(
        "<uuid:conversation_id>/messages/",
        views.ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
    path(
        "<uuid:conversation_id>/exchanges/<uuid:exchange_id>/regenerate/",
        views.ExchangeRegenerateView.as_view(),
        name="conversation-exchange-regenerate",
    ),
    path(
        "<uuid:conversation_id>/exchanges/<uuid:exchange_id>/",
        views.ExchangeDetailView.as_view(),
        name="conversation-exchange-detail",
    ),
    path(
        "<uuid:conversation_id>/exchanges/<uuid:exchange_id>/edit/",
        views.ExchangeEditView.as_view(),
        name="conversation-exchange-edit",
    ),
    path(
        "<uuid:conversation_id>/exchanges/<uuid:exchange_id>/select/",
        views.ExchangeSelectView.as_view(),
        name="conversation-exchange-select",
    ),
    path("<uuid:conversation_id>/share/", views.SharedLinkCreateView.as_view(), name="conversation-share"),
    path("search/", views.SearchView.as_view(), name="conversation-search"),
    path("import/", views.ConversationImportView.as_view(), name="conversation-import"),
    path("imports/<uuid:job_id>/", views.ImportJobView.as_view(), name="conversation-import-job"),
    path("trash/", views.TrashView.as_view(), name="trash"),
    path(
        "<uuid:conversation_id>/attachments/",
        views.AttachmentViewSet.as_view({"get": "list", "post": "create"}),
        name="attachment-list",
    ),
    path(
        "<uuid:conversation_id>/attachments/<uuid:pk>/",
        views.AttachmentViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="attachment-detail",
    ),
    path(
        "<uuid:conversation_id>/attachments/<uuid:pk>/download/",
        views.AttachmentViewSet.as_view({"get": "download"}, **views.AttachmentViewSet.download.kwargs),
        name="attachment-download",
    ),
    path("responses/<uuid:response_id>/events/", views.ResponseEventsView.as_view(), name="response-events"),
    path("responses/<uuid:response_id>/stop/", views.ResponseStopView.as_view(), name="response-stop"),
    path("responses/<uuid:response_id>/feedback/", views.FeedbackView.as_view(), name="response-feedback"),
    path(
        "responses/<uuid:response_id>/notes/",
        views.NoteViewSet.as_view({"get": "list", "post": "create"}),
        name="note-list",
    ),
    path(
        "responses/<uuid:response_id>/notes/<uuid:pk>/",
        views.NoteViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="note-detail",
    ),
    *router.urls,
]
