"""Shared fixtures: users, API clients with tokens, a clean cache per test."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connections
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from core.permissions import ADMIN_ROLE
from tests.auth_app.factories import UserFactory
from tests.fakes.ollama import fake_ollama, fake_pool, ollama_down  # noqa: F401 - fixtures for every test


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, with the connection pool on as in production; the pool's idle connections
    are closed before the database is dropped."""
    yield
    with django_db_blocker.unblock():
        connections.close_all()
        for connection in connections.all():
            connection.close_pool()


@pytest.fixture(autouse=True)
def _clean_cache():
    """Every test starts with an empty cache (and empty throttle counters)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def admin_user(db):
    admin = UserFactory(is_staff=True)
    admin.groups.add(Group.objects.get(name=ADMIN_ROLE))
    return admin


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True)


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def api_client(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def other_client(other_user) -> APIClient:
    return client_for(other_user)


@pytest.fixture
def admin_client_api(admin_user) -> APIClient:
    return client_for(admin_user)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploaded files of a test go to its own temporary directory."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
