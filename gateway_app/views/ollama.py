"""Ollama's API at `/ollama/`: what `ollama.Client(host=".../ollama", headers={"Authorization":
"Bearer <key>"})` calls. Models are the catalogue's published ones; chats and generations are
recorded as the key owner's conversations; model management is refused (staff use the admin API).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from conversations_app.services.chat import estimated_tokens
from core.db import db_step
from core.ollama import call_json
from gateway_app.dialects import ollama as dialect
from gateway_app.errors import GatewayError, invalid
from gateway_app.services import (
    gateway_admit,
    gateway_chat_start,
    gateway_model_admit,
    gateway_models_list,
    gateway_refusal_record,
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

NDJSON = "application/x-ndjson"


class OllamaView(GatewayView):
    @staticmethod
    def error_body(error: GatewayError) -> Any:
        return {"error": error.message}


def ndjson_line(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj) + b"\n"


def ndjson_error(error: GatewayError) -> bytes:
    return ndjson_line({"error": error.message})


class RootView(OllamaView):
    """`GET /ollama/`: what Ollama answers to a liveness probe."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("Ollama is running", content_type="text/plain; charset=utf-8")


class VersionView(OllamaView):
    """`GET /api/version`: the version of the Ollama behind the gateway (clients check features by it)."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        return json_response({"version": (await call_json("GET", "/api/version")).get("version", "")})


class TagsView(OllamaView):
    """`GET /api/tags`: the catalogue's published models, in Ollama's shape."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        models = await db_step(gateway_models_list, raw_key=bearer_key(request))
        return json_response({"models": [dialect.model_entry(model) for model in models]})


class ShowView(OllamaView):
    """`POST /api/show`: Ollama's description of a published model."""

    async def post(self, request: HttpRequest) -> HttpResponse:
        body = dialect.require_object(json_body(request))
        name = body.get("model") or body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid("model is required", param="model")
        admission = await db_step(
            gateway_model_admit, raw_key=bearer_key(request), scope="models", model_name=name
        )
        answer = await call_json("POST", "/api/show", {**body, "model": admission.model.name})
        answer.pop("name", None)
        return json_response(answer)


class PsView(OllamaView):
    """`GET /api/ps`: the published models Ollama has loaded."""

    async def get(self, request: HttpRequest) -> HttpResponse:
        await db_step(gateway_admit, raw_key=bearer_key(request), scope="models")
        models = await db_step(gateway_models_list, raw_key=bearer_key(request))
        published = {model.name.lower() for model in models}
        answer = await call_json("GET", "/api/ps")
        loaded = [
            m
            for m in answer.get("models") or []
            if str(m.get("model", m.get("name", ""))).lower() in published
        ]
        return json_response({"models": loaded})


class AnswerView(OllamaView):
    """`POST /api/chat` and `/api/generate`: streamed as NDJSON (Ollama's default) or one object."""

    parse = staticmethod(dialect.chat_call)

    async def post(self, request: HttpRequest) -> HttpResponseBase:
        call = self.parse(json_body(request))
        admission = await db_step(gateway_chat_start, raw_key=bearer_key(request), call=call)
        stream = await open_answer(admission, call)
        passage = Passage(admission=admission, call=call, stream=stream)
        if call.stream:
            return StreamingHttpResponse(
                EncodedStream(passage, ndjson_line, ndjson_error), content_type=NDJSON
            )
        gathered = await passage.gather()
        if call.turns is None:
            return json_response(gathered.generate_response())
        return json_response(gathered.chat_response())


class ChatView(AnswerView):
    parse = staticmethod(dialect.chat_call)


class GenerateView(AnswerView):
    parse = staticmethod(dialect.generate_call)


class EmbedView(OllamaView):
    """`POST /api/embed` (`input`: a text or texts) and the older `/api/embeddings` (`prompt`)."""

    legacy = False

    async def post(self, request: HttpRequest) -> HttpResponse:
        body = dialect.require_object(json_body(request))
        name = dialect.model_of(body)
        admission = await db_step(
            gateway_model_admit, raw_key=bearer_key(request), scope="embeddings", model_name=name
        )
        path = "/api/embeddings" if self.legacy else "/api/embed"
        started = time.monotonic()
        answer = await call_json("POST", path, {**body, "model": admission.model.name})
        tokens = answer.get("prompt_eval_count")
        if not isinstance(tokens, int):  # the older endpoint does not say: estimated from the text
            tokens = estimated_tokens(str(body.get("prompt") or body.get("input") or ""))
        await db_step(gateway_usage_record, admission=admission, prompt_tokens=tokens)
        if not self.legacy:
            answer.setdefault("total_duration", int((time.monotonic() - started) * 1e9))
        return json_response(answer)


class LegacyEmbeddingsView(EmbedView):
    legacy = True


class ManagementView(OllamaView):
    """`pull`, `push`, `create`, `copy`, `delete`: refused (403), the attempt audited."""

    operation = ""

    async def post(self, request: HttpRequest) -> HttpResponse:
        await db_step(gateway_refusal_record, raw_key=bearer_key(request), action=self.operation)
        raise GatewayError(
            403,
            f"Model management ({self.operation}) is not available through the API; staff use the admin API.",
            code="forbidden",
        )

    delete = post


def management(operation: str) -> Any:
    return ManagementView.as_view(operation=operation)


class NotFoundView(OllamaView):
    async def get(self, request: HttpRequest, *args: Any) -> HttpResponse:
        return self.error_response(GatewayError(404, "404 page not found"))

    post = delete = get
