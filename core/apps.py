from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core kernel"

    def ready(self) -> None:
        from django.core.signals import request_finished

        from core.request_id import connect_celery_signals, request_id_end

        request_finished.connect(request_id_end, dispatch_uid="request_id_end")
        connect_celery_signals()
