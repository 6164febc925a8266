"""Client of the Ollama HTTP API (https://github.com/ollama/ollama/blob/main/docs/api.md).

- base URL, connect and read timeouts from settings (`OLLAMA_URL`, `OLLAMA_CONNECT_TIMEOUT`,
  `OLLAMA_READ_TIMEOUT`), read when a client is made so a changed setting takes effect at once;
- connection failures are retried by the transport, and only those: a request that reached Ollama is
  never sent twice (a chat is not idempotent, a pull is long);
- streamed answers are NDJSON, one JSON object per line, read with sync or async iterators;
- Ollama's failures become the ApplicationError family: unreachable → ServiceUnavailable (503), a
  model Ollama does not have → Conflict (409), any other error or a broken stream → BadGateway (502).

Callers must not hold a database transaction open while they wait on Ollama.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import httpx
import orjson
from django.conf import settings

from core.exceptions import ApplicationError, BadGateway, Conflict, ServiceUnavailable

# Attempts added after a failed connection; the transport backs off 0 s, 0.5 s, 1 s … between them.
CONNECT_RETRIES = 2

# A chat message: role and content, and for a user turn the `images` (base64) it carries.
Message = Mapping[str, Any]

UNREACHABLE_MESSAGE = "The model server (Ollama) is not reachable right now. Please try again later."


def _timeout() -> httpx.Timeout:
    connect = settings.OLLAMA_CONNECT_TIMEOUT
    return httpx.Timeout(connect=connect, read=settings.OLLAMA_READ_TIMEOUT, write=connect, pool=connect)


def _base_url(base_url: str | None) -> str:
    return (base_url or settings.OLLAMA_URL).rstrip("/")


def _error_text(response: httpx.Response) -> str:
    """Ollama's `{"error": "..."}` message, or the raw body when it is not that."""
    try:
        body = orjson.loads(response.content)
    except httpx.ResponseNotRead:
        return response.reason_phrase
    except orjson.JSONDecodeError:
        return response.text.strip() or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return response.text.strip()


def _model_missing_error(model: str | None, detail: str) -> Conflict:
    name = f"'{model}'" if model else "requested"
    return Conflict(
        f"The {name} model is not installed in Ollama; an administrator has to pull it first.",
        code="model_not_installed",
        fields={"model": [detail]},
    )


class OllamaServerError(BadGateway):
    """Ollama answered with a 5xx: the server failed, not the request (another server may answer)."""


def error_for_status(response: httpx.Response, *, model: str | None = None) -> ApplicationError:
    """The ApplicationError matching an Ollama error response (its body must have been read)."""
    detail = _error_text(response)
    if response.status_code == httpx.codes.NOT_FOUND and "not found" in detail.lower():
        return _model_missing_error(model, detail)
    if response.is_server_error:
        return OllamaServerError(f"Ollama answered {response.status_code}: {detail}", code="ollama_error")
    return BadGateway(f"Ollama answered {response.status_code}: {detail}", code="ollama_error")


def error_for_transport(exc: httpx.HTTPError) -> ApplicationError:
    """The ApplicationError matching an httpx failure (no usable HTTP response)."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return ServiceUnavailable(UNREACHABLE_MESSAGE, code="ollama_unavailable")
    if isinstance(exc, httpx.TimeoutException):
        return BadGateway("Ollama stopped responding before the answer was complete.", code="ollama_timeout")
    return BadGateway("The connection to Ollama broke before the answer was complete.", code="ollama_stream")


def _parse_line(line: str) -> dict[str, Any] | None:
    """One NDJSON line → its object; blank lines are skipped; an `error` object raises BadGateway."""
    if not line.strip():
        return None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadGateway("Ollama sent a line that is not JSON.", code="ollama_protocol") from exc
    if not isinstance(obj, dict):
        raise BadGateway("Ollama sent a line that is not a JSON object.", code="ollama_protocol")
    if obj.get("error"):
        raise BadGateway(f"Ollama failed while answering: {obj['error']}", code="ollama_error")
    return obj


def _unfinished() -> BadGateway:
    return BadGateway("Ollama ended the answer without finishing it.", code="ollama_stream")


def iter_ndjson(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Objects of a streamed NDJSON body (a pull's progress) to its end."""
    try:
        for line in response.iter_lines():
            if (obj := _parse_line(line)) is not None:
                yield obj
    except httpx.HTTPError as exc:
        raise error_for_transport(exc) from exc


