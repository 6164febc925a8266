"""Routes of shared links: the owner's links under /api/v1/shares/, the public snapshots under
/api/v1/public/shares/ (a link is made at /api/v1/conversations/{id}/share/).

shares/                          GET the caller's links (not revoked), newest first
shares/{id}/                     GET one, DELETE revokes it
public/shares/{token}/           GET the snapshot (no authentication; cacheable; counted)
public/shares/{token}/fork/      POST continue it as the caller's own conversation
"""

from django.urls import path

from conversations_app.api import views

shares_urlpatterns = [
    path("", views.SharedLinkViewSet.as_view({"get": "list"}), name="shared-link-list"),
    path(
        "<uuid:pk>/",
        views.SharedLinkViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="shared-link-detail",
    ),
]

public_urlpatterns = [
    path("<str:token>/", views.SharedConversationView.as_view(), name="shared-conversation"),
    path("<str:token>/fork/", views.SharedConversationForkView.as_view(), name="shared-conversation-fork"),
]
