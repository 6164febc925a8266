"""Chat API: send a message (answered whole or streamed as Server-Sent Events), read the current
branch, regenerate an answer, switch branch.

Sending and regenerating are async views: under ASGI the wait on Ollama (seconds to minutes) holds
no thread and no database connection. DRF's own steps (authentication, permissions, throttles) and
every database call run in a worker thread through `core.db.db_step`, each service in its own short
transaction, the connection given back to the pool after each step.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from auth_app.authentication import AuthenticatedRequest, is_api_key_request
from auth_app.services.quotas import record_usage
from conversations_app.api.serializers.chat import (
    ExchangeEditSerializer,
    ExchangePageSerializer,
    ExchangeSerializer,
    MessageCreateSerializer,
    RegenerateSerializer,
    metrics_of,
)
from conversations_app.models import AIResponse, ConversationPromptResponse
from conversations_app.selectors.conversations import conversation_get
from conversations_app.selectors.history import conversation_branch, exchange_get, exchange_row_get
from conversations_app.services.chat import (
    ExchangeRelay,
    conversation_switch_branch,
    exchange_chat_messages,
    exchange_edit,
    exchange_fail,
    exchange_interrupt,
    exchange_regenerate,
    exchange_start,
    ollama_options,
)
from conversations_app.services.runs import run_start
from conversations_app.services.trash import exchange_soft_delete
from core.api import EVENT_STREAM, AsyncAPIView, error_example, validated
from core.db import db_step
from core.db_router import reads_from_replica
from core.exceptions import ApplicationError, error_body
from core.ollama import open_chat_stream
from core.pagination import CursorPagination
from core.schema import ErrorSerializer
from core.sse import EventNumbering, with_keepalive
from core.throttling import UserRateThrottle

logger = logging.getLogger(__name__)

SSE_DESCRIPTION = """
With `stream: true` or `Accept: text/event-stream` the answer is streamed as Server-Sent Events
(`200`, `Content-Type: text/event-stream`), one event per message, each with an `id:` (its number in
the stream); a `: keep-alive` comment comes at least every 15 seconds while the model is silent
(loading, thinking):

- `event: start` — `{"exchange_id", "prompt_id", "response_id", "parent_id", "position"}`: the prompt
  and a response in status `streaming` are stored before the model is asked.
- `event: thinking` — `{"content": "<piece of the model's thinking>"}`, before the answer's tokens,
  when `think` asked a reasoning model to think (stored as `response.thinking`, apart from the answer).
- `event: token` — `{"content": "<piece of the answer>"}`, as the model produces it.
- `event: done` — `{"exchange_id", "prompt_id", "response_id", "status": "complete", "done_reason",
  "metrics": {"total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
  "eval_count", "eval_duration"}}` (integers: nanoseconds and token counts). Last event.
- `event: error` — `{"code", "message", "exchange_id", "response_id", "status"}`: the model server
  failed mid-way (`status: "failed"`; the response is stored `failed` with what had arrived), or the
  database became unavailable (`code: "database_unavailable"`, `status: "pending"`; the answer is
  stored as soon as the database is back). Last event.

