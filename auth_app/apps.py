from django.apps import AppConfig


class AuthAppConfig(AppConfig):
    name = "auth_app"
    label = "auth_app"
    verbose_name = "Accounts"
    default_auto_field = "django.db.models.BigAutoField"
