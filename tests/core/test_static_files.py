"""Static files as a deployment serves them: production settings, `collectstatic` into a STATIC_ROOT of
its own, the ASGI application behind a real uvicorn server on loopback. The Django admin's CSS, Swagger
UI and Redoc come from the application itself (no CDN, no outside font), under hashed names cached for
ever, compressed for clients that accept it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.contrib.staticfiles import finders
from django.test import AsyncClient, Client
from django.utils.module_loading import import_string

ROOT = Path(__file__).resolve().parents[2]
ONE_YEAR = 365 * 24 * 3600


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("static")


@pytest.fixture(scope="module")
def server(static_root: Path) -> Iterator[httpx.Client]:
    """The production configuration, collected and served; a client for it."""
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="static-" + uuid4().hex * 2,
        JWT_SIGNING_KEY="jwt-" + uuid4().hex * 2,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        STATIC_ROOT=str(static_root),
    )
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert collected.returncode == 0, collected.stderr
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--lifespan", "off", "--no-access-log"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/health/live")
                    break
                except httpx.TransportError:
                    assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
                    assert time.monotonic() < deadline, "the server did not come up"
                    time.sleep(0.2)
            yield client
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    # Nothing went wrong while serving (e.g. a file read the slow way, a warning of Django's).
    assert b"Warning" not in output, output.decode()
    assert b"Traceback" not in output, output.decode()


class _References(HTMLParser):
    """Every URL a page makes the browser load: script sources, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "spec-url", "srcset", "action"} and value:
                self.urls.append(value)


def references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    return parser.urls


def static_reference(html: str, fragment: str) -> str:
    [url] = [url for url in references(html) if fragment in url]
    return url


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_load_everything_from_the_same_origin(server, page):
    response = server.get(page)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = references(response.text)
    assert urls, "the page references its scripts"
    for url in urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
    # Nor in inline scripts and styles (fonts, validator badges, CDNs).
    assert re.findall(r"https?://|//[a-z0-9-]+\.[a-z]", response.text) == []
    for url in urls:
        fetched = server.get(url)
        assert fetched.status_code == 200, url


@pytest.mark.parametrize(
    ("page", "fragment", "content_type"),
    [
        ("/admin/login/", "admin/css/base.", "text/css"),
        ("/api/docs/", "swagger-ui-dist/swagger-ui-bundle.", "text/javascript"),
        ("/api/docs/", "swagger-ui-dist/swagger-ui.", "text/css"),
        ("/api/redoc/", "redoc/bundles/redoc.standalone.", "text/javascript"),
    ],
)
def test_static_files_are_hashed_compressed_and_cached_for_ever(
    server, static_root, page, fragment, content_type
):
    # given: the page as a browser gets it
    url = static_reference(server.get(page).text, fragment)
    assert re.search(r"\.[0-9a-f]{12}\.(css|js)$", url), f"{url} carries no content hash"
    on_disk = (static_root / url.removeprefix("/static/")).read_bytes()

    # when / then: each encoding a client accepts
    for accepted, encoding in [("br, gzip", "br"), ("gzip", "gzip"), ("identity", None)]:
        response = server.get(url, headers={"Accept-Encoding": accepted})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(content_type)
        assert response.headers.get("content-encoding") == encoding
        assert "accept-encoding" in response.headers["vary"].lower()
        cache_control = response.headers["cache-control"]
        assert "immutable" in cache_control
        assert "public" in cache_control
        assert int(re.search(r"max-age=(\d+)", cache_control).group(1)) >= ONE_YEAR  # type: ignore[union-attr]
        assert response.content == on_disk  # decoded by the client when compressed
        if encoding:
            assert int(response.headers["content-length"]) < len(on_disk) / 2


def test_in_development_static_files_are_found_in_the_apps_as_they_are_asked_for():
    """Debug on (and in tests) nothing is collected: files come from the installed apps, through the
    async stack as the ASGI server runs it and through the sync one."""
    expected = Path(finders.find("admin/css/base.css")).read_bytes()  # type: ignore[arg-type]

    async def fetch_async() -> tuple[int, bytes]:
        response = await AsyncClient().get("/static/admin/css/base.css")
        return response.status_code, b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[attr-defined]

    status, body = async_to_sync(fetch_async)()
    assert (status, body) == (200, expected)

    response = Client().get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == expected
    assert Client().get("/static/admin/css/no-such-file.css").status_code == 404


def test_every_middleware_runs_natively_under_asgi(settings):
    """One synchronous-only middleware (WhiteNoise's own is one) would make Django pass every request of
    the ASGI server, chat streams included, through a thread and back."""
    sync_only = [
        path for path in settings.MIDDLEWARE if not getattr(import_string(path), "async_capable", False)
    ]

    assert sync_only == []


def test_a_cached_static_file_is_not_sent_again(server):
    url = static_reference(server.get("/admin/login/").text, "admin/css/base.")
    etag = server.get(url).headers["etag"]

    response = server.get(url, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
