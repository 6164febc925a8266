"""The Ollama client, below the apps: every app that talks to Ollama (chat, inference management)
goes through it. See `core.ollama.client` for its behaviour."""

from core.ollama.client import (
    UNREACHABLE_MESSAGE,
    AsyncOllamaClient,
    ChatStream,
    OllamaClient,
    UpstreamError,
    call_json,
    error_for_status,
    error_for_transport,
    open_chat_stream,
    open_stream,
    shared_async_client,
)

__all__ = [
    "UNREACHABLE_MESSAGE",
    "AsyncOllamaClient",
    "ChatStream",
    "OllamaClient",
    "UpstreamError",
    "call_json",
    "error_for_status",
    "error_for_transport",
    "open_chat_stream",
    "open_stream",
    "shared_async_client",
]
