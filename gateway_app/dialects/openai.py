"""OpenAI's API over Ollama's, mapped the way Ollama's own compatibility layer maps it
(github.com/ollama/ollama, openai/openai.go):

- chat completions → `/api/chat`: system (and developer), user, assistant and tool messages; content
  parts (`text`, `image_url` with a `data:` URL → the message's `images`; any other URL is refused,
  the server never fetches what a client names); assistant `tool_calls` (arguments as a JSON text)
  ↔ Ollama's (arguments as an object); a tool message's `tool_call_id` → the `tool_name` it answers;
- `tools` as they are (`tool_choice: "none"` sends none: Ollama cannot be made to call one);
  `response_format` `json_object` → `format: "json"`, `json_schema` → its schema;
  `max_tokens`/`max_completion_tokens` → `num_predict`, `temperature` and `top_p` (1.0 when not
  given, as OpenAI's defaults), `stop`, `seed`, `frequency_penalty`, `presence_penalty`;
  `reasoning_effort` → `think`; `n` other than 1 is refused;
- completions → `/api/generate` (`prompt`, `suffix`, the same options);
- embeddings → `/api/embed` (`input` a text or a list of texts, `dimensions`, `encoding_format`
  float or base64);
- answers: `chat.completion` / `chat.completion.chunk` / `text_completion` objects, usage from
  Ollama's `prompt_eval_count` and `eval_count`, `finish_reason` `stop`/`length`/`tool_calls`;
  thinking as the message's `reasoning`.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import struct
from collections.abc import Mapping
from typing import Any

import orjson

from gateway_app.dialects.ollama import (
    CHAT_PATH,
    GENERATE_PATH,
    Call,
    Gathered,
    model_of,
    prompt_text,
    require_object,
    system_text,
)
from gateway_app.errors import GatewayError, invalid

FINGERPRINT = "fp_ollama"
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
EFFORTS = {"none": False, "minimal": "low", "low": "low", "medium": "medium", "high": "high", "max": "max"}
EFFORTS |= {"xhigh": "max", "ultra": "max"}


def error_type(status: int) -> str:
    """OpenAI's error `type` for a status (the SDK picks its exception class by the status)."""
    return {
        400: "invalid_request_error",
        401: "invalid_request_error",
        403: "permission_error",
        404: "invalid_request_error",
        429: "rate_limit_error",
    }.get(status, "api_error")


def error_body(error: GatewayError) -> dict[str, Any]:
    return {
        "error": {
            "message": error.message,
            "type": error_type(error.status),
            "param": error.param,
            "code": error.code,
        }
    }


