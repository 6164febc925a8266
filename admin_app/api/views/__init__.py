"""Views of the staff API (Admin role): accounts (users, roles), audit trail, catalogue (models, tags),
system messages, inference (installed models, pulls, pull events), usage and database reports."""

from admin_app.api.views.accounts import RoleAdminViewSet, UserAdminViewSet
from admin_app.api.views.api_keys import ApiKeyAdminViewSet, ApiUsageView
from admin_app.api.views.audit import AuditEventViewSet
from admin_app.api.views.base import AdminReportView, AdminViewSet
from admin_app.api.views.catalogue import AIModelAdminViewSet, TagAdminViewSet
from admin_app.api.views.database import (
    DatabaseConnectionsView,
    DatabaseHealthView,
    DatabaseMigrationsView,
    DatabaseReplicationView,
    DatabaseSlowStatementsView,
    DatabaseTablesView,
)
from admin_app.api.views.inference import (
    InferenceServerListView,
    InferenceSyncView,
    InstalledModelListView,
    InstalledModelView,
    ModelPullEventsView,
    ModelPullViewSet,
)
from admin_app.api.views.system_messages import SystemMessageAdminViewSet
from admin_app.api.views.usage import FeedbackUsageView, UsageView

__all__ = [
    "AIModelAdminViewSet",
    "AdminReportView",
    "AdminViewSet",
    "ApiKeyAdminViewSet",
    "ApiUsageView",
    "AuditEventViewSet",
    "DatabaseConnectionsView",
    "DatabaseHealthView",
    "DatabaseMigrationsView",
    "DatabaseReplicationView",
    "DatabaseSlowStatementsView",
    "DatabaseTablesView",
    "FeedbackUsageView",
    "InferenceServerListView",
    "InferenceSyncView",
    "InstalledModelListView",
    "InstalledModelView",
    "ModelPullEventsView",
    "ModelPullViewSet",
    "RoleAdminViewSet",
    "SystemMessageAdminViewSet",
    "TagAdminViewSet",
    "UsageView",
    "UserAdminViewSet",
]
