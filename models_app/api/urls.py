"""Routes of the signed-in catalogue, mounted at /api/v1/models/."""

from django.urls import path

from models_app.api.views import UsableModelViewSet

urlpatterns = [
    path("", UsableModelViewSet.as_view({"get": "list"}), name="model-list"),
    # Ollama names may hold slashes (`hf.co/owner/repo:tag`), hence `path`.
    path("<path:ref>/", UsableModelViewSet.as_view({"get": "retrieve"}), name="model-detail"),
]
