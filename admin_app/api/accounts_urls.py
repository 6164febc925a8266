"""Accounts and audit routes: users, roles, audit events."""

from rest_framework.routers import SimpleRouter

from admin_app.api.accounts_views import AuditEventViewSet, RoleAdminViewSet, UserAdminViewSet

router = SimpleRouter()
router.register("users", UserAdminViewSet, basename="admin-user")
router.register("roles", RoleAdminViewSet, basename="admin-role")
router.register("audit-events", AuditEventViewSet, basename="admin-audit-event")

urlpatterns = router.urls
