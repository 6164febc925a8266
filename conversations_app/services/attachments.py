"""Writes on attachments: upload (sniffed by content, stored once per SHA-256), delete, text extraction
and the release of stored files no row needs any more."""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from datetime import timedelta
from typing import IO, TYPE_CHECKING
from uuid import UUID

import magic
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from conversations_app.models import (
    IMAGE_CONTENT_TYPES,
    MAX_ATTACHMENT_BYTES,
    Attachment,
    Conversation,
    attachment_path,
)
from conversations_app.services.common import advisory_xact_lock
from core import services as core_services
from core.exceptions import Conflict, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from core.queue import enqueue, enqueue_on_commit

if TYPE_CHECKING:
    from auth_app.models import User

logger = logging.getLogger(__name__)

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXT = "text/plain"
MARKDOWN = "text/markdown"
MARKDOWN_SUFFIXES = (".md", ".markdown")
# Text files libmagic names by their syntax; any of them is accepted as plain text when it is UTF-8.
_TEXTUAL_MIME_TYPES = {"application/json", "application/csv", "application/x-empty"}
# ATX headings, code fences, task lists, inline links and table header rules.
_MARKDOWN_MARKERS = re.compile(
    r"^(?:#{1,6}[ \t]+\S|```|~~~|[ \t]*[-*+][ \t]+\[[ xX]\][ \t])"
    r"|\[[^\]\n]+\]\([^)\s]+\)"
    r"|^\|.*\|[ \t]*\n\|?[ \t:|-]*-{3,}",
    re.MULTILINE,
)
# What an image of each accepted type starts with, checked besides libmagic's verdict.
_IMAGE_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
_SNIFF_BYTES = 8192
_TEXT_SAMPLE_CHARS = 65_536
MAX_EXTRACTED_CHARS = 1_000_000
MAX_PDF_PAGES = 500
MAX_DOCX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024


def max_attachment_bytes() -> int:
    """The configured upload limit, never above what the database constraint allows."""
    return min(settings.ATTACHMENT_MAX_BYTES, MAX_ATTACHMENT_BYTES)


def safe_original_name(name: str) -> str:
    """The client's file name reduced to a harmless display name: no directories, no control
    characters, at most 255 characters (keeping the extension). It is never used as a path."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if base in {"", ".", ".."}:
        return "attachment"
    if len(base) > 255:
        stem, dot, suffix = base.rpartition(".")
        base = f"{stem[: 254 - len(suffix)]}.{suffix}" if dot and len(suffix) < 20 else base[:255]
    return base


def _is_docx(file: IO[bytes]) -> bool:
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    finally:
        file.seek(0)
    return "word/document.xml" in names and "[Content_Types].xml" in names


def _utf8_text_sample(file: IO[bytes]) -> str | None:
    """The first characters of the file when the whole of it is UTF-8 without NUL bytes, else None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    sample: list[str] = []
    sampled = 0
    try:
        while chunk := file.read(64 * 1024):
            if b"\x00" in chunk:
                return None
            text = decoder.decode(chunk)
            if sampled < _TEXT_SAMPLE_CHARS:
                sample.append(text)
                sampled += len(text)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    finally:
        file.seek(0)
    return "".join(sample)[:_TEXT_SAMPLE_CHARS]


def _is_image(head: bytes, detected: str) -> bool:
    if not head.startswith(_IMAGE_SIGNATURES.get(detected, ())):
        return False
    return detected != "image/webp" or head[8:12] == b"WEBP"


def sniff_content_type(file: IO[bytes], *, name: str) -> str:
    """PDF, DOCX, Markdown, plain text or a PNG, JPEG, WebP or GIF image, decided by the bytes
    (libmagic, then a structural check); the name only tells Markdown from plain text.
    UnsupportedMediaType (415) for anything else."""
    file.seek(0)
    head = file.read(_SNIFF_BYTES)
    file.seek(0)
    detected = magic.from_buffer(head, mime=True)
    if detected == PDF and head.lstrip(b"\r\n\t ").startswith(b"%PDF-"):
        return PDF
    if detected in IMAGE_CONTENT_TYPES and _is_image(head, detected):
        return detected
    if detected in {DOCX, "application/zip"}:
        if _is_docx(file):
            return DOCX
    elif detected.startswith("text/") or detected in _TEXTUAL_MIME_TYPES:
        sample = _utf8_text_sample(file)
        if sample is not None:
            if name.lower().endswith(MARKDOWN_SUFFIXES) or _MARKDOWN_MARKERS.search(sample):
                return MARKDOWN
            return TEXT
    raise UnsupportedMediaType(
        "Only PDF, DOCX, Markdown, UTF-8 plain text files and PNG, JPEG, WebP or GIF images can be attached.",
        fields={"file": [f"Unsupported file type ({detected})."]},
    )


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def attachment_create(*, conversation: Conversation, uploader: User, upload: UploadedFile) -> Attachment:
    """Attach an uploaded file to a conversation.

    The type comes from the content; the bytes are stored once under attachments/ab/cd/<sha256>
    (an identical file uploaded before is not written again); the client's name is kept for display
    only. Text extraction is queued once the row is committed. An image is accepted only when the
    conversation's model has vision (Conflict, 409, otherwise); it has no text to extract, so it is
    `done` at once.
    """
    if upload.size is None or upload.size > max_attachment_bytes():
        raise PayloadTooLarge(
            f"Attachments are limited to {max_attachment_bytes()} bytes.",
            fields={"file": ["File too large."]},
        )
    if upload.size == 0:
        raise ValidationFailed("The file is empty.", fields={"file": ["The submitted file is empty."]})
    original_name = safe_original_name(upload.name or "")
    content_type = sniff_content_type(upload, name=original_name)
    is_image = content_type in IMAGE_CONTENT_TYPES
    if is_image:
        ensure_vision(conversation)
    digest = _sha256(upload)
    attachment = Attachment(
        conversation=conversation,
        uploader=uploader,
        original_name=original_name,
        content_type=content_type,
        size=upload.size,
        sha256=digest,
        processing_status=Attachment.ProcessingStatus.DONE
        if is_image
        else Attachment.ProcessingStatus.PENDING,
    )
    with transaction.atomic():
        # Serialises with the purge of the same content, which deletes the file when no row is left.
        advisory_xact_lock(f"attachment-file:{digest}")
        path = attachment_path(attachment, original_name)
        if default_storage.exists(path):
            attachment.file.name = path
        else:
            attachment.file.save(original_name, upload, save=False)
        attachment.save(force_insert=True)
        # With the task queue down the upload still succeeds; the row stays `pending` and
        # `attachments_queue_pending` queues it again later.
        if not is_image:
            enqueue_on_commit(EXTRACTION_TASK, str(attachment.pk))
    return attachment


