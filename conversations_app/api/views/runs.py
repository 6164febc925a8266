"""Answers that outlive the tab: re-attach to an answer's events from any client, stop it.

Both views check ownership in one short database step and hold no connection afterwards: a
re-attached stream follows the answer's Redis Stream (conversations_app.services.runs), which any
web worker can read, and looks at the database again only when the stream has gone quiet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from conversations_app.api.serializers.chat import ExchangeSerializer
from conversations_app.api.views.chat import SSE_EXAMPLES, done_data
from conversations_app.models import AIResponse, ConversationPromptResponse
from conversations_app.selectors.history import exchange_of_response_get, exchange_row_get
from conversations_app.services.runs import StreamPage, run_stop, stream_follow, stream_read
from core.api import EVENT_STREAM, AsyncAPIView, error_example
from core.cache import CACHE_ERRORS
from core.db import db_step
from core.exceptions import ServiceUnavailable
from core.schema import ErrorSerializer
from core.sse import sse_event, with_keepalive

# How long a stop waits for the answer to be stored `interrupted` before answering 202.
STOP_WAIT_SECONDS = 10.0
STOP_POLL_SECONDS = 0.1

NOT_FOUND = OpenApiResponse(
    ErrorSerializer,
    description="No such answer (or not yours).",
    examples=[error_example(404, "not_found", "Response not found.")],
)
REDIS_DOWN = OpenApiResponse(
    ErrorSerializer,
    description="The answer is still being written and Redis, through which it is followed, is unavailable.",
    examples=[error_example(503, "service_unavailable", "A service this request needs is unavailable.")],
)


def last_event_id(request: Request) -> int:
    """The number of the last event the client has seen (`Last-Event-ID`), 0 when none or unreadable."""
    try:
        return max(int(request.headers.get("Last-Event-ID", "0")), 0)
    except ValueError:
        return 0


def stored_events(exchange: ConversationPromptResponse, *, after: int) -> list[bytes]:
    """A finished answer as a stream: start, its reasoning as one `thinking` event (when it has any),
    the whole text as one token, done; those numbered above `after`."""
    answer = exchange.response
    events = [
        (
            "start",
            {
                "exchange_id": exchange.pk,
                "prompt_id": exchange.prompt_id,
                "response_id": exchange.response_id,
                "parent_id": exchange.parent_id,
                "position": exchange.position,
            },
        ),
        *([("thinking", {"content": answer.thinking})] if answer.thinking else []),
        ("token", {"content": answer.content}),
        ("done", done_data(exchange, answer)),
    ]
    return [sse_event(name, data, event_id=n) for n, (name, data) in enumerate(events, 1) if n > after]


def _owned_exchange(request: Request, response_id: Any) -> ConversationPromptResponse:
    return exchange_of_response_get(user=request.user, response_id=response_id)


async def _replayed(events: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in events:
        yield chunk


class ResponseEventsView(AsyncAPIView):
    """Re-attach to an answer: what was generated so far, then what comes, until the end."""

    @extend_schema(
        summary="Follow an answer's events",
        description="The Server-Sent Events of an answer (those of `POST messages/` with `stream`, "
        "same numbers in `id:`), from any tab or device of its owner: an answer still being written "
        "(`streaming`) is replayed from its start, then followed live until its `done` or `error` "
        "(keep-alive comments while the model is silent). With `Last-Event-ID: n` only the events "
        "numbered above `n` are sent. A finished answer is sent as `start`, its whole text as one "
        "`token`, and `done` with its status (or as the events it was streamed with, while they are "
        "kept: an hour after the end). `503` while the answer is being written and Redis is down.",
        parameters=[
            OpenApiParameter(
                "Last-Event-ID",
                OpenApiTypes.INT,
                location=OpenApiParameter.HEADER,
                required=False,
                description="Number of the last event already received.",
            )
        ],
        responses={
            (200, EVENT_STREAM): OpenApiResponse(
                response=OpenApiTypes.STR, description="The answer's events.", examples=SSE_EXAMPLES
            ),
            404: NOT_FOUND,
            503: REDIS_DOWN,
        },
    )
    async def get(self, request: Request, response_id) -> StreamingHttpResponse:
        exchange = await db_step(_owned_exchange, request, response_id)
        after = last_event_id(request)
        events: AsyncIterator[bytes]
        try:
            first = await stream_read(response_id=exchange.response_id)
        except CACHE_ERRORS as exc:
            if exchange.response.status == AIResponse.Status.STREAMING:
                raise ServiceUnavailable(
                    "The answer cannot be followed right now: Redis is unavailable. Try again shortly."
                ) from exc
            first = StreamPage(events=[], cursor="0-0", ended=False)
        if exchange.response.status != AIResponse.Status.STREAMING and not first.ended:
            events = _replayed(stored_events(exchange, after=after))
        else:
            events = stream_follow(
                response_id=exchange.response_id,
                first=first,
                after=after,
                settle=self._settler(request, exchange),
            )
        response = StreamingHttpResponse(with_keepalive(events), content_type=EVENT_STREAM)
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

    @staticmethod
    def _settler(request: Request, exchange: ConversationPromptResponse):
        async def settle(last: int) -> list[bytes] | None:
            """The closing `done` of an answer that ended without its stream saying so, else None."""
            current = await db_step(_owned_exchange, request, exchange.response_id)
            if current.response.status == AIResponse.Status.STREAMING:
                return None
            return [sse_event("done", done_data(current, current.response), event_id=last + 1)]

        return settle


class ResponseStopView(AsyncAPIView):
    """Stop an answer being written, from any client of its owner."""

    @extend_schema(
        summary="Stop an answer",
        description="Stops an answer being written (from any tab or device, whichever server "
        "process writes it): Ollama's request is cancelled, what had arrived is kept, the answer "
        "becomes `interrupted`, and every stream of it ends with `done` (status `interrupted`). "
        "Answers `200` with the stored exchange once that is done; `202` with it (still `streaming`) "
        "when the stop was asked but the answer was not stored within 10 seconds. An answer already "
        "finished is left as it is: `200` with its final state.",
        request=None,
        responses={
            200: ExchangeSerializer,
            202: ExchangeSerializer,
            404: NOT_FOUND,
            503: OpenApiResponse(
                ErrorSerializer,
                description="Redis, through which the stop reaches the answer's server process, is "
                "unavailable.",
            ),
        },
    )
    async def post(self, request: Request, response_id) -> Response:
        exchange = await db_step(_owned_exchange, request, response_id)
        if exchange.response.status == AIResponse.Status.STREAMING:
            run = await run_stop(response_id=exchange.response_id)
            if run is not None:
                await run.wait()
            deadline = time.monotonic() + STOP_WAIT_SECONDS
            while True:
                exchange = await db_step(_owned_exchange, request, response_id)
                if exchange.response.status != AIResponse.Status.STREAMING or time.monotonic() > deadline:
                    break
                await asyncio.sleep(STOP_POLL_SECONDS)
        data = await db_step(self._data, request, exchange)
        stopping = exchange.response.status == AIResponse.Status.STREAMING
        return Response(data, status=status.HTTP_202_ACCEPTED if stopping else status.HTTP_200_OK)

    def _data(self, request: Request, exchange: ConversationPromptResponse) -> dict[str, Any]:
        return ExchangeSerializer(exchange_row_get(user=request.user, exchange_id=exchange.pk)).data