A client that disconnects does not stop the answer: it is produced and stored to the end. Any client
of its owner re-attaches to it with `GET /api/v1/conversations/responses/{response_id}/events/`
(the same events, `Last-Event-ID` honoured) and stops it with
`POST /api/v1/conversations/responses/{response_id}/stop/` (stored `interrupted` with what had
arrived; the last event is `done` with that status). Failures before
the first token are plain JSON errors: 503 when Ollama is unreachable, 409 when the model is not
installed in Ollama, 502 when Ollama fails; the prompt is kept with a `failed` response.
"""

EXAMPLE_IDS = {
    "exchange_id": "0192f0c4-5d2e-7b3a-8c41-2f6a9e0d1b22",
    "prompt_id": "0192f0c4-5d2e-7b3a-8c41-2f6a9e0d1b23",
    "response_id": "0192f0c4-5d2e-7b3a-8c41-2f6a9e0d1b24",
}


def _event_example(name: str, number: int, data: dict[str, Any], summary: str) -> OpenApiExample:
    return OpenApiExample(
        f"event {name}", value={"id": str(number), "event": name, "data": json.dumps(data)}, summary=summary
    )


SSE_EXAMPLES = [
    _event_example(
        "start",
        0,
        {**EXAMPLE_IDS, "parent_id": None, "position": 0},
        "First event: the prompt and a `streaming` response are stored",
    ),
    _event_example("thinking", 1, {"content": "Rayleigh scattering"}, "A piece of the model's thinking"),
    _event_example("token", 2, {"content": "The sky is blue because"}, "A piece of the answer"),
    _event_example(
        "done",
        7,
        {
            **EXAMPLE_IDS,
            "status": "complete",
            "done_reason": "stop",
            "metrics": {
                "total_duration": 812_000_000,
                "load_duration": 21_000_000,
                "prompt_eval_count": 26,
                "prompt_eval_duration": 130_000_000,
                "eval_count": 42,
                "eval_duration": 640_000_000,
            },
        },
        "Last event of a complete answer",
    ),
    _event_example(
        "error",
        5,
        {
            "code": "ollama_stream",
            "message": "The connection to Ollama broke before the answer was complete.",
            "exchange_id": EXAMPLE_IDS["exchange_id"],
            "response_id": EXAMPLE_IDS["response_id"],
            "status": "failed",
        },
        "Last event when Ollama fails mid-way",
    ),
]
MESSAGE_EXAMPLES = [
    OpenApiExample("Answer when complete", value={"content": "Why is the sky blue?"}, request_only=True),
    OpenApiExample(
        "Streamed, with options",
        value={"content": "Why is the sky blue?", "stream": True, "options": {"temperature": 0.2}},
        request_only=True,
    ),
    OpenApiExample(
        "Thinking first, about an attached image",
        value={
            "content": "What is in this picture?",
            "think": True,
            "images": ["0192f0c4-5d2e-7b3a-8c41-2f6a9e0d1b30"],
        },
        request_only=True,
    ),
]
STREAM_RESPONSES: dict[Any, Any] = {
    (200, EVENT_STREAM): OpenApiResponse(
        response=OpenApiTypes.STR, description=SSE_DESCRIPTION, examples=SSE_EXAMPLES
    ),
    400: OpenApiResponse(
        ErrorSerializer,
        description="Invalid input.",
        examples=[error_example(400, "invalid", "Invalid input.", {"content": ["This field is required."]})],
    ),
    404: OpenApiResponse(
        ErrorSerializer,
        description="No such conversation (or not yours).",
        examples=[error_example(404, "not_found", "Not found.")],
    ),
    409: OpenApiResponse(
        description="The model is not offered any more, or not installed in Ollama, or `images` were "
        "given and it has no vision (`model_without_vision`)."
    ),
    429: OpenApiResponse(description="Too many chat messages; see Retry-After."),
    502: OpenApiResponse(description="Ollama failed."),
    503: OpenApiResponse(description="Ollama is unreachable."),
}


class ChatRateThrottle(UserRateThrottle):
    """Messages (and regenerations) per user, at the "chat" rate of the settings."""

    scope = "chat"


class HistoryPagination(CursorPagination):
    """A branch in order, from its first exchange; positions are unique along a branch."""

    ordering = ("position",)
    page_size = 50
    max_page_size = 2000  # a whole long branch in one request


class ExchangeEventStream:
    """The Server-Sent Events of one answer, numbered from 1. An answer's run (services.runs) reads
    `events()` to the end, and `done()` when it stops the answer early; an Ollama or database failure
    becomes the `error` event, and is kept in `error` for a caller answering in JSON."""

    def __init__(self, relay: ExchangeRelay) -> None:
        self._relay = relay
        self.numbering = EventNumbering()
        self.error: ApplicationError | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return with_keepalive(self.events())

    async def events(self) -> AsyncIterator[bytes]:
        event = self.numbering
        exchange = self._relay.exchange
        yield event(
            "start",
            {
                "exchange_id": exchange.pk,
                "prompt_id": exchange.prompt_id,
                "response_id": exchange.response_id,
                "parent_id": exchange.parent_id,
                "position": exchange.position,
            },
        )
        try:
            async with aclosing(self._relay.pieces()) as pieces:
                async for kind, piece in pieces:
                    yield event(kind, {"content": piece})
        except ApplicationError as exc:
            self.error = exc
            body = error_body(exc.code, exc.message)["error"]
            outcome = "pending" if exc.code == "database_unavailable" else "failed"
            yield event(
                "error",
                {**body, "exchange_id": exchange.pk, "response_id": exchange.response_id, "status": outcome},
            )
            return
        yield self.done()

    def done(self) -> bytes:
        """The last event: how the answer ended (complete, or interrupted when stopped)."""
        exchange = self._relay.exchange
        return self.numbering("done", done_data(exchange, exchange.response))

    def close(self) -> None:
        self._relay.close()


def done_data(exchange: ConversationPromptResponse, answer: AIResponse) -> dict[str, Any]:
    """The data of a `done` event: the exchange's ids, the answer's status, done reason and metrics."""
    return {
        "exchange_id": exchange.pk,
        "prompt_id": exchange.prompt_id,
        "response_id": exchange.response_id,
        "status": answer.status,
        "done_reason": answer.done_reason,
        "metrics": metrics_of(answer),
    }


async def counting_api_usage(
    events: AsyncIterator[bytes], relay: ExchangeRelay, *, user: Any, api_key: Any
) -> AsyncIterator[bytes]:
    """`events`, then the answer's tokens (Ollama's counts) added to the API usage of the key the
    request was made with, as the drop-in APIs count theirs. Nothing is counted without Ollama's
    counts (an answer that failed or was stopped before its end)."""
    async for event in events:
        yield event
    response = relay.exchange.response
    prompt_tokens, eval_tokens = response.prompt_eval_count or 0, response.eval_count or 0
    if prompt_tokens or eval_tokens:
        try:
            await db_step(record_usage, user, api_key, prompt_tokens=prompt_tokens, eval_tokens=eval_tokens)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("API usage of answer %s not counted: %s", response.pk, exc)


def wants_stream(request: Request, data: dict[str, Any]) -> bool:
    return bool(data.get("stream")) or EVENT_STREAM in request.headers.get("Accept", "")


class ChatAnswerMixin:
    """Asks Ollama to answer an exchange that was just stored, and answers the client."""

    def get_throttles(self):
        throttles = super().get_throttles()  # type: ignore[misc]
        if self.request.method == "POST":  # type: ignore[attr-defined]
            throttles.append(ChatRateThrottle())
        return throttles

    def exchange_data(self, request: Request, exchange: ConversationPromptResponse) -> dict[str, Any]:
        return ExchangeSerializer(exchange_row_get(user=request.user, exchange_id=exchange.pk)).data

    async def answer(
        self,
        request: Request,
        exchange: ConversationPromptResponse,
        messages: list[dict[str, Any]],
        stream: bool,
    ) -> Response | StreamingHttpResponse:
        options, think = ollama_options(exchange.prompt.options)
        try:
            ollama_stream = await open_chat_stream(
                model=exchange.response.model_name, messages=messages, options=options, think=think
            )
        except ApplicationError as exc:
            await db_step(exchange_fail, exchange=exchange, error=exc.message)
            raise
        except asyncio.CancelledError:
            await db_step(exchange_interrupt, exchange=exchange, content="")
            raise
        relay = ExchangeRelay(exchange=exchange, stream=ollama_stream)
        source = ExchangeEventStream(relay)
        events = source.events()
        if is_api_key_request(request):
            events = counting_api_usage(events, relay, user=request.user, api_key=request.auth)
        # The answer is produced by a run of its own: a client hanging up does not stop it.
        run = run_start(response_id=exchange.response_id, events=events, finish=source.done)
        if stream:
            response = StreamingHttpResponse(with_keepalive(run.listen()), content_type=EVENT_STREAM)
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        await run.wait()
        if source.error is not None:
            raise source.error
        data = await db_step(self.exchange_data, request, relay.exchange)
        return Response(data, status=status.HTTP_201_CREATED)


class ConversationMessagesView(ChatAnswerMixin, AsyncAPIView):
    """`GET`: the current branch, in order. `POST`: send a message."""

    @extend_schema(
        operation_id="conversations_messages_list",  # a page of exchanges, though not a viewset's list
        summary="Current branch of a conversation",
        description="The exchanges of the branch being followed, oldest first, cursor-paginated "
        "(`page_size` up to 2,000: a whole branch in one request). Each exchange carries its prompt, "
        "its answer with status and metrics, the caller's feedback, the number of the caller's notes "
        "and its siblings (alternative answers) for switching branch.",
        parameters=[
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From `next`/`previous`."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="1 to 2000, default 50."),
        ],
        responses={200: ExchangePageSerializer},
    )
    async def get(self, request: AuthenticatedRequest, conversation_id) -> Response:
        return await db_step(self._history, request, conversation_id)

    def _history(self, request: AuthenticatedRequest, conversation_id) -> Response:
        with reads_from_replica(request.user):
            conversation = conversation_get(owner=request.user, conversation_id=conversation_id)
            paginator = HistoryPagination()
            page = paginator.paginate_queryset(
                conversation_branch(user=request.user, conversation=conversation), request, view=self
            )
            return paginator.get_paginated_response(ExchangeSerializer(page, many=True).data)

    @extend_schema(
        summary="Send a message",
        description="Stores the prompt (with the options used: the conversation's defaults overlaid "
        "with `options`) and asks the conversation's model, with the system prompt and the current "
        "branch as history. Without streaming, answers `201` with the stored exchange once the "
        "answer is complete." + SSE_DESCRIPTION,
        request=MessageCreateSerializer,
        responses={201: ExchangeSerializer, **STREAM_RESPONSES},
        examples=MESSAGE_EXAMPLES,
    )
    async def post(self, request: AuthenticatedRequest, conversation_id) -> Response | StreamingHttpResponse:
        exchange, messages, stream = await db_step(self._start, request, conversation_id)
        return await self.answer(request, exchange, messages, stream)

    def _start(
        self, request: AuthenticatedRequest, conversation_id
    ) -> tuple[ConversationPromptResponse, list, bool]:
        data = validated(MessageCreateSerializer, request.data)
        conversation = conversation_get(owner=request.user, conversation_id=conversation_id)
        exchange = exchange_start(
            conversation=conversation,
            content=data["content"],
            options=data.get("options"),
            system_prompt=data.get("system_prompt"),
            images=data.get("images", ()),
        )
        messages = exchange_chat_messages(exchange=exchange, conversation=exchange.conversation)
        return exchange, messages, wants_stream(request, data)


class ExchangeRegenerateView(ChatAnswerMixin, AsyncAPIView):
    """Another answer to an exchange's prompt, as a new sibling that becomes current."""

    @extend_schema(
        summary="Regenerate an answer",
        description="Asks again with the same prompt text. The new exchange is a sibling of this one "
        "(same parent and position), becomes the current branch, and is answered like a message: "
        "`201` with the stored exchange, or streamed." + SSE_DESCRIPTION,
        request=RegenerateSerializer,
        responses={201: ExchangeSerializer, **STREAM_RESPONSES},
    )
    async def post(self, request: Request, conversation_id, exchange_id) -> Response | StreamingHttpResponse:
        exchange, messages, stream = await db_step(self._start, request, conversation_id, exchange_id)
        return await self.answer(request, exchange, messages, stream)

    def _start(
        self, request: Request, conversation_id, exchange_id
    ) -> tuple[ConversationPromptResponse, list, bool]:
        data = validated(RegenerateSerializer, request.data)
        source = exchange_get(user=request.user, conversation_id=conversation_id, exchange_id=exchange_id)
        exchange = exchange_regenerate(
            exchange=source, options=data.get("options"), owner_id=request.user.pk, think=data.get("think")
        )
        messages = exchange_chat_messages(exchange=exchange, conversation=exchange.conversation)
        return exchange, messages, wants_stream(request, data)


