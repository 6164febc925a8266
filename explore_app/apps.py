from django.apps import AppConfig


class ExploreAppConfig(AppConfig):
    name = "explore_app"
    verbose_name = "Explore"
