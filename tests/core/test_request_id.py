"""Request ids: one per request, returned as `X-Request-ID`, taken from the client when valid, and on
every JSON log line of the request."""

from __future__ import annotations

import copy
import io
import json
import logging
import logging.config
import uuid

import pytest
from django.conf import settings as django_settings
from django.http import StreamingHttpResponse

from core.middleware import RequestIdMiddleware
from core.request_id import get_request_id

LIVE_URL = "/health/live"


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def test_every_response_carries_a_new_request_id(client):
    first, second = client.get(LIVE_URL), client.get(LIVE_URL)

    assert is_uuid(first["X-Request-ID"])
    assert is_uuid(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.parametrize("given", ["abc", "trace-01.A_b", "x" * 64, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"])
def test_a_valid_client_request_id_is_kept(client, given):
    assert client.get(LIVE_URL, HTTP_X_REQUEST_ID=given)["X-Request-ID"] == given


@pytest.mark.parametrize("given", ["", "x" * 65, "has space", "semi;colon", "new\nline", "ünïcode", "a/b"])
def test_an_invalid_client_request_id_is_replaced(client, given):
    returned = client.get(LIVE_URL, HTTP_X_REQUEST_ID=given)["X-Request-ID"]

    assert returned != given
    assert is_uuid(returned)


def test_error_responses_carry_it_too(client, db):
    response = client.get("/api/v1/no-such-endpoint/", HTTP_X_REQUEST_ID="lost-1")

    assert response.status_code == 404
    assert response["X-Request-ID"] == "lost-1"


@pytest.fixture
def json_logs():
    """The project's logging configuration with LOG_FORMAT=json, writing to a buffer; returns the
    parsed lines."""
    stream = io.StringIO()
    config = copy.deepcopy(django_settings.LOGGING)
    config["handlers"]["console"].update(formatter="json", stream=stream)
    config["root"]["level"] = "INFO"
    logging.config.dictConfig(config)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    logging.config.dictConfig(django_settings.LOGGING)


@pytest.mark.django_db
def test_json_log_lines_of_a_request_carry_its_id(client, json_logs):
    client.post(
        "/api/v1/auth/login/",
        {"login": "nobody", "password": "wrong"},
        content_type="application/json",
        HTTP_X_REQUEST_ID="login-trace-7",
    )
    logging.getLogger("after").warning("outside any request")

    lines = json_logs()
    of_request = [line for line in lines if line["logger"] in {"auth_app.security", "django.request"}]
    assert {line["logger"] for line in of_request} == {"auth_app.security", "django.request"}
    assert {line["request_id"] for line in of_request} == {"login-trace-7"}
    assert next(line for line in lines if line["logger"] == "after")["request_id"] == ""


def test_a_streamed_body_is_produced_under_the_request_id(rf, db):
    seen = []

    def body():
        for chunk in (b"a", b"b"):
            seen.append(get_request_id())
            yield chunk

    middleware = RequestIdMiddleware(lambda request: StreamingHttpResponse(body()))
    response = middleware(rf.get("/", HTTP_X_REQUEST_ID="stream-3"))

    assert b"".join(response.streaming_content) == b"ab"
    response.close()  # what the server does once the body is sent
    assert seen == ["stream-3", "stream-3"]
    assert get_request_id() == ""
