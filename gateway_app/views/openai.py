"""OpenAI's API at `/v1/`: what `openai.OpenAI(base_url=".../v1", api_key=<key>)` calls, translated to
Ollama's (gateway_app.dialects.openai) and recorded like the Ollama dialect's chats."""

from __future__ import annotations

import time
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from core.db import db_step
from core.ollama import call_json
from gateway_app.dialects import openai as dialect
from gateway_app.errors import GatewayError
from gateway_app.services import (
    gateway_chat_start,
    gateway_model_admit,
    gateway_models_list,
    gateway_usage_record,
)
from gateway_app.views.base import (
    EncodedStream,
    GatewayView,
    Passage,
    bearer_key,
    json_body,
    json_response,
    open_answer,
)

EVENT_STREAM = "text/event-stream"
DONE = b"data: [DONE]\n\n"


class OpenAIView(GatewayView):
    @staticmethod
    def error_body(error: GatewayError) -> Any:
        return dialect.error_body(error)


def sse_data(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def sse_error(error: GatewayError) -> bytes:
    return sse_data(dialect.error_body(error))


class ModelsView(OpenAIView):
    """`GET /v1/models`: the catalogue's published models."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        models = await db_step(gateway_models_list, raw_key=bearer_key(request))
        return json_response({"object": "list", "data": [dialect.model_object(model) for model in models]})


class ModelView(OpenAIView):
    """`GET /v1/models/{model}`: one published model."""

    async def get(self, request: HttpRequest, model: str) -> HttpResponse:
        models = await db_step(gateway_models_list, raw_key=bearer_key(request))
        wanted = model.strip().lower()
        for candidate in models:
            if candidate.name.lower() in (wanted, f"{wanted}:latest"):
                return json_response(dialect.model_object(candidate))
        raise GatewayError(404, f"The model '{model}' does not exist", param="model", code="model_not_found")


def _stream(passage: Passage, encode: Any) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        EncodedStream(passage, encode, sse_error, end=DONE), content_type=EVENT_STREAM
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


class ChatCompletionsView(OpenAIView):
    """`POST /v1/chat/completions`."""

    async def post(self, request: HttpRequest) -> HttpResponseBase:
        call = dialect.chat_call(json_body(request))
        admission = await db_step(gateway_chat_start, raw_key=bearer_key(request), call=call)
        stream = await open_answer(admission, call)
        passage = Passage(admission=admission, call=call, stream=stream)
        ident, created, model = dialect.completion_id("chatcmpl"), int(time.time()), admission.model.name
        if call.stream:
            chunks = dialect.ChatChunks(ident, created, model, include_usage=call.include_usage)
            return _stream(passage, lambda chunk: b"".join(sse_data(c) for c in chunks.of(chunk)))
        return json_response(dialect.chat_completion(ident, created, model, await passage.gather()))


class CompletionsView(OpenAIView):
    """`POST /v1/completions`."""

    async def post(self, request: HttpRequest) -> HttpResponseBase:
        call = dialect.completion_call(json_body(request))
        admission = await db_step(gateway_chat_start, raw_key=bearer_key(request), call=call)
        stream = await open_answer(admission, call)
        passage = Passage(admission=admission, call=call, stream=stream)
        ident, created, model = dialect.completion_id("cmpl"), int(time.time()), admission.model.name
        if call.stream:
            chunks = dialect.CompletionChunks(ident, created, model, include_usage=call.include_usage)
            return _stream(passage, lambda chunk: b"".join(sse_data(c) for c in chunks.of(chunk)))
        return json_response(dialect.completion(ident, created, model, await passage.gather()))


class EmbeddingsView(OpenAIView):
    """`POST /v1/embeddings`: not recorded as a conversation; the tokens read count as usage."""

    async def post(self, request: HttpRequest) -> HttpResponse:
        model, upstream, encoding = dialect.embed_request(json_body(request))
        admission = await db_step(
            gateway_model_admit, raw_key=bearer_key(request), scope="embeddings", model_name=model
        )
        answer = await call_json("POST", "/api/embed", {**upstream, "model": admission.model.name})
        result = dialect.embedding_list(admission.model.name, answer, encoding)
        await db_step(
            gateway_usage_record, admission=admission, prompt_tokens=result["usage"]["prompt_tokens"]
        )
        return json_response(result)


class NotFoundView(OpenAIView):
    async def get(self, request: HttpRequest, *args: Any) -> HttpResponse:
        return self.error_response(
            GatewayError(404, f"Unknown request URL: {request.method} {request.path}.")
        )

    post = delete = get
