"""Middleware of the kernel: a base for sync-and-async middleware, the request id, the audit context
and the compression of JSON responses."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import Token
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers
from django.utils.deprecation import MiddlewareMixin
from django.utils.functional import SimpleLazyObject, empty
from django.utils.regex_helper import _lazy_re_compile
from rest_framework.permissions import SAFE_METHODS

from core.audit import AuditContext, context_for_request, enter_context, exit_context
from core.db_router import note_write
from core.request_id import HEADER, META_KEY, request_id_begin, request_id_from_client, request_id_scope


class WrappingMiddleware:
    """Base of middleware that sets something up around the rest of the chain, natively in both the
    sync and the async stack (so it never forces a thread switch under ASGI).

    `enter(request)` runs first and returns a state; `leave(state)` runs however the rest ends;
    `finish(request, response, state)` may change the response. A streamed body (chat over SSE) is
    produced after the view returned: when `chunk_scope(state)` gives a context manager, it is
    entered again around the production of each chunk, so what the stream logs or writes still runs
    in the request's setting.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self.__acall__(request)
        state = self.enter(request)
        try:
            response = self.get_response(request)
        finally:
            self.leave(state)
        return self._rescope_stream(self.finish(request, response, state), state)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        state = self.enter(request)
        try:
            response = await self.get_response(request)
        finally:
            self.leave(state)
        return self._rescope_stream(self.finish(request, response, state), state)

    def chunk_scope(self, state: Any) -> AbstractContextManager[Any] | None:
        return None

    def enter(self, request: HttpRequest) -> Any:
        return None

    def leave(self, state: Any) -> None:
        return None

    def finish(self, request: HttpRequest, response: HttpResponseBase, state: Any) -> HttpResponseBase:
        return response

    def _rescope_stream(self, response: HttpResponseBase, state: Any) -> HttpResponseBase:
        if not getattr(response, "streaming", False) or isinstance(response, FileResponse):
            return response
        if self.chunk_scope(state) is None:
            return response

        def scope() -> AbstractContextManager[Any]:
            return self.chunk_scope(state)  # type: ignore[return-value]

        content = response.streaming_content  # type: ignore[attr-defined]
        response.streaming_content = (  # type: ignore[attr-defined]
            _async_chunks(content, scope) if hasattr(content, "__aiter__") else _sync_chunks(content, scope)
        )
        return response


class RequestIdMiddleware(WrappingMiddleware):
    """Give every request an id (the client's `X-Request-ID` when valid), make it current for logging
    and the audit trail until the request is finished (and around each chunk of a streamed body),
    and return it as `X-Request-ID`."""

    def enter(self, request: HttpRequest) -> str:
        request_id = request_id_from_client(request.META.get(META_KEY))
        request.request_id = request_id  # type: ignore[attr-defined]
        request_id_begin(request_id)
        return request_id

    def chunk_scope(self, state: str) -> AbstractContextManager[Any]:
        return request_id_scope(state)

    def finish(self, request: HttpRequest, response: HttpResponseBase, state: Any) -> HttpResponseBase:
        response[HEADER] = state
        return response


ChunkScope = Callable[[], AbstractContextManager[Any]]


def _sync_chunks(content: Iterable[bytes], scope: ChunkScope) -> Iterator[bytes]:
    iterator = iter(content)
    while True:
        with scope():
            chunk = next(iterator, None)
        if chunk is None:
            return
        yield chunk


async def _async_chunks(content: AsyncIterable[bytes], scope: ChunkScope) -> AsyncIterator[bytes]:
    iterator = aiter(content)
    while True:
        with scope():
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                return
        yield chunk