# --- requests ------------------------------------------------------------------------------------------
def _number(body: Mapping[str, Any], name: str, *, integer: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise invalid(f"{name} must be {'an integer' if integer else 'a number'}", param=name)
    return value


def _check_n(body: Mapping[str, Any]) -> None:
    n = _number(body, "n", integer=True)
    if n is not None and n != 1:
        raise invalid("Only n=1 is supported.", param="n")


def _stream(body: Mapping[str, Any]) -> tuple[bool, bool]:
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise invalid("stream must be a boolean", param="stream")
    stream_options = body.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise invalid("stream_options must be an object", param="stream_options")
    return stream, bool(stream_options.get("include_usage"))


def options_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """Ollama's generation options for an OpenAI request."""
    options: dict[str, Any] = {}
    stop = body.get("stop")
    if isinstance(stop, str):
        options["stop"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        options["stop"] = stop
    elif stop is not None:
        raise invalid("stop must be a string or a list of strings", param="stop")
    max_tokens = _number(body, "max_completion_tokens", integer=True)
    if max_tokens is None:
        max_tokens = _number(body, "max_tokens", integer=True)
    if max_tokens is not None:
        options["num_predict"] = max_tokens
    temperature = _number(body, "temperature")
    options["temperature"] = 1.0 if temperature is None else temperature
    for name in ("seed",):
        if (value := _number(body, name, integer=True)) is not None:
            options[name] = value
    for name in ("frequency_penalty", "presence_penalty"):
        if (value := _number(body, name)) is not None:
            options[name] = value
    top_p = _number(body, "top_p")
    options["top_p"] = 1.0 if top_p is None else top_p
    return options


def _image_of(part: Mapping[str, Any], param: str) -> str:
    """The base64 data of an `image_url` part; only `data:` URLs (the server fetches nothing)."""
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise invalid(f"{param}.image_url.url must be a string", param=param)
    if not url.startswith("data:"):
        raise invalid("Only data: URLs are accepted for images; the server does not fetch URLs.", param=param)
    header, _, data = url.partition(",")
    if not header.endswith(";base64") or not data:
        raise invalid("An image data: URL must be base64-encoded.", param=param)
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("The image's base64 data is invalid.", param=param) from None
    return data


def _tool_calls_in(calls: Any, param: str) -> list[dict[str, Any]]:
    """An assistant message's tool calls (arguments a JSON text) in Ollama's form (an object)."""
    if not isinstance(calls, list):
        raise invalid(f"{param} must be a list", param=param)
    converted = []
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise invalid(f"{param}[{index}].function.name is required", param=f"{param}[{index}]")
        arguments = function.get("arguments") or "{}"
        if isinstance(arguments, str):
            try:
                arguments = orjson.loads(arguments)
            except orjson.JSONDecodeError:
                raise invalid(
                    f"{param}[{index}].function.arguments must be a JSON text", param=f"{param}[{index}]"
                ) from None
        converted.append({"function": {"name": function["name"], "arguments": arguments}})
    return converted


def _tool_names(messages: list[Any]) -> dict[str, str]:
    """The function each tool call id named, for tool messages that answer by id."""
    names = {}
    for message in messages:
        if isinstance(message, dict) and isinstance(message.get("tool_calls"), list):
            for call in message["tool_calls"]:
                if isinstance(call, dict) and isinstance(call.get("function"), dict):
                    names[str(call.get("id"))] = str(call["function"].get("name", ""))
    return names


def message_in(message: Any, index: int, tool_names: Mapping[str, str]) -> dict[str, Any]:
    """One OpenAI message as an Ollama message."""
    param = f"messages[{index}]"
    if not isinstance(message, dict):
        raise invalid(f"{param} must be an object", param=param)
    role = ROLES.get(message.get("role"))  # type: ignore[arg-type]
    if role is None:
        raise invalid(f"{param}.role must be one of {', '.join(ROLES)}", param=f"{param}.role")
    converted: dict[str, Any] = {"role": role, "content": ""}
    content = message.get("content")
    if isinstance(content, str):
        converted["content"] = content
    elif isinstance(content, list):
        texts, images = [], []
        for number, part in enumerate(content):
            part_param = f"{param}.content[{number}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):  # type: ignore[union-attr]
                texts.append(part["text"])  # type: ignore[index]
            elif kind == "image_url":
                images.append(_image_of(part, part_param))  # type: ignore[arg-type]
            else:
                raise invalid(f"{part_param} must be a text or an image_url part", param=part_param)
        converted["content"] = "\n".join(texts)
        if images:
            converted["images"] = images
    elif content is not None:
        raise invalid(f"{param}.content must be a string or a list of parts", param=f"{param}.content")
    elif not message.get("tool_calls"):
        raise invalid(f"{param}.content is required", param=f"{param}.content")
    if message.get("tool_calls"):
        converted["tool_calls"] = _tool_calls_in(message["tool_calls"], f"{param}.tool_calls")
    if role == "tool":
        name = message.get("name") or tool_names.get(str(message.get("tool_call_id")))
        if name:
            converted["tool_name"] = name
    return converted


def _format(body: Mapping[str, Any]) -> Any:
    wanted = body.get("response_format")
    if wanted is None:
        return None
    if not isinstance(wanted, dict):
        raise invalid("response_format must be an object", param="response_format")
    kind = str(wanted.get("type", "")).strip().lower()
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (wanted.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise invalid("response_format.json_schema.schema must be an object", param="response_format")
        return schema
    if kind in ("text", ""):
        return None
    raise invalid("response_format.type must be text, json_object or json_schema", param="response_format")


def _think(body: Mapping[str, Any]) -> Any:
    effort = body.get("reasoning_effort") or (body.get("reasoning") or {}).get("effort")
    if not effort:
        return None
    if effort not in EFFORTS:
        raise invalid(f"Unknown reasoning effort {effort!r}.", param="reasoning_effort")
    return EFFORTS[effort]


class OpenAICall(Call):
    """A call made in OpenAI's dialect: whether the client wants a usage chunk at the end."""

    include_usage: bool = False


def chat_call(body: Any) -> OpenAICall:
    """`POST /v1/chat/completions`."""
    body = require_object(body)
    model = model_of(body)
    _check_n(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages must be a non-empty list", param="messages")
    names = _tool_names(messages)
    turns = [message_in(message, index, names) for index, message in enumerate(messages)]
    stream, include_usage = _stream(body)
    options = options_of(body)
    upstream: dict[str, Any] = {"model": model, "messages": turns, "options": options}
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise invalid("tools must be a list", param="tools")
    if tools and body.get("tool_choice") != "none":
        upstream["tools"] = tools
    if (wanted := _format(body)) is not None:
        upstream["format"] = wanted
    if (think := _think(body)) is not None:
        upstream["think"] = think
    call = OpenAICall(
        model=model,
        path=CHAT_PATH,
        upstream=upstream,
        stream=stream,
        prompt=prompt_text(turns[-1]),
        turns=turns,
        system=system_text(turns),
        options=options,
    )
    call.include_usage = include_usage
    return call


def completion_call(body: Any) -> OpenAICall:
    """`POST /v1/completions`."""
    body = require_object(body)
    model = model_of(body)
    _check_n(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid("prompt must be a non-empty string", param="prompt")
    stream, include_usage = _stream(body)
    options = options_of(body)
    upstream: dict[str, Any] = {"model": model, "prompt": prompt, "options": options}
    suffix = body.get("suffix")
    if suffix is not None:
        if not isinstance(suffix, str):
            raise invalid("suffix must be a string", param="suffix")
        upstream["suffix"] = suffix
    call = OpenAICall(
        model=model, path=GENERATE_PATH, upstream=upstream, stream=stream, prompt=prompt, options=options
    )
    call.include_usage = include_usage
    return call


def embed_request(body: Any) -> tuple[str, dict[str, Any], str]:
    """`POST /v1/embeddings` → (model, the `/api/embed` body, the encoding format)."""
    body = require_object(body)
    model = model_of(body)
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise invalid("input must be a string or a non-empty list of strings", param="input")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise invalid("encoding_format must be float or base64", param="encoding_format")
    upstream: dict[str, Any] = {"model": model, "input": texts}
    dimensions = _number(body, "dimensions", integer=True)
    if dimensions is not None:
        upstream["dimensions"] = dimensions
    return model, upstream, encoding


# --- answers -------------------------------------------------------------------------------------------
def completion_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


def tool_calls_out(calls: list[Any], first_index: int = 0) -> list[dict[str, Any]]:
    """Ollama's tool calls as OpenAI's (ids made when Ollama gives none, arguments as a JSON text)."""
    out = []
    for offset, call in enumerate(calls):
        function = (call.get("function") if isinstance(call, dict) else None) or {}
        arguments = function.get("arguments", {})
        out.append(
            {
                "id": (call.get("id") if isinstance(call, dict) else None) or f"call_{secrets.token_hex(8)}",
                "index": first_index + offset,
                "type": "function",
                "function": {
                    "name": function.get("name", ""),
                    "arguments": arguments
                    if isinstance(arguments, str)
                    else orjson.dumps(arguments).decode(),
                },
            }
        )
    return out


def finish_reason(final: Mapping[str, Any], *, called_tools: bool) -> str:
    reason = final.get("done_reason") or "stop"
    return "tool_calls" if reason == "stop" and called_tools else str(reason)


def usage(final: Mapping[str, Any]) -> dict[str, int]:
    prompt = int(final.get("prompt_eval_count") or 0)
    completion = int(final.get("eval_count") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chat_completion(ident: str, created: int, model: str, gathered: Gathered) -> dict[str, Any]:
    """The `chat.completion` object of an unstreamed answer."""
    message: dict[str, Any] = {"role": "assistant", "content": gathered.text}
    if gathered.thinking:
        message["reasoning"] = "".join(gathered.thinking)
    if gathered.tool_calls:
        message["tool_calls"] = tool_calls_out(gathered.tool_calls)
    return {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason(gathered.final, called_tools=bool(gathered.tool_calls)),
                "logprobs": None,
            }
        ],
        "usage": usage(gathered.final),
    }


class ChatChunks:
    """Ollama's streamed objects as `chat.completion.chunk` objects: the role on the first, thinking as
    `reasoning`, the content, the tool calls; then one chunk with the `finish_reason` and an empty
    delta; then, when asked (`stream_options.include_usage`), one with the usage and no choices."""

    def __init__(self, ident: str, created: int, model: str, *, include_usage: bool) -> None:
        self.ident, self.created, self.model = ident, created, model
        self.include_usage = include_usage
        self._role_sent = False
        self._tool_calls = 0

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": self.ident,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
            **extra,
        }

    def _delta(self, delta: dict[str, Any]) -> dict[str, Any]:
        if not self._role_sent:
            delta = {"role": "assistant", **delta}
            self._role_sent = True
        return self._chunk([{"index": 0, "delta": delta, "finish_reason": None}])

    def of(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The chunks one of Ollama's objects becomes (none, one or several)."""
        message = chunk.get("message") or {}
        out = []
        if message.get("thinking"):
            out.append(self._delta({"content": "", "reasoning": message["thinking"]}))
        if message.get("content"):
            out.append(self._delta({"content": message["content"]}))
        if calls := message.get("tool_calls"):
            out.append(self._delta({"tool_calls": tool_calls_out(calls, self._tool_calls)}))
            self._tool_calls += len(calls)
        if chunk.get("done"):
            if not self._role_sent:
                out.append(self._delta({"content": ""}))
            reason = finish_reason(chunk, called_tools=self._tool_calls > 0)
            out.append(self._chunk([{"index": 0, "delta": {}, "finish_reason": reason}]))
            if self.include_usage:
                out.append(self._chunk([], usage=usage(chunk)))
        return out


def completion(ident: str, created: int, model: str, gathered: Gathered) -> dict[str, Any]:
    """The `text_completion` object of an unstreamed completion."""
    return {
        "id": ident,
        "object": "text_completion",
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {
                "text": gathered.text,
                "index": 0,
                "finish_reason": finish_reason(gathered.final, called_tools=False),
                "logprobs": None,
            }
        ],
        "usage": usage(gathered.final),
    }


class CompletionChunks:
    """Ollama's streamed generation as `text_completion` chunks, the last with the `finish_reason`,
    then the usage when asked."""

    def __init__(self, ident: str, created: int, model: str, *, include_usage: bool) -> None:
        self.ident, self.created, self.model = ident, created, model
        self.include_usage = include_usage

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": self.ident,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
            **extra,
        }

    def of(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        out = []
        text = chunk.get("response") or ""
        if chunk.get("done"):
            reason = finish_reason(chunk, called_tools=False)
            out.append(self._chunk([{"text": text, "index": 0, "finish_reason": reason, "logprobs": None}]))
            if self.include_usage:
                out.append(self._chunk([], usage=usage(chunk)))
        elif text:
            out.append(self._chunk([{"text": text, "index": 0, "finish_reason": None, "logprobs": None}]))
        return out


def embedding_list(model: str, answer: Mapping[str, Any], encoding: str) -> dict[str, Any]:
    """`/api/embed`'s answer as OpenAI's embedding list."""
    data = []
    for index, vector in enumerate(answer.get("embeddings") or []):
        value: Any = vector
        if encoding == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "embedding": value, "index": index})
    tokens = int(answer.get("prompt_eval_count") or 0)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def model_object(model: Any) -> dict[str, Any]:
    """A catalogue model as `/v1/models` lists it."""
    owner = model.name.split("/", 1)[0] if "/" in model.name else "library"
    return {
        "id": model.name,
        "object": "model",
        "created": int(model.created_at.timestamp()),
        "owned_by": owner,
    }
