"""Platform routes: models, tags, system messages, inference, usage statistics, database."""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from admin_app.api import platform_views as views

router = SimpleRouter()
router.register("models", views.AIModelAdminViewSet, basename="admin-model")
router.register("tags", views.TagAdminViewSet, basename="admin-tag")
router.register("system-messages", views.SystemMessageAdminViewSet, basename="admin-system-message")
router.register("inference/pulls", views.ModelPullViewSet, basename="admin-model-pull")

urlpatterns = [
    path(
        "inference/pulls/<uuid:pull_id>/events/",
        views.ModelPullEventsView.as_view(),
        name="admin-model-pull-events",
    ),
    *router.urls,
    path("inference/models/", views.InstalledModelListView.as_view(), name="admin-installed-model-list"),
    # Ollama names may hold '/', ':' and '.', e.g. hf.co/org/model:Q4_K_M.
    re_path(
        r"^inference/models/(?P<name>[^/].*)/$",
        views.InstalledModelView.as_view(),
        name="admin-installed-model-detail",
    ),
    path("usage/", views.UsageView.as_view(), name="admin-usage"),
    path("usage/feedback/", views.FeedbackUsageView.as_view(), name="admin-usage-feedback"),
    path("database/health/", views.DatabaseHealthView.as_view(), name="admin-database-health"),
    path("database/tables/", views.DatabaseTablesView.as_view(), name="admin-database-tables"),
    path("database/connections/", views.DatabaseConnectionsView.as_view(), name="admin-database-connections"),
    path(
        "database/slow-statements/",
        views.DatabaseSlowStatementsView.as_view(),
        name="admin-database-slow-statements",
    ),
    path("database/migrations/", views.DatabaseMigrationsView.as_view(), name="admin-database-migrations"),
]