class AuditContextMiddleware(WrappingMiddleware):
    """Attribute the request's writes to its user, peer address and request id, in the view and in
    its streamed body. Costs nothing until a write on an audited table happens; the user is read
    then, after DRF has authenticated it."""

    def enter(self, request: HttpRequest) -> tuple[Token, AuditContext]:
        context = context_for_request(request)
        return enter_context(context), context

    def leave(self, state: tuple[Token, AuditContext]) -> None:
        exit_context(state[0])

    @contextmanager
    def chunk_scope(self, state: tuple[Token, AuditContext]) -> Iterator[AuditContext]:
        """A streamed body's writes (an answer stored at its end) are the request user's too."""
        token = enter_context(state[1])
        try:
            yield state[1]
        finally:
            exit_context(token)


def _signed_in_user_id(request: HttpRequest) -> Any:
    """The id of the request's user if the request authenticated one (DRF sets it on the request it
    wraps), without evaluating a lazy session user that nothing asked for; else None."""
    user = getattr(request, "user", None)
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:  # type: ignore[attr-defined]
        return None
    return user.pk if user is not None and user.is_authenticated else None


class ReadYourWritesMiddleware(WrappingMiddleware):
    """After a write request (any method but GET, HEAD, OPTIONS) of a signed-in user, their reads go
    to the primary for REPLICA_READ_YOUR_WRITES_SECONDS (core.db_router): noted as the response
    leaves, whatever its status (a failed chat still stored the prompt), and again when a streamed
    body ends (a chat answer is stored then). One Redis SET; nothing without a replica."""

    def finish(self, request: HttpRequest, response: HttpResponseBase, state: Any) -> HttpResponseBase:
        if request.method in SAFE_METHODS:
            return response
        user_id = _signed_in_user_id(request)
        if user_id is None:
            return response
        note_write(user_id)
        if getattr(response, "streaming", False) and not isinstance(response, FileResponse):
            content = response.streaming_content  # type: ignore[attr-defined]
            response.streaming_content = (  # type: ignore[attr-defined]
                _async_then(content, note_write, user_id)
                if hasattr(content, "__aiter__")
                else _sync_then(content, note_write, user_id)
            )
        return response


def _sync_then(content: Iterable[bytes], callback: Callable[[Any], None], argument: Any) -> Iterator[bytes]:
    try:
        yield from content
    finally:
        callback(argument)


async def _async_then(
    content: AsyncIterable[bytes], callback: Callable[[Any], None], argument: Any
) -> AsyncIterator[bytes]:
    try:
        async for chunk in content:
            yield chunk
    finally:
        callback(argument)


_ACCEPTS_GZIP = _lazy_re_compile(r"\bgzip\b")


class JSONCompressionMiddleware(MiddlewareMixin):
    """gzip a whole JSON response of at least COMPRESS_MIN_BYTES for a client that accepts it (a long
    history is a few MB of JSON, a tenth of that compressed). Fast level 1: on a local network the
    CPU it costs matters more than the last bytes.

    Never a streamed body (an event stream's events must reach the client as they come, a download is
    sent as stored), nor the auth endpoints, whose bodies carry tokens next to what the client sent
    (no compression side channel on secrets).
    """

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.streaming or response.has_header("Content-Encoding"):
            return response
        if not response.get("Content-Type", "").startswith("application/json"):
            return response
        if request.path.startswith(UNCOMPRESSED_PATH_PREFIXES):
            return response
        content = response.content  # type: ignore[attr-defined]
        if len(content) < COMPRESS_MIN_BYTES:
            return response
        patch_vary_headers(response, ("Accept-Encoding",))
        if not _ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")):
            return response
        response.content = gzip.compress(content, compresslevel=1, mtime=0)  # type: ignore[attr-defined]
        response["Content-Length"] = str(len(response.content))  # type: ignore[attr-defined]
        response["Content-Encoding"] = "gzip"
        etag = response.get("ETag")
        if etag and etag.startswith('"'):
            response["ETag"] = "W/" + etag  # the bytes differ from the uncompressed representation's
        return response


COMPRESS_MIN_BYTES = 1024
UNCOMPRESSED_PATH_PREFIXES = ("/api/v1/auth/",)
