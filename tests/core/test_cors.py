"""CORS: a browser script from a configured origin may call the APIs (the REST API, and the Ollama- and
OpenAI-compatible ones) with a bearer token and read what it needs; any other origin gets no CORS
header at all, and none is allowed unless configured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
APP = "https://chat.example.com"


@pytest.fixture
def allowed(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    settings.CORS_ALLOWED_ORIGIN_REGEXES = [r"^https://[a-z0-9-]+\.tenants\.example\.org$"]


def preflight(path: str, origin: str, headers: str = "authorization, content-type"):
    return Client().options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": headers,
        },
    )


def header_set(response, name: str) -> set[str]:
    return {item.strip().lower() for item in response.get(name, "").split(",") if item.strip()}


def assert_no_cors_headers(response) -> None:
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/conversations/", "/api/v1/auth/login/", "/ollama/api/chat", "/v1/chat/completions"],
)
def test_a_preflight_from_an_allowed_origin_gets_the_headers(allowed, path):
    # when: a chat front end asks whether it may send its headers
    response = preflight(path, APP, "authorization, content-type, if-match, last-event-id, x-request-id")

    # then
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert {"authorization", "content-type", "if-match", "last-event-id", "x-request-id"} <= header_set(
        response, "Access-Control-Allow-Headers"
    )
    assert {"get", "post", "patch", "put", "delete"} <= header_set(response, "Access-Control-Allow-Methods")
    assert "Access-Control-Allow-Credentials" not in response
    assert "X-Request-ID" in response


def test_an_origin_matching_a_configured_pattern_is_allowed(allowed):
    response = preflight("/api/v1/conversations/", "https://acme.tenants.example.org")

    assert response["Access-Control-Allow-Origin"] == "https://acme.tenants.example.org"


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example.com", "http://chat.example.com", "https://acme.tenants.example.org.evil.net"],
)
def test_a_preflight_from_another_origin_gets_no_cors_headers(allowed, origin):
    response = preflight("/api/v1/conversations/", origin)

    assert_no_cors_headers(response)


def test_an_answer_to_an_allowed_origin_exposes_the_headers_a_script_reads(allowed):
    # when: the script calls without a token (errors are readable too)
    response = Client().get("/api/v1/conversations/", headers={"Origin": APP})

    # then
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == APP
    assert {"etag", "retry-after", "x-request-id", "location"} <= header_set(
        response, "Access-Control-Expose-Headers"
    )
    assert "origin" in header_set(response, "Vary")


def test_the_django_admin_is_not_open_to_other_origins(allowed):
    response = preflight("/admin/login/", APP)

    assert_no_cors_headers(response)


def test_with_the_default_configuration_no_origin_is_allowed():
    response = preflight("/api/v1/conversations/", APP)

    assert_no_cors_headers(response)


def _settings_in_a_fresh_process(**environment: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORS_")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.base", **environment)
    code = (
        "from django.conf import settings; "
        "print(settings.CORS_ALLOWED_ORIGINS); print(settings.CORS_ALLOWED_ORIGIN_REGEXES)"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif((ROOT / ".env").exists(), reason="a .env file may configure CORS")
def test_the_settings_allow_no_origin_unless_told():
    result = _settings_in_a_fresh_process()

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "[]"]


def test_origins_are_comma_separated_and_patterns_space_separated():
    result = _settings_in_a_fresh_process(
        CORS_ALLOWED_ORIGINS="https://a.example.com,https://b.example.com",
        CORS_ALLOWED_ORIGIN_REGEXES=r"^https://\w+\.example\.org$  ^https://x{1,3}\.example\.net$",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "['https://a.example.com', 'https://b.example.com']",
        r"['^https://\\w+\\.example\\.org$', '^https://x{1,3}\\.example\\.net$']",
    ]


def test_a_pattern_that_is_no_regex_stops_the_start():
    result = _settings_in_a_fresh_process(CORS_ALLOWED_ORIGIN_REGEXES="^https://(unclosed$")

    assert result.returncode != 0
    assert "CORS_ALLOWED_ORIGIN_REGEXES" in result.stderr