async def aiter_ndjson(
    response: httpx.Response, *, until_done: bool = False
) -> AsyncIterator[dict[str, Any]]:
    """Objects of a streamed NDJSON body, read on the event loop. With `until_done`, a stream that ends
    before an object with `"done": true` is a BadGateway (Ollama or the connection died mid-answer)."""
    try:
        async for line in response.aiter_lines():
            if (obj := _parse_line(line)) is not None:
                yield obj
                if until_done and obj.get("done"):
                    return
    except httpx.HTTPError as exc:
        raise error_for_transport(exc) from exc
    if until_done:
        raise _unfinished()


def _chat_body(
    *,
    model: str,
    messages: Sequence[Message],
    options: Mapping[str, Any] | None,
    keep_alive: str | int | None,
    think: bool | None = None,
) -> dict[str, Any]:
    """A streamed chat request's body; `think` (when not None) asks a reasoning model to think, or
    not, before it answers."""
    body: dict[str, Any] = {"model": model, "messages": [dict(m) for m in messages], "stream": True}
    if options:
        body["options"] = dict(options)
    if think is not None:
        body["think"] = think
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    return body


class OllamaClient:
    """Blocking client: the admin side (tags, show, pull, delete). Answers are streamed by
    `AsyncOllamaClient`."""

    def __init__(self, base_url: str | None = None) -> None:
        self._http = httpx.Client(
            base_url=_base_url(base_url),
            timeout=_timeout(),
            transport=httpx.HTTPTransport(retries=CONNECT_RETRIES),
        )

    def __enter__(self) -> OllamaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, *, model: str | None = None, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc) from exc
        if response.is_error:
            raise error_for_status(response, model=model)
        return response

    def _stream(self, path: str, *, body: dict[str, Any], model: str | None) -> Iterator[dict[str, Any]]:
        try:
            with self._http.stream("POST", path, json=body) as response:
                if response.is_error:
                    response.read()
                    raise error_for_status(response, model=model)
                yield from iter_ndjson(response)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc) from exc

    def tags(self) -> list[dict[str, Any]]:
        """The models installed in Ollama (`GET /api/tags`)."""
        return self._request("GET", "/api/tags").json().get("models", [])

    def show(self, model: str) -> dict[str, Any]:
        """Modelfile, parameters, template, license, details and model_info of an installed model."""
        return self._request("POST", "/api/show", model=model, json={"model": model}).json()

    def delete(self, model: str) -> None:
        """Remove a model from Ollama; Conflict (409) when Ollama does not have it."""
        self._request("DELETE", "/api/delete", model=model, json={"model": model})

    def chat(
        self, *, model: str, messages: Sequence[Message], options: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """One whole answer, not streamed (`POST /api/chat` with `stream: false`): background work
        such as a conversation's title."""
        body = {
            **_chat_body(model=model, messages=messages, options=options, keep_alive=None),
            "stream": False,
        }
        return self._request("POST", "/api/chat", model=model, json=body).json()

    def pull(self, model: str) -> Iterator[dict[str, Any]]:
        """Download a model; yields Ollama's progress objects (`status`, `digest`, `total`, `completed`)
        up to `{"status": "success"}`."""
        yield from self._stream("/api/pull", body={"model": model, "stream": True}, model=model)


class ChatStream:
    """An answer Ollama has started to stream: the HTTP status was a success, the body is still
    coming. Iterate it once for the chunks; `aclose()` gives the connection back to the client's
    pool (idempotent)."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._closed = False

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return aiter_ndjson(self._response, until_done=True)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._response.aclose()

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


# Connections to Ollama a process keeps open at most: every streamed answer holds one.
MAX_CONNECTIONS = 1000
MAX_KEEPALIVE_CONNECTIONS = 100


def _async_http(base_url: str | None, *, retries: int = CONNECT_RETRIES) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=_base_url(base_url),
        timeout=_timeout(),
        limits=httpx.Limits(
            max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS
        ),
        transport=httpx.AsyncHTTPTransport(retries=retries),
    )


class AsyncOllamaClient:
    """Non-blocking client, for views that wait on Ollama without holding a thread."""

    def __init__(self, base_url: str | None = None, *, http: httpx.AsyncClient | None = None) -> None:
        self._http = http or _async_http(base_url)

    async def __aenter__(self) -> AsyncOllamaClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def version(self) -> str:
        """Ollama's version string."""
        try:
            response = await self._http.get("/api/version")
        except httpx.HTTPError as exc:
            raise error_for_transport(exc) from exc
        if response.is_error:
            raise error_for_status(response)
        return response.json()["version"]

    async def chat_stream(
        self,
        *,
        model: str,
        messages: Sequence[Message],
        options: Mapping[str, Any] | None = None,
        keep_alive: str | int | None = None,
        think: bool | None = None,
    ) -> ChatStream:
        """Send a chat request and return once Ollama has accepted it (status checked, body pending).

        Errors before the first byte of the answer (unreachable, unknown model, 5xx) are raised here,
        so a caller can still answer with a proper status code.
        """
        body = _chat_body(model=model, messages=messages, options=options, keep_alive=keep_alive, think=think)
        request = self._http.build_request("POST", "/api/chat", json=body)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc) from exc
        if response.is_error:
            try:
                await response.aread()
            except httpx.HTTPError:
                pass
            finally:
                await response.aclose()
            raise error_for_status(response, model=model)
        return ChatStream(response)

    # --- passthrough: any endpoint, Ollama's body and errors as they are (the API gateway) ---------
    async def stream(self, path: str, body: Mapping[str, Any]) -> ChatStream:
        """POST `body` to `path` as it is and return once Ollama has accepted it; the answer's NDJSON
        objects follow (to the one with `"done": true`). An error answer is an UpstreamError with
        Ollama's own status and message; no answer at all, error_for_transport's."""
        request = self._http.build_request("POST", path, content=orjson.dumps(body), headers=_JSON)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc) from exc
        if response.is_error:
            try:
                await response.aread()
            except httpx.HTTPError:
                pass
            finally:
                await response.aclose()
            raise UpstreamError(response.status_code, _error_text(response))
        return ChatStream(response)

    async def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One request answered by one JSON object (`/api/show`, `/api/embed`, `/api/ps` …), passed
        through as it is; errors as for `stream`."""
        content = None if body is None else orjson.dumps(body)
        try:
            response = await self._http.request(
                method, path, content=content, headers=_JSON if content is not None else None
            )
        except httpx.HTTPError as exc:
            raise error_for_transport(exc) from exc
        if response.is_error:
            raise UpstreamError(response.status_code, _error_text(response))
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise BadGateway("Ollama sent an answer that is not JSON.", code="ollama_protocol") from exc
        if not isinstance(answer, dict):
            raise BadGateway("Ollama sent an answer that is not a JSON object.", code="ollama_protocol")
        return answer


_JSON = {"Content-Type": "application/json"}


class UpstreamError(BadGateway):
    """Ollama answered a passed-through request with an error: `upstream_status` and the message are
    Ollama's own, for a gateway to answer as Ollama would have."""

    code = "ollama_error"

    def __init__(self, upstream_status: int, message: str) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status


