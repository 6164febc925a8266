"""Request bodies PostgreSQL could not store (lone surrogates, NUL characters, absurd nesting) are a
400 `parse_error` in the error shape, whatever endpoint they are sent to, and nothing is written."""

from __future__ import annotations

import orjson
import pytest
from django.core import mail
from rest_framework.test import APIClient

from auth_app.models import User
from conversations_app.models import Conversation
from core.parsers import JSON_MAX_DEPTH, UnstorableJSON, json_loads
from tests.auth_app.factories import UserFactory
from tests.auth_app.helpers import LOGIN_URL, ME_URL, PASSWORD_RESET_URL, REGISTER_URL
from tests.conftest import client_for
from tests.models_app.factories import AIModelFactory

pytestmark = pytest.mark.django_db

LONE_SURROGATE = b"\\ud800"
NUL = b"\\u0000"


def send_json(client: APIClient, method: str, url: str, body: bytes):
    return client.generic(method, url, body, content_type="application/json")  # type: ignore[arg-type]  # bytes are fine


def parse_error(response) -> str:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == "parse_error"
    return error["message"]


# --- the decoder ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": "\\ud800"}',  # a lone high surrogate
        b'{"a": "\\udc00"}',  # a lone low surrogate
        b'{"\\ud800": 1}',  # in a key
        b'{"a": "x\\u0000y"}',  # NUL in a value
        b'{"a\\u0000": 1}',  # NUL in a key
        b'[["\\u0000"]]',  # NUL deeper down
        b"[" * 1000 + b"]" * 1000,
        b"[" * (JSON_MAX_DEPTH + 1) + b"]" * (JSON_MAX_DEPTH + 1),
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'"\xed\xa0\x80"',  # a surrogate encoded in (invalid) UTF-8
    ],
)
def test_json_loads_refuses_what_the_database_cannot_store(raw):
    with pytest.raises((orjson.JSONDecodeError, UnstorableJSON)):
        json_loads(raw)


def test_json_loads_reads_what_is_fine():
    nested = b"[" * JSON_MAX_DEPTH + b"]" * JSON_MAX_DEPTH
    assert json_loads(b'{"a": "\\ud83d\\ude00", "b": "\\\\u0000"}') == {"a": "😀", "b": "\\u0000"}
    assert json_loads(nested) is not None
    assert json_loads('{"caf\u00e9": 1}'.encode("latin-1"), encoding="latin-1") == {"café": 1}


def test_json_loads_names_what_is_wrong():
    with pytest.raises(UnstorableJSON, match="NUL"):
        json_loads(b'{"a": "\\u0000"}')
    with pytest.raises(UnstorableJSON, match=f"deeper than {JSON_MAX_DEPTH}"):
        json_loads(b"[" * 100 + b"]" * 100)


# --- through the API ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"login": "ada' + LONE_SURROGATE + b'", "password": "x"}',
        b'{"login": "ada", "password": "' + LONE_SURROGATE + b'"}',
        b'{"' + LONE_SURROGATE + b'": "ada", "password": "x"}',
        b'{"login": "ada' + NUL + b'", "password": "x"}',
    ],
)
def test_login_with_unstorable_text_is_a_400(anon_client, body):
    UserFactory(username="ada")

    assert "JSON parse error" in parse_error(send_json(anon_client, "POST", LOGIN_URL, body))


@pytest.mark.parametrize("email", [b"ada" + LONE_SURROGATE + b"@example.com", b"ada" + NUL + b"@example.com"])
def test_password_reset_with_unstorable_text_is_a_400_and_sends_nothing(
    anon_client, email, django_capture_on_commit_callbacks
):
    UserFactory(email="ada@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = send_json(anon_client, "POST", PASSWORD_RESET_URL, b'{"email": "' + email + b'"}')

    parse_error(response)
    assert mail.outbox == []


def test_register_with_a_lone_surrogate_creates_nobody(anon_client):
    body = (
        b'{"username": "ada'
        + LONE_SURROGATE
        + b'", "email": "ada@example.com", "password": "a-l0ng-passw0rd"}'
    )

    parse_error(send_json(anon_client, "POST", REGISTER_URL, body))
    assert not User.objects.filter(email="ada@example.com").exists()


@pytest.mark.parametrize(
    "preferences",
    [
        b'{"theme": "dark' + NUL + b'"}',
        b'{"theme' + NUL + b'": "dark"}',
        b'{"theme": "dark' + LONE_SURROGATE + b'"}',
        b'{"theme": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    ],
)
def test_preferences_that_jsonb_cannot_hold_are_a_400_and_leave_the_profile(api_client, user, preferences):
    response = send_json(api_client, "PATCH", ME_URL, b'{"preferences": ' + preferences + b"}")

    parse_error(response)
    user.refresh_from_db()
    assert user.preferences == {}


def test_preferences_nested_within_the_limit_are_stored(api_client, user):
    depth = JSON_MAX_DEPTH - 2  # the body and the preferences object are two of the levels
    nested = b"[" * depth + b"]" * depth

    response = send_json(api_client, "PATCH", ME_URL, b'{"preferences": {"deep": ' + nested + b"}}")

    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.preferences["deep"] is not None


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"display_name=Ada", "application/x-www-form-urlencoded"),
        (
            b'--b\r\nContent-Disposition: form-data; name="display_name"\r\n\r\nAda\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
        ),
    ],
)
def test_bodies_other_than_json_are_a_415_and_leave_the_profile(api_client, user, body, content_type):
    before = (user.display_name, user.preferences)

    response = api_client.generic("PATCH", ME_URL, body, content_type=content_type)

    assert response.status_code == 415, response.content
    assert response.json()["error"]["code"] == "unsupported_media_type"
    user.refresh_from_db()
    assert (user.display_name, user.preferences) == before


@pytest.mark.parametrize(
    "options",
    [
        b'{"stop": ["\\u0000"]}',
        b'{"stop": ["' + LONE_SURROGATE + b'"]}',
    ],
)
def test_conversation_options_with_unstorable_text_create_nothing(user, options):
    model = AIModelFactory(is_active=True)
    body = b'{"model": "' + str(model.pk).encode() + b'", "default_options": ' + options + b"}"

    parse_error(send_json(client_for(user), "POST", "/api/v1/conversations/", body))
    assert not Conversation.objects.filter(owner=user).exists()
