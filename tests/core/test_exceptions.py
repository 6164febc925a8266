"""Every error leaves the API as {"error": {"code", "message", "fields"}} with the right status."""

import logging

import pytest
from django.db import IntegrityError, connection
from rest_framework.test import APIClient

from tests.core.urls import PROBE_TABLE

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]


def _shape(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def test_validation_errors_list_every_field(anon_client):
    response = anon_client.post("/validate", {"name": "far too long", "count": "many"}, format="json")
    assert response.status_code == 400
    error = _shape(response)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"name", "count"}
    assert error["fields"]["count"] == ["A valid integer is required."]


def test_missing_fields_are_reported(anon_client):
    error = _shape(anon_client.post("/validate", {}, format="json"))
    assert error["fields"] == {"name": ["This field is required."], "count": ["This field is required."]}


def test_malformed_json_is_a_400_in_the_shape(anon_client):
    response = anon_client.generic("POST", "/validate", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert _shape(response)["code"] == "parse_error"


def test_anonymous_caller_gets_401(anon_client):
    response = anon_client.get("/private")
    assert response.status_code == 401
    assert _shape(response)["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_invalid_token_gets_401(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = anon_client.get("/private")
    assert response.status_code == 401
    assert _shape(response)["code"] == "token_not_valid"


def test_http404_is_not_found(anon_client):
    response = anon_client.get("/missing")
    assert response.status_code == 404
    assert _shape(response) == {"code": "not_found", "message": "Not found.", "fields": {}}


def test_application_errors_keep_their_status_code_and_message(anon_client):
    response = anon_client.get("/conflict")
    assert response.status_code == 409
    assert _shape(response) == {"code": "duplicate", "message": "Already there.", "fields": {}}
    assert anon_client.get("/too-large").status_code == 413


@pytest.fixture
def probe_table():
    """A temporary table with one constraint of each kind; returns how many rows it holds."""
    with connection.cursor() as cursor:
        cursor.execute(PROBE_TABLE)

    def rows() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM integrity_probe")
            return cursor.fetchone()[0]

    return rows


@pytest.mark.parametrize("violation", ["unique", "exclusion"])
def test_a_unique_or_exclusion_violation_is_a_409_conflict(anon_client, probe_table, violation):
    response = anon_client.post(f"/api/integrity/{violation}")

    assert response.status_code == 409
    assert _shape(response) == {
        "code": "conflict",
        "message": "The request conflicts with existing data.",
        "fields": {},
    }
    assert probe_table() == 0


@pytest.mark.parametrize("violation", ["check", "not_null", "foreign_key"])
def test_any_other_integrity_error_is_a_logged_500(probe_table, violation, caplog):
    client = APIClient(raise_request_exception=False)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.post(f"/api/integrity/{violation}")

    assert response.status_code == 500
    assert _shape(response) == {
        "code": "server_error",
        "message": "An unexpected error occurred.",
        "fields": {},
    }
    [record] = [r for r in caplog.records if r.name == "django.request" and r.levelno == logging.ERROR]
    assert isinstance(record.exc_info[1], IntegrityError)
    assert probe_table() == 0


def test_django_validation_error_is_a_400_with_fields(anon_client):
    response = anon_client.get("/django-validation")
    assert response.status_code == 400
    assert _shape(response)["fields"] == {"email": ["Bad e-mail."]}


def test_throttled_requests_get_429_with_retry_after(anon_client):
    assert anon_client.get("/throttled").status_code == 200
    response = anon_client.get("/throttled")
    assert response.status_code == 429
    assert _shape(response)["code"] == "throttled"
    assert int(response.headers["Retry-After"]) > 0
