from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core kernel"

    def ready(self) -> None:
        from django.core.signals import request_finished
        from django.db.backends.signals import connection_created

        from core import audit
        from core.request_id import connect_celery_signals, request_id_end

        request_finished.connect(request_id_end, dispatch_uid="request_id_end")
        connect_celery_signals()
        # Every connection sets the audit settings before writes on audited tables (see core.audit).
        connection_created.connect(audit.install_audit_wrapper, dispatch_uid="audit_execute_wrapper")
        audit.connect_celery_signals()
