"""Every error leaves the API as {"error": {"code", "message", "fields"}} with the right status."""

import pytest

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


def test_unhandled_integrity_error_is_a_409_not_a_500(anon_client):
    response = anon_client.get("/integrity")
    assert response.status_code == 409
    assert _shape(response)["code"] == "conflict"


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
