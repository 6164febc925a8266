"""Attachments: multipart upload sniffed by content, size limit while streaming, content-addressed
storage, download, delete, background text extraction."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from conversations_app.api.uploads import AttachmentMultiPartParser, SizeLimitUploadHandler
from conversations_app.models import Attachment
from core.exceptions import PayloadTooLarge
from tests.conversations_app.factories import AttachmentFactory, ConversationFactory
from tests.conversations_app.files import docx_bytes, elf_bytes, pdf_bytes, windows_exe_bytes
from tests.conversations_app.resources import AUTH_QUERIES, BASE, assert_error

pytestmark = pytest.mark.django_db

LIMIT = 10 * 1024 * 1024


@pytest.fixture
def conversation(user):
    return ConversationFactory(owner=user)


def list_url(conversation) -> str:
    return f"{BASE}{conversation.pk}/attachments/"


def detail_url(attachment) -> str:
    return f"{list_url(attachment.conversation)}{attachment.pk}/"


def upload(client, conversation, name: str, data: bytes, content_type: str = "application/octet-stream"):
    return client.post(
        list_url(conversation), {"file": SimpleUploadedFile(name, data, content_type)}, format="multipart"
    )


def stored_files(settings) -> list[Path]:
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("name", "data", "declared", "expected"),
    [
        ("report.pdf", pdf_bytes(), "application/pdf", "application/pdf"),
        ("report.bin", pdf_bytes(), "application/octet-stream", "application/pdf"),
        (
            "letter.docx",
            docx_bytes(),
            "application/octet-stream",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("notes.txt", "Grüße, plain text.\n".encode(), "text/plain", "text/plain"),
        ("README.md", b"Plain words, but a .md name.\n", "text/plain", "text/markdown"),
        ("notes.txt", b"# Heading\n\nSome [link](https://example.com).\n", "text/plain", "text/markdown"),
        ("data.json", b'{"a": 1}', "application/json", "text/plain"),
    ],
)
def test_upload_accepts_pdf_docx_text_and_markdown_by_content(
    api_client, user, conversation, name, data, declared, expected
):
    response = upload(api_client, conversation, name, data, declared)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content_type"] == expected
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["original_name"] == name
    assert body["download_url"].endswith(f"/attachments/{body['id']}/download/")
    attachment = Attachment.objects.get(pk=body["id"])
    assert (attachment.conversation, attachment.uploader) == (conversation, user)


@pytest.mark.parametrize(
    ("name", "data", "declared"),
    [
        ("invoice.pdf", elf_bytes(), "application/pdf"),
        ("invoice.pdf", windows_exe_bytes(), "application/pdf"),
        ("photo.txt", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "text/plain"),
        ("archive.docx", b"PK\x03\x04" + b"\x00" * 64, "application/vnd.openxmlformats"),
        ("latin1.txt", "caf\xe9".encode("latin-1") * 10, "text/plain"),
        ("nul.txt", b"text with a \x00 NUL byte", "text/plain"),
    ],
)
def test_upload_refuses_other_types_whatever_the_name_or_header(
    api_client, settings, conversation, name, data, declared
):
    response = upload(api_client, conversation, name, data, declared)

    assert_error(response, 415, "unsupported_media_type")
    assert not Attachment.all_objects.exists()
    assert stored_files(settings) == []


def test_upload_of_exactly_the_limit_is_accepted(api_client, conversation):
    response = upload(api_client, conversation, "big.txt", b"a" * LIMIT, "text/plain")

    assert response.status_code == 201
    assert response.json()["size"] == LIMIT


def test_upload_one_byte_over_the_limit_is_413_and_stores_nothing(api_client, settings, conversation):
    response = upload(api_client, conversation, "big.txt", b"a" * (LIMIT + 1), "text/plain")

    assert_error(response, 413, "too_large")
    assert not Attachment.all_objects.exists()
    assert stored_files(settings) == []


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def _multipart_request(data: bytes):
    body = encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("big.txt", data, "text/plain")})
    request = RequestFactory().generic("POST", "/", data=body, content_type=MULTIPART_CONTENT)
    return request, CountingStream(body)


def test_a_body_declared_too_large_is_refused_before_any_byte_is_read():
    request, stream = _multipart_request(b"a" * (LIMIT + 512 * 1024))

    with pytest.raises(PayloadTooLarge):
        AttachmentMultiPartParser().parse(stream, MULTIPART_CONTENT, {"request": request})

    assert stream.bytes_read == 0


def test_the_file_bytes_are_counted_as_they_arrive():
    handler = SizeLimitUploadHandler(limit=100)
    handler.new_file("file", "a.txt", "text/plain", None)

    assert handler.receive_data_chunk(b"a" * 60, 0) == b"a" * 60
    with pytest.raises(PayloadTooLarge):
        handler.receive_data_chunk(b"a" * 41, 60)


def test_a_path_in_the_file_name_never_reaches_the_disk(api_client, settings, conversation, tmp_path):
    # when
    response = upload(api_client, conversation, "../../../etc/passwd.txt", b"root:x:0:0\n", "text/plain")
    backslashes = upload(api_client, conversation, "..\\..\\win.ini.txt", b"[fonts]\n", "text/plain")

    # then
    assert response.status_code == 201
    assert response.json()["original_name"] == "passwd.txt"
    assert backslashes.json()["original_name"] == "win.ini.txt"
    media = Path(settings.MEDIA_ROOT).resolve()
    for file in stored_files(settings):
        assert file.resolve().is_relative_to(media)
        assert "passwd" not in file.name
    digest = hashlib.sha256(b"root:x:0:0\n").hexdigest()
    assert (
        Attachment.objects.get(pk=response.json()["id"]).file.name
        == f"attachments/{digest[:2]}/{digest[2:4]}/{digest}"
    )
    assert not (tmp_path.parent / "etc").exists()


def test_identical_content_is_stored_once(api_client, settings, conversation, user):
    other_conversation = ConversationFactory(owner=user)

    first = upload(api_client, conversation, "a.txt", b"same bytes", "text/plain")
    second = upload(api_client, other_conversation, "b.txt", b"same bytes", "text/plain")

    assert first.status_code == second.status_code == 201
    assert len(stored_files(settings)) == 1
    assert Attachment.objects.count() == 2


def test_download_round_trips_the_bytes_with_type_and_name(api_client, conversation):
    data = pdf_bytes("Round trip")
    created = upload(api_client, conversation, 'résumé "final".pdf', data, "application/octet-stream").json()

    response = api_client.get(created["download_url"], HTTP_ACCEPT="application/pdf")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(data))
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''r%C3%A9sum%C3%A9%20%22final%22.pdf" in disposition
    assert response["X-Content-Type-Options"] == "nosniff"


def test_text_downloads_declare_utf8(api_client, conversation):
    created = upload(api_client, conversation, "notes.txt", "héllo".encode(), "text/plain").json()

    response = api_client.get(created["download_url"])

    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert b"".join(response.streaming_content) == "héllo".encode()


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("a.pdf", pdf_bytes("Quarterly figures"), "Quarterly figures"),
        ("a.docx", docx_bytes("First paragraph", "Second paragraph"), "First paragraph\nSecond paragraph"),
        ("a.md", b"# Title\n\nBody text", "# Title\n\nBody text"),
        ("a.txt", b"\xef\xbb\xbfWith a BOM", "With a BOM"),
    ],
)
def test_text_is_extracted_in_the_background(
    api_client, conversation, name, data, expected, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = upload(api_client, conversation, name, data).json()

    assert created["processing_status"] == "pending"
    detail = api_client.get(f"{list_url(conversation)}{created['id']}/").json()
    assert detail["processing_status"] == "done"
    assert expected in detail["extracted_text"]


def test_an_unreadable_pdf_ends_failed_with_a_reason(
    api_client, conversation, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = upload(api_client, conversation, "broken.pdf", b"%PDF-1.7\n" + b"garbage " * 200).json()

    attachment = Attachment.objects.get(pk=created["id"])
    assert attachment.processing_status == "failed"
    assert attachment.processing_error


@pytest.mark.parametrize(
    ("data", "format_"),
    [
        ({}, "multipart"),
        ({"file": "just a string"}, "multipart"),
        ({"file": "x"}, "json"),
    ],
)
def test_upload_without_a_file_is_4xx_and_writes_nothing(api_client, conversation, data, format_):
    response = api_client.post(list_url(conversation), data, format=format_)

    assert_error(response, 415 if format_ == "json" else 400)
    assert not Attachment.all_objects.exists()


def test_an_empty_file_is_400(api_client, conversation):
    assert_error(upload(api_client, conversation, "empty.txt", b"", "text/plain"), 400)
    assert not Attachment.all_objects.exists()


@pytest.mark.parametrize("count", [5, 50])
def test_list_in_constant_queries(api_client, user, conversation, count, django_assert_num_queries):
    AttachmentFactory.create_batch(count + 1, conversation=conversation)
    AttachmentFactory(conversation=conversation, deleted_at="2024-01-01T00:00:00Z")

    with django_assert_num_queries(AUTH_QUERIES + 2):  # the conversation, then the page
        response = api_client.get(list_url(conversation), {"page_size": count})

    assert response.status_code == 200
    assert len(response.json()["results"]) == count
    assert response.json()["next"]


def test_detail_in_constant_queries(api_client, conversation, django_assert_num_queries):
    attachment = AttachmentFactory(conversation=conversation)

    with django_assert_num_queries(AUTH_QUERIES + 1):
        response = api_client.get(detail_url(attachment))

    assert response.json()["original_name"] == "notes.txt"


def test_delete_hides_the_attachment_and_keeps_its_file_until_purged(api_client, settings, conversation):
    created = upload(api_client, conversation, "a.txt", b"keep me", "text/plain").json()

    response = api_client.delete(f"{list_url(conversation)}{created['id']}/")

    assert response.status_code == 204
    assert api_client.get(list_url(conversation)).json()["results"] == []
    assert_error(api_client.get(created["download_url"]), 404)
    assert Attachment.all_objects.get(pk=created["id"]).deleted_at is not None
    assert len(stored_files(settings)) == 1


def test_another_users_conversation_and_attachments_are_404_and_unchanged(api_client, settings, other_user):
    theirs = ConversationFactory(owner=other_user)
    their_file = AttachmentFactory(conversation=theirs)

    responses = [
        api_client.get(list_url(theirs)),
        upload(api_client, theirs, "a.txt", b"sneaky", "text/plain"),
        api_client.get(detail_url(their_file)),
        api_client.get(f"{detail_url(their_file)}download/"),
        api_client.delete(detail_url(their_file)),
    ]

    for response in responses:
        assert_error(response, 404)
    assert Attachment.all_objects.count() == 1
    assert Attachment.objects.get(pk=their_file.pk).deleted_at is None
    assert len(stored_files(settings)) == 1


def test_an_attachment_id_under_another_conversation_is_404(api_client, user, conversation):
    elsewhere = AttachmentFactory(conversation=ConversationFactory(owner=user))

    assert_error(api_client.get(f"{list_url(conversation)}{elsewhere.pk}/"), 404)


def test_anonymous_caller_gets_401(anon_client, conversation):
    attachment = AttachmentFactory(conversation=conversation)

    for response in [
        anon_client.get(list_url(conversation)),
        upload(anon_client, conversation, "a.txt", b"x", "text/plain"),
        anon_client.get(detail_url(attachment)),
        anon_client.get(f"{detail_url(attachment)}download/"),
        anon_client.delete(detail_url(attachment)),
    ]:
        assert_error(response, 401)
    assert Attachment.objects.count() == 1
