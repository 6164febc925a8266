"""Ollama's own API, passed through: requests are checked for their shape and sent on as they are
(every field a client may send reaches Ollama), answers are Ollama's objects, streamed as NDJSON or
gathered into the one object Ollama sends without streaming.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway_app.errors import invalid

ROLES = ("system", "user", "assistant", "tool")
CHAT_PATH = "/api/chat"
GENERATE_PATH = "/api/generate"


@dataclass
class Call:
    """One chat or generation, in Ollama's terms, ready to be recorded and sent.

    `upstream` is the body sent to Ollama at `path` (always streamed; the model set to the catalogue's
    name when sent); `turns` the chat messages (None for a generation); `prompt` the text stored as
    the prompt, `system` the system prompt a new conversation takes, `options` the generation options.
    """

    model: str
    path: str
    upstream: dict[str, Any]
    stream: bool
    prompt: str
    turns: list[dict[str, Any]] | None = None
    system: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def body_for(self, model_name: str) -> dict[str, Any]:
        return {**self.upstream, "model": model_name, "stream": True}


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


def model_of(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid("model is required", param="model")
    return model.strip()


def _options(body: Mapping[str, Any]) -> dict[str, Any]:
    options = body.get("options")
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise invalid("options must be an object", param="options")
    return options


def _stream(body: Mapping[str, Any]) -> bool:
    stream = body.get("stream", True)
    if stream is None:
        return True
    if not isinstance(stream, bool):
        raise invalid("stream must be true or false", param="stream")
    return stream


def _check_format(body: Mapping[str, Any]) -> None:
    wanted = body.get("format")
    if wanted not in (None, "", "json") and not isinstance(wanted, dict):
        raise invalid('format must be "json" or a JSON schema', param="format")


def _check_images(images: Any, param: str) -> None:
    if images is not None and (
        not isinstance(images, list) or not all(isinstance(image, str) for image in images)
    ):
        raise invalid(f"{param} must be a list of base64 strings", param=param)


def check_message(message: Any, index: int) -> dict[str, Any]:
    param = f"messages[{index}]"
    if not isinstance(message, dict):
        raise invalid(f"{param} must be an object", param=param)
    if message.get("role") not in ROLES:
        raise invalid(f"{param}.role must be one of {', '.join(ROLES)}", param=f"{param}.role")
    if not isinstance(message.get("content") or "", str):
        raise invalid(f"{param}.content must be a string", param=f"{param}.content")
    _check_images(message.get("images"), f"{param}.images")
    calls = message.get("tool_calls")
    if calls is not None and (not isinstance(calls, list) or not all(isinstance(c, dict) for c in calls)):
        raise invalid(f"{param}.tool_calls must be a list of objects", param=f"{param}.tool_calls")
    return message


def prompt_text(message: Mapping[str, Any]) -> str:
    """What is stored as the prompt of the last message: its text (a tool's result marked as such),
    or what it carries when it has no text."""
    text = str(message.get("content") or "")
    if message.get("role") == "tool":
        text = f"[tool result] {text}".rstrip()
    if not text.strip() and message.get("images"):
        text = f"[{len(message['images'])} image(s)]"
    return text if text.strip() else "(empty message)"


def system_text(messages: list[dict[str, Any]]) -> str:
    return "\n\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")


def chat_call(body: Any) -> Call:
    """`POST /api/chat`."""
    body = require_object(body)
    model = model_of(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages must be a non-empty list", param="messages")
    turns = [check_message(message, index) for index, message in enumerate(messages)]
    _check_format(body)
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise invalid("tools must be a list", param="tools")
    return Call(
        model=model,
        path=CHAT_PATH,
        upstream=dict(body),
        stream=_stream(body),
        prompt=prompt_text(turns[-1]),
        turns=turns,
        system=system_text(turns),
        options=_options(body),
    )


def generate_call(body: Any) -> Call:
    """`POST /api/generate`."""
    body = require_object(body)
    model = model_of(body)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid("prompt is required", param="prompt")
    system = body.get("system") or ""
    if not isinstance(system, str):
        raise invalid("system must be a string", param="system")
    _check_images(body.get("images"), "images")
    _check_format(body)
    return Call(
        model=model,
        path=GENERATE_PATH,
        upstream=dict(body),
        stream=_stream(body),
        prompt=prompt,
        system=system,
        options=_options(body),
    )


class Gathered:
    """Ollama's streamed objects added up: the text, the thinking and the tool calls of the answer,
    and the final object (metrics, done reason)."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.thinking: list[str] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.final: dict[str, Any] = {}

    def add(self, chunk: Mapping[str, Any]) -> None:
        message = chunk.get("message") or {}
        if piece := message.get("content") or chunk.get("response"):
            self.content.append(piece)
        if thought := message.get("thinking") or chunk.get("thinking"):
            self.thinking.append(thought)
        self.tool_calls.extend(message.get("tool_calls") or [])
        if chunk.get("done"):
            self.final = dict(chunk)

    @property
    def text(self) -> str:
        return "".join(self.content)

    def answer_message(self) -> dict[str, Any]:
        """The assistant's message as a chat client will send it back."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.thinking:
            message["thinking"] = "".join(self.thinking)
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return message

    def chat_response(self) -> dict[str, Any]:
        """The one object of an unstreamed `/api/chat`."""
        rest = {k: v for k, v in self.final.items() if k not in ("model", "created_at", "message")}
        head = {"model": self.final.get("model"), "created_at": self.final.get("created_at")}
        return {**head, "message": self.answer_message(), **rest}

    def generate_response(self) -> dict[str, Any]:
        """The one object of an unstreamed `/api/generate`."""
        rest = {
            k: v for k, v in self.final.items() if k not in ("model", "created_at", "response", "thinking")
        }
        head: dict[str, Any] = {"model": self.final.get("model"), "created_at": self.final.get("created_at")}
        head["response"] = self.text
        if self.thinking:
            head["thinking"] = "".join(self.thinking)
        return {**head, **rest}


def model_entry(model: Any) -> dict[str, Any]:
    """A catalogue model as `/api/tags` lists it."""
    return {
        "name": model.name,
        "model": model.name,
        "modified_at": model.updated_at.isoformat().replace("+00:00", "Z"),
        "size": model.size or 0,
        "digest": (model.digest or "").removeprefix("sha256:"),
        "details": {
            "parent_model": model.parent_model or "",
            "format": model.format or "gguf",
            "family": model.family or "",
            "families": list(model.families or ([model.family] if model.family else [])),
            "parameter_size": model.parameter_size or "",
            "quantization_level": model.quantization_level or "",
        },
    }
