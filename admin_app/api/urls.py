"""Routes of the staff API (Admin role): accounts and audit; catalogue, inference, usage, database."""

from django.urls import include, path

urlpatterns = [
    path("", include("admin_app.api.accounts_urls")),
    path("", include("admin_app.api.platform_urls")),
]
