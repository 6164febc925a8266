"""The gateway is driven as its users drive it: the official `ollama` and `openai` clients against the
ASGI application served by uvicorn on a loopback port (a thread of this process, so it uses the test
database and settings), with the fake Ollama behind it. Tests commit (`transaction=True`): the
server's threads have connections of their own.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import ollama
import openai
import pytest
import uvicorn

from auth_app.services.api_keys import create_api_key
from tests.fakes.ollama import DEFAULT_MODEL, unused_port
from tests.models_app.factories import AIModelFactory


class ServerThread:
    """uvicorn serving the project's ASGI application on 127.0.0.1, in a daemon thread."""

    def __init__(self) -> None:
        from config.asgi import application

        self.port = unused_port()
        config = uvicorn.Config(
            application, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def gateway_server() -> Iterator[ServerThread]:
    server = ServerThread().start()
    yield server
    server.stop()


@pytest.fixture
def catalogue_model(db, fake_ollama):
    """The fake Ollama's model, published in the catalogue."""
    return AIModelFactory(name=DEFAULT_MODEL, family="llama", parameter_size="3.2B", is_active=True)


@pytest.fixture
def api_key(db, user):
    """(ApiKey, the raw key) of `user`, recording, every scope."""
    return create_api_key(user, name="editor")


@pytest.fixture
def ollama_client(gateway_server, api_key) -> Iterator[ollama.Client]:
    with ollama.Client(
        host=f"{gateway_server.url}/ollama", headers={"Authorization": f"Bearer {api_key[1]}"}
    ) as client:
        yield client


@pytest.fixture
def openai_client(gateway_server, api_key) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gateway_server.url}/v1", api_key=api_key[1], max_retries=0) as client:
        yield client
