"""Which conversation a call continues: a digest of the turns a client sends.

A chat client sends the whole conversation every time. After an answer, the gateway stores on the
conversation the digest of the turns sent plus the answer; a later call whose turns, less its last
one, have that digest continues the conversation. The digest covers what a client sends back
unchanged (role, text, images, tool calls by name and arguments), not what clients drop or rewrite
(thinking, tool call ids, how the arguments' JSON was spaced).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson


def _arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def canonical_turn(message: Mapping[str, Any]) -> list[Any]:
    """One Ollama chat message reduced to what identifies it."""
    calls = [
        [
            str((call.get("function") or {}).get("name", "")),
            _arguments((call.get("function") or {}).get("arguments")),
        ]
        for call in message.get("tool_calls") or []
        if isinstance(call, Mapping)
    ]
    return [
        str(message.get("role", "")),
        str(message.get("content") or ""),
        [str(image) for image in message.get("images") or []],
        calls,
    ]


def history_digest(messages: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 (hex) of the canonical turns, in order."""
    canonical = [canonical_turn(message) for message in messages]
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()
