"""What the gateway's views share: plain async Django views (not DRF: the dialects are Ollama's and
OpenAI's, not the REST API's, and stay out of its OpenAPI schema), the key read from
`Authorization: Bearer`, every failure answered in the endpoint's dialect, and the passage of one
answer from Ollama to the client, recorded on the way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import orjson
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import classonlymethod
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from psycopg_pool import PoolTimeout

from conversations_app.services import ExchangeRelay, exchange_fail, exchange_interrupt
from core.db import db_step
from core.exceptions import DATABASE_ERRORS, ApplicationError
from core.ollama import ChatStream, UpstreamError, open_stream
from core.parsers import json_loads
from gateway_app.dialects.ollama import Call, Gathered
from gateway_app.errors import GatewayError, invalid
from gateway_app.services import Admission, gateway_chat_finish

logger = logging.getLogger(__name__)


def bearer_key(request: HttpRequest) -> str:
    """The credential of `Authorization: Bearer <key>` ("" when there is none)."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""


def json_body(request: HttpRequest) -> Any:
    try:
        return json_loads(request.body)
    except ValueError:
        raise invalid("The request body is not valid JSON.") from None


def as_gateway_error(exc: Exception) -> GatewayError:
    """Any failure as the status and message a gateway client gets."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, UpstreamError):  # Ollama's own refusal, passed on as Ollama said it
        return GatewayError(exc.upstream_status, exc.message)
    if isinstance(exc, ApplicationError):
        return GatewayError(exc.status_code, exc.message, code=exc.code, retry_after=exc.retry_after)
    if isinstance(exc, DATABASE_ERRORS):
        return GatewayError(
            503, "The database is unavailable right now. Please try again in a moment.", retry_after=5
        )
    raise exc


class GatewayView(View):
    """An async view of one dialect: `error_body` writes its errors."""

    http_method_names = ["get", "post", "delete"]

    @classonlymethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., Any]:
        return csrf_exempt(super().as_view(**initkwargs))

    @staticmethod
    def error_body(error: GatewayError) -> Any:
        raise NotImplementedError

    def error_response(self, error: GatewayError) -> HttpResponse:
        response = json_response(self.error_body(error), status=error.status)
        if error.retry_after:
            response["Retry-After"] = str(error.retry_after)
        return response

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        try:
            response = super().dispatch(request, *args, **kwargs)
            return await response  # type: ignore[misc]  # the handlers are coroutines
        except Exception as exc:  # every failure leaves in the dialect's shape
            return self.error_response(as_gateway_error(exc))

    async def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        return self.error_response(GatewayError(405, f"Method {request.method} not allowed."))


def json_response(payload: Any, *, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(payload), status=status, content_type="application/json; charset=utf-8")


async def open_answer(admission: Admission, call: Call) -> ChatStream:
    """Ask Ollama for the answer (the prompt is stored already); a refusal before the first byte
    leaves the recorded answer `failed`, a client gone by then `interrupted`."""
    try:
        return await open_stream(call.path, call.body_for(admission.model.name))
    except ApplicationError as exc:
        if admission.exchange is not None:
            await db_step(exchange_fail, exchange=admission.exchange, error=exc.message)
        raise
    except asyncio.CancelledError:
        if admission.exchange is not None:
            await db_step(exchange_interrupt, exchange=admission.exchange, content="")
        raise


async def _unrecorded(stream: ChatStream) -> AsyncGenerator[dict[str, Any], None]:
    async with stream:
        async for chunk in stream:
            yield chunk


class Passage:
    """One answer on its way from Ollama to the client: Ollama's objects, recorded on the way when the
    key records (`ExchangeRelay`: the answer stored `complete`, `failed` or `interrupted` with what
    arrived, the first outcome winning), gathered (`Gathered`), and counted at the end.

    The final object is handed on only once the answer and its usage are stored, so a client that has
    read it finds its conversation up to date.
    """

    def __init__(self, *, admission: Admission, call: Call, stream: ChatStream) -> None:
        self.admission = admission
        self.call = call
        self.gathered = Gathered()
        self._relay = (
            None if admission.exchange is None else ExchangeRelay(exchange=admission.exchange, stream=stream)
        )
        self._stream = stream

    async def chunks(self) -> AsyncGenerator[dict[str, Any], None]:
        source = self._relay.chunks() if self._relay is not None else _unrecorded(self._stream)
        final: dict[str, Any] | None = None
        async with aclosing(source) as chunks:
            async for chunk in chunks:
                self.gathered.add(chunk)
                if chunk.get("done"):
                    final = chunk
                else:
                    yield chunk
        if final is not None:
            await db_step(
                gateway_chat_finish,
                admission=self.admission,
                call=self.call,
                final=final,
                answer=self.gathered.answer_message(),
            )
            yield final

    async def gather(self) -> Gathered:
        """The whole answer (an unstreamed call)."""
        async with aclosing(self.chunks()) as chunks:
            async for _chunk in chunks:
                pass
        return self.gathered

    def close(self) -> None:
        """Django closes a streamed body however it ended: an answer nobody finished is `interrupted`."""
        if self._relay is not None:
            self._relay.close()


class EncodedStream:
    """A Passage's objects, each written by `encode` (an NDJSON line, SSE events); a failure mid-way
    is written by `encode_error` and ends the body. Django calls `close()` when the response ends."""

    def __init__(
        self,
        passage: Passage,
        encode: Callable[[dict[str, Any]], bytes],
        encode_error: Callable[[GatewayError], bytes],
        end: bytes = b"",
    ) -> None:
        self._passage = passage
        self._encode = encode
        self._encode_error = encode_error
        self._end = end

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async with aclosing(self._passage.chunks()) as chunks:
                async for chunk in chunks:
                    if data := self._encode(chunk):
                        yield data
        except (ApplicationError, OperationalError, InterfaceError, PoolTimeout) as exc:
            yield self._encode_error(as_gateway_error(exc))
            return
        if self._end:
            yield self._end

    def close(self) -> None:
        self._passage.close()
