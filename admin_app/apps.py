from django.apps import AppConfig


class AdminAppConfig(AppConfig):
    name = "admin_app"
    verbose_name = "Administration"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from admin_app.services import audit

        # Every connection sets the audit settings before writes on audited tables (see audit.py).
        connection_created.connect(audit.install_audit_wrapper, dispatch_uid="audit_execute_wrapper")
        audit.connect_celery_signals()
