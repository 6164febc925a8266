"""Routes of the public catalogue under /api/v1/explore/."""

from django.urls import path

from explore_app.api.views import (
    ExploreLeaderboardViewSet,
    ExploreModelViewSet,
    ExploreTagModelViewSet,
    ExploreTagViewSet,
    LeaderboardRefreshView,
)

urlpatterns = [
    path("models/", ExploreModelViewSet.as_view({"get": "list"}), name="explore-model-list"),
    # Ollama names may hold slashes (`hf.co/owner/repo:tag`), hence `path`.
    path("models/<path:ref>/", ExploreModelViewSet.as_view({"get": "retrieve"}), name="explore-model-detail"),
    path("leaderboard/", ExploreLeaderboardViewSet.as_view({"get": "list"}), name="explore-leaderboard"),
    path("leaderboard/refresh/", LeaderboardRefreshView.as_view(), name="explore-leaderboard-refresh"),
    path("tags/", ExploreTagViewSet.as_view({"get": "list"}), name="explore-tag-list"),
    path(
        "tags/<slug:slug>/models/",
        ExploreTagModelViewSet.as_view({"get": "list"}),
        name="explore-tag-models",
    ),
]
