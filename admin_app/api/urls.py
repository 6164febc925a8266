"""Routes of the staff API (Admin role): accounts and audit; catalogue, system messages, inference, usage,
database.

users/, roles/, audit-events/                    accounts and the audit trail
api-keys/, users/{id}/api-quota/                 API keys and API quotas
models/, tags/, system-messages/                 the catalogue and the system messages
inference/pulls/, inference/pulls/{id}/events/   model pulls into Ollama and their progress (SSE)
inference/models/, inference/models/{name}/      the models the Ollama servers have installed
inference/servers/, inference/sync/              the Ollama servers; the catalogue following them
usage/, usage/feedback/, usage/api/              usage statistics
database/{health,tables,connections,slow-statements,migrations,replication}/   database reports
"""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from admin_app.api import views

accounts_router = SimpleRouter()
accounts_router.register("users", views.UserAdminViewSet, basename="admin-user")
accounts_router.register("roles", views.RoleAdminViewSet, basename="admin-role")
accounts_router.register("audit-events", views.AuditEventViewSet, basename="admin-audit-event")
accounts_router.register("api-keys", views.ApiKeyAdminViewSet, basename="admin-api-key")

platform_router = SimpleRouter()
platform_router.register("models", views.AIModelAdminViewSet, basename="admin-model")
platform_router.register("tags", views.TagAdminViewSet, basename="admin-tag")
platform_router.register("system-messages", views.SystemMessageAdminViewSet, basename="admin-system-message")
platform_router.register("inference/pulls", views.ModelPullViewSet, basename="admin-model-pull")

accounts_urlpatterns = accounts_router.urls

platform_urlpatterns = [
    path(
        "inference/pulls/<uuid:pull_id>/events/",
        views.ModelPullEventsView.as_view(),
        name="admin-model-pull-events",
    ),
    *platform_router.urls,
    path("inference/servers/", views.InferenceServerListView.as_view(), name="admin-inference-server-list"),
    path("inference/sync/", views.InferenceSyncView.as_view(), name="admin-inference-sync"),
    path("inference/models/", views.InstalledModelListView.as_view(), name="admin-installed-model-list"),
    # Ollama names may hold '/', ':' and '.', e.g. hf.co/org/model:Q4_K_M.
    re_path(
        r"^inference/models/(?P<name>[^/].*)/$",
        views.InstalledModelView.as_view(),
        name="admin-installed-model-detail",
    ),
    path("usage/", views.UsageView.as_view(), name="admin-usage"),
    path("usage/feedback/", views.FeedbackUsageView.as_view(), name="admin-usage-feedback"),
    path("usage/api/", views.ApiUsageView.as_view(), name="admin-usage-api"),
    path("database/health/", views.DatabaseHealthView.as_view(), name="admin-database-health"),
    path("database/tables/", views.DatabaseTablesView.as_view(), name="admin-database-tables"),
    path("database/connections/", views.DatabaseConnectionsView.as_view(), name="admin-database-connections"),
    path(
        "database/slow-statements/",
        views.DatabaseSlowStatementsView.as_view(),
        name="admin-database-slow-statements",
    ),
    path("database/migrations/", views.DatabaseMigrationsView.as_view(), name="admin-database-migrations"),
    path("database/replication/", views.DatabaseReplicationView.as_view(), name="admin-database-replication"),
]

urlpatterns = [*accounts_urlpatterns, *platform_urlpatterns]
