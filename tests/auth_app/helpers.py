"""Small HTTP helpers shared by the auth tests."""

from __future__ import annotations

import threading

from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from tests.auth_app.factories import DEFAULT_PASSWORD

REGISTER_URL = reverse("auth_app:register")
LOGIN_URL = reverse("auth_app:login")
REFRESH_URL = reverse("auth_app:token-refresh")
LOGOUT_URL = reverse("auth_app:logout")
LOGOUT_ALL_URL = reverse("auth_app:logout-all")
ME_URL = reverse("auth_app:me")
PASSWORD_CHANGE_URL = reverse("auth_app:password-change")
PASSWORD_RESET_URL = reverse("auth_app:password-reset")
PASSWORD_RESET_CONFIRM_URL = reverse("auth_app:password-reset-confirm")


def login(client: APIClient, login: str, password: str = DEFAULT_PASSWORD, **extra):
    return client.post(LOGIN_URL, {"login": login, "password": password}, format="json", **extra)


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def signed_in(user, password: str = DEFAULT_PASSWORD) -> dict:
    """Log `user` in over HTTP; returns the response body (user, access, refresh)."""
    response = login(APIClient(), user.username, password)
    assert response.status_code == 200, response.content
    return response.json()


def post_concurrently(url: str, payloads: list[dict]) -> list[int]:
    """POST each payload from its own thread (own database connection), all released at once by a
    barrier; returns the status codes in completion order."""
    barrier = threading.Barrier(len(payloads))
    statuses: list[int] = []

    def attempt(payload: dict) -> None:
        try:
            client = APIClient()
            barrier.wait()
            statuses.append(client.post(url, payload, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(payload,)) for payload in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses
