"""A fake Ollama: a real HTTP server on loopback speaking Ollama's wire protocol (SPEC §8).

It runs in a thread on an ephemeral port and can be told, per test, which models it has, what to
answer (token by token), how slowly, to fail with an HTTP status, to cut a stream after k tokens or
to hold it after k tokens until released. It records every request it receives, so tests can assert
what was sent to Ollama (roles and order of the messages).

Besides chat it speaks generate (`response` pieces), embed and the older embeddings, ps (the models
answered with lately), and what a chat request may ask for: `think` (thinking streamed before the
content), `tools` (answered with `tool_calls` when told to), `format` ("json" or a JSON schema:
the answer is a JSON text of that shape).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

DEFAULT_MODEL = "llama3.2:3b"
DEFAULT_REPLY = ["Hello", ",", " how", " can", " I", " help", " you", "?"]
VERSION = "0.6.5"
# How long a held stream waits for release before giving up (a test that forgets to release).
HOLD_LIMIT_SECONDS = 30
DEFAULT_THINKING = ["Let", " me", " think", "."]
EMBEDDING_DIMENSIONS = 8


def model_details(name: str) -> dict[str, Any]:
    family = name.split(":", 1)[0].rstrip("0123456789.") or "llama"
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": "3.2B",
        "quantization_level": "Q4_K_M",
    }


@dataclass
class ReceivedRequest:
    """One request as the fake server saw it."""

    method: str
    path: str
    body: Any


@dataclass
class FakeOllama:
    """Behaviour of the fake server; change attributes between requests to script a test."""

    models: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {DEFAULT_MODEL: model_details(DEFAULT_MODEL)}
    )
    reply_tokens: list[str] = field(default_factory=lambda: list(DEFAULT_REPLY))
    token_delay: float = 0.0
    cut_after: int | None = None
    hold_after: int | None = None
    pull_layer_size: int = 4_000_000
    failures: dict[str, tuple[int, str]] = field(default_factory=dict)
    requests: list[ReceivedRequest] = field(default_factory=list)
    # Capabilities `/api/show` reports per model (default: a chat model with tools, vision, thinking).
    capabilities: dict[str, list[str]] = field(default_factory=dict)
    # Pieces of thinking streamed before the answer when a request asks for `think`.
    thinking_tokens: list[str] = field(default_factory=lambda: list(DEFAULT_THINKING))
    # Tool calls answered (instead of text) to a chat request that offers `tools`, when set.
    tool_calls: list[dict[str, Any]] | None = None
    # Models answered with (what `/api/ps` lists as loaded).
    loaded: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._released = threading.Event()
        self._held = threading.Event()
        self._resume = False
        self._closed_by_client = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- scripting ---------------------------------------------------------------------------------
    def add_model(self, name: str, *, capabilities: list[str] | None = None) -> None:
        self.models[name] = model_details(name)
        if capabilities is not None:
            self.capabilities[name] = capabilities

    def fail(self, status: int = 500, error: str = "internal error", *, path: str = "/api/chat") -> None:
        """Answer requests to `path` with `status` and `{"error": error}`."""
        self.failures[path] = (status, error)

    def release(self, *, resume: bool = False) -> None:
        """Let a stream held by `hold_after` end (by cutting the connection, as a dying server would),
        or with `resume` go on to the end of the answer."""
        self._resume = resume
        self._released.set()

    def wait_until_closed_by_client(self, timeout: float = 10) -> bool:
        """Block until the client closed a held stream's connection (it cancelled the request)."""
        return self._closed_by_client.wait(timeout)

    def wait_until_held(self, timeout: float = 10) -> bool:
        """Block until a stream has reached `hold_after` tokens."""
        return self._held.wait(timeout)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the /api/chat requests received, oldest first."""
        return [r.body for r in self.requests if r.path == "/api/chat"]

    def bodies(self, path: str) -> list[Any]:
        """Bodies of the requests received on `path`, oldest first."""
        return [r.body for r in self.requests if r.path == path]

    # --- lifecycle ------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "the fake Ollama server is not started"
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # an IPv4 server
        return f"http://{host}:{port}"

    def start(self) -> FakeOllama:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-ollama", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOllama"

    @property
    def fake(self) -> FakeOllama:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- plumbing ---------------------------------------------------------------------------------------
    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode(errors="replace")

    def _send_json(self, status: int, payload: Any | None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, error: str) -> None:
        self._send_json(status, {"error": error})

    def _start_stream(self) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _send_line(self, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        """Drop the connection mid-body, without the chunked terminator."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _client_gone(self) -> bool:
        """Whether the client closed the connection (readable, and nothing to read)."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _handle(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        body = self._read_body() if method in ("POST", "DELETE") else None
        self.fake.requests.append(ReceivedRequest(method=method, path=path, body=body))
        if path in self.fake.failures:
            status, error = self.fake.failures[path]
            self._send_error(status, error)
            return
        route = {
            ("GET", "/api/version"): self._version,
            ("GET", "/api/tags"): self._tags,
            ("POST", "/api/show"): self._show,
            ("POST", "/api/chat"): self._chat,
            ("POST", "/api/generate"): self._generate,
            ("POST", "/api/embed"): self._embed,
            ("POST", "/api/embeddings"): self._embeddings,
            ("GET", "/api/ps"): self._ps,
            ("POST", "/api/pull"): self._pull,
            ("DELETE", "/api/delete"): self._delete,
        }.get((method, path))
        if route is None:
            self._send_error(HTTPStatus.NOT_FOUND, "404 page not found")
            return
        try:
            route(body if isinstance(body, dict) else {})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- endpoints -----------------------------------------------------------------------------------
    def _version(self, body: dict[str, Any]) -> None:
        self._send_json(HTTPStatus.OK, {"version": VERSION})

    def _tags(self, body: dict[str, Any]) -> None:
        models = [
            {
                "name": name,
                "model": name,
                "modified_at": _now(),
                "size": 2_019_393_189,
                "digest": _digest(name)[7:],
                "details": details,
            }
            for name, details in self.fake.models.items()
        ]
        self._send_json(HTTPStatus.OK, {"models": models})

    def _missing(self, name: str) -> None:
        self._send_error(HTTPStatus.NOT_FOUND, f"model '{name}' not found")

    def _show(self, body: dict[str, Any]) -> None:
        name = body.get("model") or body.get("name") or ""
        if name not in self.fake.models:
            self._missing(name)
            return
        details = self.fake.models[name]
        self._send_json(
            HTTPStatus.OK,
            {
                "modelfile": f'# Modelfile generated by "ollama show"\nFROM {name}\n',
                "parameters": 'stop "<|eot_id|>"',
                "template": "{{ .Prompt }}",
                "license": "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT",
                "details": details,
                "model_info": {
                    "general.architecture": details["family"],
                    "general.parameter_count": 3_212_749_888,
                    "general.file_type": 15,
                    "general.quantization_version": 2,
                },
                # A plain chat model with tools unless `add_model(capabilities=...)` said otherwise.
                "capabilities": self.fake.capabilities.get(name, ["completion", "tools"]),
                "modified_at": _now(),
            },
        )

    def _reply(self, body: dict[str, Any]) -> tuple[list[str], str]:
        """The pieces of the answer and the done reason: a JSON text when `format` asks for one, cut
        at `num_predict` pieces."""
        tokens = list(self.fake.reply_tokens)
        wanted = body.get("format")
        if wanted:
            text = json.dumps(_sample_of(wanted, "".join(tokens)))
            tokens = [text[i : i + 8] for i in range(0, len(text), 8)]
        num_predict = (body.get("options") or {}).get("num_predict")
        if isinstance(num_predict, int) and 0 < num_predict < len(tokens):
            return tokens[:num_predict], "length"
        return tokens, "stop"

    def _final(self, model: str, *, prompt_words: int, tokens: list[str], done_reason: str) -> dict[str, Any]:
        return {
            "model": model,
            "created_at": _now(),
            "done": True,
            "done_reason": done_reason,
            "total_duration": 1_500_000_000 + 1_000 * len(tokens),
            "load_duration": 25_000_000,
            "prompt_eval_count": prompt_words,
            "prompt_eval_duration": 120_000_000,
            "eval_count": len(tokens),
            "eval_duration": 1_300_000_000,
        }

    def _answer(
        self,
        *,
        model: str,
        body: dict[str, Any],
        prompt_words: int,
        piece: Any,
        tool_calls: list[dict[str, Any]] | None = None,
    ) -> None:
        """Stream (or send whole) an answer: thinking first when asked, then the text (or the tool
        calls), then the final object with the metrics. `piece(content=..., thinking=...)` makes the
        fields of one line."""
        if model not in self.fake.loaded:
            self.fake.loaded.append(model)
        tokens, done_reason = self._reply(body)
        thinking = list(self.fake.thinking_tokens) if body.get("think") else []
        if tool_calls:
            tokens = []
        final = self._final(model, prompt_words=prompt_words, tokens=tokens or ["x"], done_reason=done_reason)
        if body.get("stream") is False:
            whole = piece(content="".join(tokens), thinking="".join(thinking), tool_calls=tool_calls)
            self._send_json(HTTPStatus.OK, {**final, **whole})
            return
        self._start_stream()
        lines = [piece(content="", thinking=t) for t in thinking] + [piece(content=t) for t in tokens]
        if tool_calls:
            lines.append(piece(content="", tool_calls=tool_calls))
        for index, fields in enumerate(lines):
            if self.fake.cut_after is not None and index == self.fake.cut_after:
                self._cut()
                return
            if self.fake.hold_after is not None and index == self.fake.hold_after:
                self.fake._held.set()
                deadline = time.monotonic() + HOLD_LIMIT_SECONDS
                while not self.fake._released.wait(0.02) and time.monotonic() < deadline:
                    if self._client_gone():
                        self.fake._closed_by_client.set()
                        self._cut()
                        return
                if not self.fake._resume:
                    self._cut()
                    return
            if self.fake.token_delay:
                time.sleep(self.fake.token_delay)
            self._send_line({"model": model, "created_at": _now(), **fields, "done": False})
        self._send_line({**final, **piece(content="")})
        self._end_stream()

    def _chat(self, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        if model not in self.fake.models:
            self._missing(model)
            return
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])

        def piece(content: str, thinking: str = "", tool_calls: list | None = None) -> dict[str, Any]:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if thinking:
                message["thinking"] = thinking
            if tool_calls:
                message["tool_calls"] = tool_calls
            return {"message": message}

        tool_calls = self.fake.tool_calls if body.get("tools") else None
        self._answer(model=model, body=body, prompt_words=prompt_words, piece=piece, tool_calls=tool_calls)

    def _generate(self, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        if model not in self.fake.models:
            self._missing(model)
            return
        if not body.get("prompt"):  # Ollama loads the model and answers an empty, finished response
            self._send_json(
                HTTPStatus.OK,
                {"model": model, "created_at": _now(), "response": "", "done": True, "done_reason": "load"},
            )
            return
        prompt_words = len(str(body.get("prompt", "")).split()) + len(str(body.get("system", "")).split())

        def piece(content: str, thinking: str = "", tool_calls: list | None = None) -> dict[str, Any]:
            fields: dict[str, Any] = {"response": content}
            if thinking:
                fields["thinking"] = thinking
            return fields

        self._answer(model=model, body=body, prompt_words=prompt_words, piece=piece)

    def _embed(self, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        if model not in self.fake.models:
            self._missing(model)
            return
        given = body.get("input")
        texts = [given] if isinstance(given, str) else list(given or [])
        self._send_json(
            HTTPStatus.OK,
            {
                "model": model,
                "embeddings": [_embedding(str(text)) for text in texts],
                "total_duration": 14_143_917,
                "load_duration": 1_019_500,
                "prompt_eval_count": sum(len(str(text).split()) for text in texts),
            },
        )

    def _embeddings(self, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        if model not in self.fake.models:
            self._missing(model)
            return
        self._send_json(HTTPStatus.OK, {"embedding": _embedding(str(body.get("prompt", "")))})

    def _ps(self, body: dict[str, Any]) -> None:
        models = [
            {
                "name": name,
                "model": name,
                "size": 5_137_025_024,
                "digest": _digest(name)[7:],
                "details": self.fake.models[name],
                "expires_at": "2099-01-01T00:00:00Z",
                "size_vram": 5_137_025_024,
            }
            for name in self.fake.loaded
            if name in self.fake.models
        ]
        self._send_json(HTTPStatus.OK, {"models": models})

    def _pull(self, body: dict[str, Any]) -> None:
        name = body.get("model") or body.get("name") or ""
        size = self.fake.pull_layer_size
        self._start_stream()
        self._send_line({"status": "pulling manifest"})
        for layer in ("model", "params"):
            digest = _digest(f"{name}/{layer}")
            for completed in (0, size // 2, size):
                self._send_line(
                    {
                        "status": f"pulling {digest[7:19]}",
                        "digest": digest,
                        "total": size,
                        "completed": completed,
                    }
                )
        self._send_line({"status": "verifying sha256 digest"})
        self._send_line({"status": "writing manifest"})
        self._send_line({"status": "success"})
        self._end_stream()
        self.fake.add_model(name)

    def _delete(self, body: dict[str, Any]) -> None:
        name = body.get("model") or body.get("name") or ""
        if self.fake.models.pop(name, None) is None:
            self._missing(name)
            return
        self._send_json(HTTPStatus.OK, None)


def _embedding(text: str) -> list[float]:
    """A deterministic unit-less vector of a text."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round(byte / 255, 6) for byte in digest[:EMBEDDING_DIMENSIONS]]


def _sample_of(wanted: Any, text: str) -> Any:
    """A value of the shape a `format` asks for: `{"answer": text}` for "json", else an instance of
    the JSON schema (objects with their properties, strings, numbers, booleans, arrays)."""
    if not isinstance(wanted, dict):
        return {"answer": text}
    kind = wanted.get("type")
    if kind == "object" or "properties" in wanted:
        return {name: _sample_of(schema, text) for name, schema in (wanted.get("properties") or {}).items()}
    if kind == "array":
        return [_sample_of(wanted.get("items") or {"type": "string"}, text)]
    if kind == "integer":
        return 42
    if kind == "number":
        return 4.2
    if kind == "boolean":
        return True
    if wanted.get("enum"):
        return wanted["enum"][0]
    return text


def unused_port() -> int:
    """A loopback port nothing listens on (bound once by the OS, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fake_ollama(settings):
    """A started fake Ollama; `settings.OLLAMA_URL` points at it for the test."""
    server = FakeOllama().start()
    settings.OLLAMA_URL = server.url
    yield server
    server.stop()


@pytest.fixture
def ollama_down(settings) -> str:
    """`settings.OLLAMA_URL` points at a loopback port where nothing listens."""
    settings.OLLAMA_URL = f"http://127.0.0.1:{unused_port()}"
    return settings.OLLAMA_URL


@pytest.fixture
def fake_pool(settings):
    """Three started fake Ollama servers; `settings.OLLAMA_URLS` lists them in order. Each has only
    DEFAULT_MODEL at first: tests give them the models they need."""
    servers = [FakeOllama().start() for _ in range(3)]
    settings.OLLAMA_URLS = [server.url for server in servers]
    yield servers
    for server in servers:
        server.stop()
