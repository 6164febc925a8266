"""Multipart parsing for attachments with the size limit enforced while the body streams in."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, MultiPartParser

from conversations_app.services.attachments import max_attachment_bytes
from core.exceptions import PayloadTooLarge

# Room for the multipart boundaries and part headers around the file in the request body.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def _too_large(limit: int, what: str = "Attachments") -> PayloadTooLarge:
    return PayloadTooLarge(f"{what} are limited to {limit} bytes.", fields={"file": ["File too large."]})


class SizeLimitUploadHandler(FileUploadHandler):
    """First in the handler chain: refuses a body whose declared length cannot fit, then counts the
    file bytes as they arrive and stops at the first byte over the limit (nothing is buffered here;
    the chunks flow on to Django's memory/temporary-file handlers)."""

    def __init__(self, request=None, *, limit: int, what: str = "Attachments") -> None:
        super().__init__(request)
        self.limit = limit
        self.what = what
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.limit + MULTIPART_OVERHEAD_BYTES:
            raise _too_large(self.limit, self.what)
        return None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise _too_large(self.limit, self.what)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


class AttachmentMultiPartParser(MultiPartParser):
    """DRF's multipart parser with SizeLimitUploadHandler in front of the configured handlers."""

    what = "Attachments"

    def limit(self) -> int:
        return max_attachment_bytes()

    def parse(self, stream, media_type=None, parser_context=None) -> DataAndFiles:
        parser_context = parser_context or {}
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        handlers = [
            SizeLimitUploadHandler(request, limit=self.limit(), what=self.what),
            *request.upload_handlers,
        ]
        try:
            data, files = DjangoMultiPartParser(
                meta, stream, handlers, parser_context.get("encoding", settings.DEFAULT_CHARSET)
            ).parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        return DataAndFiles(data, files)


class ImportMultiPartParser(AttachmentMultiPartParser):
    """Multipart for an export file to import: up to IMPORT_MAX_BYTES, spooled to disk as it arrives."""

    what = "Import files"

    def limit(self) -> int:
        return settings.IMPORT_MAX_BYTES