def ensure_vision(conversation: Conversation) -> None:
    """Conflict (409) unless the conversation's model reads images."""
    if not conversation.model.has_vision:
        raise Conflict(
            f"The model '{conversation.model_name}' cannot read images; attach documents instead, or "
            "start a conversation with a model that has vision.",
            code="model_without_vision",
        )


EXTRACTION_TASK = "conversations_app.tasks.extract_attachment_text"


def attachments_queue_pending(*, older_than: timedelta, limit: int = 500) -> int:
    """Queue the text extraction of alive attachments still `pending` this long after their upload
    (their task was lost: the queue was down, or its message was). Extraction is idempotent, so one
    queued twice costs nothing but the work. Returns how many were queued."""
    pending = (
        Attachment.objects.filter(
            processing_status=Attachment.ProcessingStatus.PENDING,
            created_at__lt=timezone.now() - older_than,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for attachment_id in pending if enqueue(EXTRACTION_TASK, str(attachment_id)))


def attachment_delete(*, attachment: Attachment) -> Attachment:
    """Move an attachment to the trash; its file goes when the row is purged and no other row shares it."""
    return core_services.soft_delete(attachment)


def _extract_pdf(file: IO[bytes]) -> str:
    from pypdf import PdfReader

    reader = PdfReader(file)
    return "\n\n".join((page.extract_text() or "") for page in reader.pages[:MAX_PDF_PAGES])


def _extract_docx(file: IO[bytes]) -> str:
    import docx

    with zipfile.ZipFile(file) as archive:
        if sum(info.file_size for info in archive.infolist()) > MAX_DOCX_UNCOMPRESSED_BYTES:
            raise ValueError("The document expands to more than the extraction limit.")
    file.seek(0)
    document = docx.Document(file)
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def _extract_text(file: IO[bytes], content_type: str) -> str:
    if content_type == PDF:
        return _extract_pdf(file)
    if content_type == DOCX:
        return _extract_docx(file)
    return file.read().decode("utf-8-sig")


def attachment_extract_text(*, attachment_id: UUID | str) -> Attachment | None:
    """Fill `extracted_text` and move `processing_status` to done or failed. Idempotent: a finished
    attachment is left alone, and text already extracted from identical bytes is reused."""
    attachment = Attachment.all_objects.filter(pk=attachment_id).first()
    if attachment is None or attachment.processing_status in {
        Attachment.ProcessingStatus.DONE,
        Attachment.ProcessingStatus.FAILED,
    }:
        return attachment
    rows = Attachment.all_objects.filter(pk=attachment.pk)
    twin = (
        Attachment.all_objects.filter(
            sha256=attachment.sha256, processing_status=Attachment.ProcessingStatus.DONE
        )
        .exclude(pk=attachment.pk)
        .only("extracted_text")
        .first()
    )
    if twin is not None:
        rows.update(extracted_text=twin.extracted_text, processing_status=Attachment.ProcessingStatus.DONE)
    else:
        rows.update(processing_status=Attachment.ProcessingStatus.PROCESSING)
        try:
            with attachment.file.open("rb") as file:
                text = _extract_text(file, attachment.content_type)
        except Exception as exc:  # any parser failure on user content is a failed extraction, not a crash
            logger.info("text extraction failed for attachment %s: %s", attachment.pk, exc)
            rows.update(
                processing_status=Attachment.ProcessingStatus.FAILED,
                processing_error=f"The text could not be extracted: {exc}"[:1000],
            )
        else:
            rows.update(
                extracted_text=text.replace("\x00", "")[:MAX_EXTRACTED_CHARS],
                processing_status=Attachment.ProcessingStatus.DONE,
                processing_error="",
            )
    attachment.refresh_from_db()
    return attachment


def attachment_files_release(*, sha256s: Iterable[str]) -> None:
    """Delete the stored files of these digests that no attachment row (alive or in the trash) uses."""
    for digest in set(sha256s):
        with transaction.atomic():
            advisory_xact_lock(f"attachment-file:{digest}")
            if not Attachment.all_objects.filter(sha256=digest).exists():
                default_storage.delete(attachment_path(Attachment(sha256=digest), ""))
