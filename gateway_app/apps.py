from django.apps import AppConfig


class GatewayAppConfig(AppConfig):
    """Ollama- and OpenAI-compatible endpoints (`/ollama/`, `/v1/`) for personal API keys."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "gateway_app"
    verbose_name = "API gateway"
