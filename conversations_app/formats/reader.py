"""Reading an uploaded export without loading it whole: a JSON array is decoded one element (one
conversation) at a time, and a ZIP is read member by member, each member streamed from the archive.

The format is told from the content, never from the file's name: the first conversation found says
which application wrote the file (`detect`).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from conversations_app.models import ImportSource
from core.exceptions import PayloadTooLarge, ValidationFailed

EXPECTED_FORMATS = (
    "an Open WebUI chat export (a JSON array of chats with `chat.history`), a ChatGPT "
    "`conversations.json` (an array of conversations with `mapping`), a LibreChat conversation export "
    "(`conversationId` with `messages` or `messagesTree`), an OllamaNet export (`format: "
    "ollamanet.conversation`), or a ZIP archive holding such JSON files"
)
OLLAMANET_FORMAT = "ollamanet.conversation"
READ_CHUNK = 1 << 20
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class UnknownFormat(ValidationFailed):
    """The file is not one of the formats an import reads."""

    code = "unknown_import_format"

    def __init__(self, detail: str = "") -> None:
        message = f"The file is not an export this server can import; expected {EXPECTED_FORMATS}."
        super().__init__(f"{detail} {message}".strip(), fields={"file": [f"Expected {EXPECTED_FORMATS}."]})


class MalformedFile(ValueError):
    """The file stops being valid JSON part-way (cut off, or not UTF-8)."""


def detect(value: Any) -> str | None:
    """Which application's conversation `value` (one decoded element) is, or None."""
    if not isinstance(value, dict):
        return None
    if value.get("format") == OLLAMANET_FORMAT:
        return ImportSource.OLLAMANET
    if isinstance(value.get("mapping"), dict):
        return ImportSource.CHATGPT
    chat = value.get("chat")
    if isinstance(chat, dict) and ("history" in chat or "messages" in chat):
        return ImportSource.OPEN_WEBUI
    if isinstance(value.get("history"), dict) and "messages" in value["history"]:
        return ImportSource.OPEN_WEBUI
    if "conversationId" in value and ("messages" in value or "messagesTree" in value):
        return ImportSource.LIBRECHAT
    return None


class _ArrayReader:
    """Decodes the elements of a top-level JSON array from a text stream one at a time; the buffer
    holds one element and what follows it, never the whole file."""

    def __init__(self, text: IO[str]) -> None:
        self.text = text
        self.buffer = ""
        self.pos = 0
        self.eof = False

    def _fill(self, at_least: int = 0) -> bool:
        try:
            data = self.text.read(max(READ_CHUNK, at_least))
        except UnicodeDecodeError as exc:
            raise MalformedFile("the file is not UTF-8 text") from exc
        if not data:
            self.eof = True
            return False
        self.buffer = self.buffer[self.pos :] + data
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end of the file)."""
        while True:
            self.pos = _WHITESPACE.match(self.buffer, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._fill():
                return ""

    def _value(self) -> Any:
        if not self.peek():
            raise MalformedFile("the file ends where a value was expected")
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.pos)
            except RecursionError as exc:
                raise MalformedFile("JSON nested too deeply") from exc
            except json.JSONDecodeError as exc:
                truncated = exc.msg.startswith("Unterminated string") or exc.pos >= len(self.buffer) - 64
                # Read more (as much again as is buffered, so retries stay few) and decode again.
                if truncated and not self.eof and self._fill(len(self.buffer) - self.pos):
                    continue
                raise MalformedFile(f"invalid JSON ({exc.msg})") from exc
            if end >= len(self.buffer) and not self.eof and self._fill():
                continue  # a number at the very end of the buffer may go on
            self.pos = end
            return value

    def rest(self) -> Any:
        """Everything from here as one value (a top-level object: one conversation)."""
        while self._fill(len(self.buffer)):
            pass
        return self._value()

    def items(self) -> Iterator[Any]:
        if self.peek() != "[":
            raise MalformedFile("expected a JSON array")
        self.pos += 1
        if self.peek() == "]":
            return
        while True:
            yield self._value()
            following = self.peek()
            if following == ",":
                self.pos += 1
                continue
            if following == "]":
                return
            raise MalformedFile("expected ',' or ']' between conversations")


@dataclass
class Document:
    """One JSON document of the upload (the file itself, or a member of the ZIP)."""

    name: str
    source: str
    first: Any
    rest: Iterator[Any]

    def conversations(self) -> Iterator[Any]:
        yield self.first
        yield from self.rest


class _TextView(io.TextIOWrapper):
    """Decoded text over a binary file it does not own: closing (or dropping) it leaves the file open
    for the caller (the upload is read again to be stored)."""

    def close(self) -> None:
        return None


def _text(binary: IO[bytes]) -> IO[str]:
    return _TextView(binary, encoding="utf-8-sig", errors="strict")  # type: ignore[arg-type]


def _document(name: str, binary: IO[bytes]) -> Document | None:
    """The document in `binary` when it is a known format (its first conversation decoded), else None."""
    reader = _ArrayReader(_text(binary))
    try:
        start = reader.peek()
        if start == "{":
            value = reader.rest()
            source = detect(value)
            return None if source is None else Document(name, source, value, iter(()))
        if start != "[":
            return None
        items = reader.items()
        first = next(items, None)
    except MalformedFile:
        return None
    source = detect(first)
    return None if source is None else Document(name, source, first, items)


def _zip_documents(binary: IO[bytes], *, max_bytes: int) -> Iterator[Document]:
    archive = zipfile.ZipFile(binary)
    members = [
        info
        for info in archive.infolist()
        if not info.is_dir() and info.filename.lower().endswith(".json") and "__MACOSX" not in info.filename
    ]
    if sum(info.file_size for info in members) > max_bytes:
        raise PayloadTooLarge(
            f"The archive's JSON files hold more than {max_bytes} bytes.", fields={"file": ["Too large."]}
        )
    for info in sorted(members, key=lambda info: info.filename):
        document = _document(info.filename, archive.open(info))
        if document is not None:
            yield document


def open_documents(binary: IO[bytes], *, name: str, max_bytes: int) -> Iterator[Document]:
    """The importable documents of an upload (a seekable binary file), in order. UnknownFormat when
    there is none; raised before anything is yielded, so a caller can check the format first by
    taking the first document."""
    binary.seek(0)
    if zipfile.is_zipfile(binary):
        binary.seek(0)
        try:
            documents = _zip_documents(binary, max_bytes=max_bytes)
            first = next(documents, None)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise UnknownFormat("The ZIP archive cannot be read.") from exc
        if first is None:
            raise UnknownFormat("The ZIP archive holds no importable JSON file.")
        yield first
        yield from documents
        return
    binary.seek(0)
    document = _document(name, binary)
    if document is None:
        raise UnknownFormat()
    yield document
