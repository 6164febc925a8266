"""URL configuration: versioned API under /api/v1/, schema and docs, the Django admin, the API gateway
(`/ollama/`, `/v1/`)."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from conversations_app.api.share_urls import public_urlpatterns, shares_urlpatterns
from conversations_app.api.views import (
    AccountExportDownloadView,
    AccountExportJobView,
    AccountExportView,
    AccountView,
    UserUsageView,
)
from conversations_app.api.views.system_messages import SystemMessageViewSet
from core import health
from gateway_app.urls import ollama_urlpatterns, openai_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/auth/me/usage/", UserUsageView.as_view(), name="me-usage"),
    # The account as a whole reaches into conversations (a later layer than accounts): the profile
    # view with DELETE added, and the export of everything the account owns.
    path("api/v1/auth/me/", AccountView.as_view(), name="me-account"),
    path("api/v1/auth/me/export/", AccountExportView.as_view(), name="account-export"),
    path("api/v1/auth/me/export/<uuid:job_id>/", AccountExportJobView.as_view(), name="account-export-job"),
    path(
        "api/v1/auth/me/export/<uuid:job_id>/download/",
        AccountExportDownloadView.as_view(),
        name="account-export-download",
    ),
    path("api/v1/auth/", include("auth_app.api.urls")),
    path("api/v1/models/", include("models_app.api.urls")),
    path("api/v1/conversations/", include("conversations_app.api.urls")),
    path(
        "api/v1/system-messages/",
        SystemMessageViewSet.as_view({"get": "list"}),
        name="system-message-list",
    ),
    path(
        "api/v1/system-messages/<uuid:pk>/",
        SystemMessageViewSet.as_view({"get": "retrieve"}),
        name="system-message-detail",
    ),
    path("api/v1/shares/", include(shares_urlpatterns)),
    path("api/v1/public/shares/", include(public_urlpatterns)),
    path("api/v1/explore/", include("explore_app.api.urls")),
    path("api/v1/admin/", include("admin_app.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Swagger UI and Redoc come from drf-spectacular-sidecar's static files, with no outside font or CDN.
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="core/redoc.html"),
        name="redoc",
    ),
    # The API gateway: Ollama's and OpenAI's own APIs for personal keys (outside the REST API's schema).
    path("ollama/", include(ollama_urlpatterns)),
    path("v1/", include(openai_urlpatterns)),
    # Operations: probes and Prometheus metrics, outside the API (no authentication, no throttling).
    re_path(r"^health/live/?$", health.live, name="health-live"),
    re_path(r"^health/ready/?$", health.ready, name="health-ready"),
    path("", include("django_prometheus.urls")),
]

handler404 = "core.exceptions.not_found_view"
handler500 = "core.exceptions.server_error_view"
