"""Request bodies: JSON read by orjson, refusing what PostgreSQL cannot store.

PostgreSQL's `text` and `jsonb` hold neither NUL characters nor lone UTF-16 surrogates, and a value
nested a thousand levels deep helps nobody; all of them are refused here as a 400 `parse_error`, before
a view sees the data, instead of failing as a 500 when a query or an insert meets them.
"""

from __future__ import annotations

import codecs
from typing import Any

import orjson
from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Deepest nesting of arrays and objects accepted (orjson's own limit is 1024).
JSON_MAX_DEPTH = 64
NUL = "\x00"


class UnstorableJSON(ValueError):
    """JSON that is well-formed but holds what the database cannot store."""


def _as_utf8(raw: bytes | str, encoding: str) -> bytes:
    if isinstance(raw, str):
        return raw.encode("utf-8")  # a lone surrogate fails here (UnicodeEncodeError, a ValueError)
    if codecs.lookup(encoding).name != "utf-8":
        return raw.decode(encoding).encode("utf-8")
    return raw


def check_json_value(value: Any) -> None:
    """Raise UnstorableJSON when `value` (decoded JSON) nests deeper than JSON_MAX_DEPTH or holds a
    NUL character or a lone surrogate in a key or a string."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > JSON_MAX_DEPTH:
                raise UnstorableJSON(f"nested deeper than {JSON_MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key in item:
                    if isinstance(key, str):
                        _check_text(key)
                item = item.values()
            stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    if NUL in text:
        raise UnstorableJSON("strings may not contain NUL characters (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnstorableJSON("strings may not contain lone surrogates") from None


def json_loads(raw: bytes | str, *, encoding: str = "utf-8") -> Any:
    """Decode JSON as the API reads it: orjson (strict: no NaN, no lone surrogates, valid UTF-8),
    no NUL character in a key or a string, at most JSON_MAX_DEPTH levels deep.

    ValueError (orjson.JSONDecodeError or UnstorableJSON) when the document is not acceptable.
    """
    raw = _as_utf8(raw, encoding)
    data = orjson.loads(raw)
    # Walking the data costs time: only when a NUL or a deep nesting is possible at all.
    if b"\\u0000" in raw or raw.count(b"[") + raw.count(b"{") > JSON_MAX_DEPTH:
        check_json_value(data)
    return data


class JSONParser(parsers.JSONParser):
    """The API's JSON bodies, decoded by `json_loads`; anything it refuses is a 400 `parse_error`."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json_loads(stream.read(), encoding=encoding)
        except (ValueError, LookupError) as exc:  # UnicodeDecodeError is a ValueError
            raise ParseError(f"JSON parse error - {exc}") from exc
