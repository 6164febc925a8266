"""The HTTP edge: URLs the API cannot serve answer JSON in the error shape (in development too), a NUL
in a URL is a 400 before any query, and the client's address is trusted from configured proxies only."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from auth_app.models import User
from core.http import client_ip
from tests.conftest import client_for
from tests.conversations_app.factories import ConversationFactory

pytestmark = pytest.mark.django_db


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


@pytest.fixture(params=[False, True], ids=["production", "development"])
def debug(request, settings) -> bool:
    settings.DEBUG = request.param
    return request.param


# --- URLs the API has no view for ------------------------------------------------------------------------


def test_a_post_without_the_trailing_slash_is_a_json_404_naming_the_right_url(debug):
    client = APIClient(raise_request_exception=False)
    payload = {"username": "ada", "email": "ada@example.com", "password": "a-l0ng-passw0rd"}

    response = client.post("/api/v1/auth/register", payload, format="json")

    error = error_of(response, 404)
    assert error["code"] == "not_found"
    assert "/api/v1/auth/register/" in error["message"]
    assert not User.objects.filter(username="ada").exists()


def test_a_get_without_the_trailing_slash_is_not_redirected(debug):
    response = APIClient().get("/api/v1/explore/models")

    assert "/api/v1/explore/models/" in error_of(response, 404)["message"]


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_path_is_a_json_404(debug, method):
    response = getattr(APIClient(raise_request_exception=False), method)("/api/v1/no-such-thing/")

    assert error_of(response, 404) == {"code": "not_found", "message": "Not found.", "fields": {}}


def test_a_method_the_endpoint_does_not_take_is_a_json_405(debug):
    error = error_of(APIClient().put("/api/v1/auth/login/", {}, format="json"), 405)

    assert error["code"] == "method_not_allowed"


def test_outside_the_api_django_still_appends_the_slash(admin_client):
    response = admin_client.get("/admin/auth_app/user")

    assert response.status_code == 301
    assert response["Location"] == "/admin/auth_app/user/"


# --- NUL characters in the URL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/explore/models/%00/",
        "/api/v1/explore/models/llama%00:latest/",
        "/api/v1/explore/tags/a%00/models/",
        "/api/v1/admin/inference/models/a%00b/",
        "/api/v1/conversations/%00/",
        "/api/v1/explore/models/?q=%00",
        "/api/v1/explore/models/?family=a%00b",
        "/api/v1/conversations/?ordering=%00",
        "/api/v1/conversations/?%00=1",
        "/api/v1/admin/audit-events/?target_id=%00",
        "/api/v1/admin/database/slow-statements/?ordering=%00",
    ],
)
def test_a_nul_in_the_path_or_query_is_a_400(admin_user, url):
    response = client_for(admin_user).get(url)

    error = error_of(response, 400)
    assert error["code"] == "invalid"
    assert "NUL" in error["message"]


def test_the_query_parameters_holding_a_nul_are_named(anon_client):
    response = anon_client.get("/api/v1/explore/models/?q=llama%00&family=llama&tag=a%00")

    assert error_of(response, 400)["fields"] == {
        "q": ["Null characters are not allowed."],
        "tag": ["Null characters are not allowed."],
    }


def test_a_nul_in_the_url_of_a_write_writes_nothing(user):
    conversation = ConversationFactory(owner=user, title="Before")

    response = client_for(user).patch(
        f"/api/v1/conversations/{conversation.pk}/?x=%00", {"title": "After"}, format="json"
    )

    error_of(response, 400)
    conversation.refresh_from_db()
    assert conversation.title == "Before"


def test_a_nul_in_a_django_admin_search_is_a_plain_400(admin_client):
    response = admin_client.get("/admin/auth_app/user/?q=%00")

    assert response.status_code == 400


def test_a_percent_encoded_percent_sign_is_not_a_nul(anon_client):
    assert anon_client.get("/api/v1/explore/models/?q=100%2500").status_code == 200


# --- the client's address ------------------------------------------------------------------------------


def test_without_trusted_proxies_x_forwarded_for_is_ignored(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert client_ip(request) == "203.0.113.7"


def test_a_request_without_a_peer_address_has_none():
    # given a server that names no peer (an ASGI server on a Unix socket leaves REMOTE_ADDR unset)
    request = RequestFactory().get("/")
    del request.META["REMOTE_ADDR"]

    # then
    assert client_ip(request) == ""


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (1, "198.51.100.1", "198.51.100.1"),
        # The client prepended an address of its choosing; the proxy appended the real one.
        (1, "10.9.9.9, 198.51.100.1", "198.51.100.1"),
        (2, "10.9.9.9, 198.51.100.1, 192.0.2.10", "198.51.100.1"),
        (1, "not-an-address", ""),
    ],
)
def test_with_trusted_proxies_the_address_they_saw_counts(settings, proxies, forwarded, expected):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


@pytest.mark.filterwarnings("ignore:The `uvicorn.workers` module is deprecated:DeprecationWarning")
def test_the_server_leaves_x_forwarded_for_to_the_application():
    """`make run` serves through this worker: uvicorn's own one would take X-Forwarded-For from any
    local client as its address (gunicorn trusts 127.0.0.1 as a proxy by default)."""
    from config.workers import UvicornWorker

    assert UvicornWorker.CONFIG_KWARGS["proxy_headers"] is False