class ExchangeEditView(ChatAnswerMixin, AsyncAPIView):
    """A prompt's new text, answered as a sibling of the edited exchange that becomes current."""

    @extend_schema(
        summary="Edit a prompt",
        description="Creates a sibling of this exchange (same parent and position) with the new text, "
        "makes it the current branch and answers it like a message: `201` with the stored exchange, or "
        "streamed. The old branch stays reachable through `siblings`. Options are the conversation's "
        "defaults overlaid with `options`." + SSE_DESCRIPTION,
        request=ExchangeEditSerializer,
        responses={201: ExchangeSerializer, **STREAM_RESPONSES},
    )
    async def post(self, request: Request, conversation_id, exchange_id) -> Response | StreamingHttpResponse:
        exchange, messages, stream = await db_step(self._start, request, conversation_id, exchange_id)
        return await self.answer(request, exchange, messages, stream)

    def _start(
        self, request: Request, conversation_id, exchange_id
    ) -> tuple[ConversationPromptResponse, list, bool]:
        data = validated(ExchangeEditSerializer, request.data)
        source = exchange_get(user=request.user, conversation_id=conversation_id, exchange_id=exchange_id)
        exchange = exchange_edit(
            exchange=source,
            content=data["content"],
            options=data.get("options"),
            owner_id=request.user.pk,
            images=data.get("images"),
        )
        messages = exchange_chat_messages(exchange=exchange, conversation=exchange.conversation)
        return exchange, messages, wants_stream(request, data)