# One long-lived HTTP client per event loop (a process has one) and per Ollama settings: its pool keeps
# connections to Ollama alive between answers, and its TLS context is built once, not per message.
_shared_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def shared_async_client(base_url: str | None = None, *, retries: int = CONNECT_RETRIES) -> AsyncOllamaClient:
    """The event loop's long-lived client for one Ollama server (`OLLAMA_URL` unless told) and the
    current timeouts. The pool asks for `retries=0` when another server can take a failed request."""
    url = _base_url(base_url)
    key = (url, settings.OLLAMA_CONNECT_TIMEOUT, settings.OLLAMA_READ_TIMEOUT, retries)
    clients = _shared_clients.setdefault(asyncio.get_running_loop(), {})
    http = clients.get(key)
    if http is None or http.is_closed:
        http = clients[key] = _async_http(url, retries=retries)
    return AsyncOllamaClient(http=http)


async def open_chat_stream(
    *,
    model: str,
    messages: Sequence[Message],
    options: Mapping[str, Any] | None = None,
    keep_alive: str | int | None = None,
    think: bool | None = None,
) -> ChatStream:
    """Start one streamed answer on a server of the pool that has the model (`core.ollama.pool`), on
    the event loop's shared client; `aclose()` on the stream gives its connection back."""
    from core.ollama.pool import routed  # the pool is built on this module

    async def send(client: AsyncOllamaClient) -> ChatStream:
        return await client.chat_stream(
            model=model, messages=messages, options=options, keep_alive=keep_alive, think=think
        )

    return await routed(model, send)


async def open_stream(path: str, body: Mapping[str, Any]) -> ChatStream:
    """`AsyncOllamaClient.stream`: on a server of the pool that has the body's model, else on the
    event loop's shared client for OLLAMA_URL."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return await shared_async_client().stream(path, body)
    from core.ollama.pool import routed

    async def send(client: AsyncOllamaClient) -> ChatStream:
        return await client.stream(path, body)

    return await routed(model, send)


async def call_json(method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`AsyncOllamaClient.call`: on a server of the pool that has the body's model (show, embed), else
    on the event loop's shared client for OLLAMA_URL (version, ps)."""
    model = (body or {}).get("model")
    if not isinstance(model, str) or not model:
        return await shared_async_client().call(method, path, body)
    from core.ollama.pool import routed

    async def send(client: AsyncOllamaClient) -> dict[str, Any]:
        return await client.call(method, path, body)

    return await routed(model, send)
