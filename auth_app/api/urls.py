"""Routes of the auth API, mounted at /api/v1/auth/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from auth_app.api import key_views, views

app_name = "auth_app"

keys_router = SimpleRouter()
keys_router.register("keys", key_views.ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("register/", views.RegisterView.as_view(), name="register"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("token/refresh/", views.TokenRefreshView.as_view(), name="token-refresh"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logout/all/", views.LogoutEverywhereView.as_view(), name="logout-all"),
    path("me/", views.MeView.as_view(), name="me"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password-change"),
    path("password/reset/", views.PasswordResetRequestView.as_view(), name="password-reset"),
    path("password/reset/confirm/", views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    *keys_router.urls,
]