class ExchangeDetailView(APIView):
    """One exchange of the conversation."""

    @extend_schema(
        summary="Delete an exchange with the branch below it",
        description="Moves the exchange and everything below it to the trash (restorable from "
        "`trash/exchanges/`). When the current branch ran through it, the conversation follows the "
        "nearest surviving sibling (down to its latest continuation), else the parent. `409` "
        "`exchange_streaming` while an answer of that branch is still being written.",
        request=None,
        responses={204: None},
    )
    def delete(self, request: AuthenticatedRequest, conversation_id, exchange_id) -> Response:
        exchange = exchange_get(user=request.user, conversation_id=conversation_id, exchange_id=exchange_id)
        exchange_soft_delete(exchange=exchange)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExchangeSelectView(APIView):
    """Follow another branch: the selected exchange's latest continuation becomes current."""

    @extend_schema(
        summary="Switch branch",
        description="Makes the branch through this exchange (typically a sibling, i.e. another "
        "answer to the same prompt) the conversation's current branch. The current exchange becomes "
        "the leaf reached by walking down from it, taking the most recently created child at each "
        "level. Returns that exchange.",
        request=None,
        responses={200: ExchangeSerializer, 404: OpenApiResponse(description="No such exchange.")},
    )
    def post(self, request: AuthenticatedRequest, conversation_id, exchange_id) -> Response:
        conversation = conversation_get(owner=request.user, conversation_id=conversation_id)
        exchange = exchange_get(user=request.user, conversation_id=conversation.pk, exchange_id=exchange_id)
        leaf = conversation_switch_branch(conversation=conversation, exchange=exchange)
        return Response(ExchangeSerializer(exchange_row_get(user=request.user, exchange_id=leaf.pk)).data)
