"""Cursor pagination: a cursor comes from the client, so a garbled or forged one is a 404 "Invalid
cursor" in the error shape (or, when it names a valid position, a page), never a database error."""

from __future__ import annotations

from base64 import b64encode
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.admin_app.factories import AuditEventFactory
from tests.conftest import client_for
from tests.conversations_app.factories import (
    AttachmentFactory,
    ConversationFactory,
    ExchangeFactory,
    FolderFactory,
    NoteFactory,
)

pytestmark = pytest.mark.django_db


def cursor(**tokens: str) -> str:
    """A cursor as DRF writes them (o: offset, r: reverse, p: position), with any content."""
    return b64encode(urlencode(tokens).encode()).decode()


@pytest.fixture
def cursor_lists(user, admin_user) -> dict[str, tuple[APIClient, str]]:
    """Every cursor-paginated list, with a row in it, and a client allowed to read it."""
    conversation = ConversationFactory(owner=user)
    exchange = ExchangeFactory(conversation=conversation)
    NoteFactory(response=exchange.response, owner=user)
    FolderFactory(owner=user)
    AttachmentFactory(conversation=conversation, uploader=user)
    ConversationFactory(owner=user, deleted_at=timezone.now())
    FolderFactory(owner=user, deleted_at=timezone.now())
    AuditEventFactory()
    own, staff = client_for(user), client_for(admin_user)
    base = "/api/v1/conversations/"
    return {
        "conversations": (own, base),  # -last_message_at
        "folders": (own, f"{base}folders/"),  # name
        "history": (own, f"{base}{conversation.pk}/messages/"),  # position (integer)
        "notes": (own, f"{base}responses/{exchange.response_id}/notes/"),  # from_index (integer)
        "attachments": (own, f"{base}{conversation.pk}/attachments/"),  # -created_at
        "trashed conversations": (own, f"{base}trash/conversations/"),  # -deleted_at
        "trashed folders": (own, f"{base}trash/folders/"),
        "audit events": (staff, "/api/v1/admin/audit-events/"),  # -created_at
    }


GARBAGE = {
    "not base64": "%%%not-base64!",
    "base64 of random bytes": b64encode(bytes(range(256))[::7]).decode(),
    "base64 of text": b64encode(b"hello world").decode(),
    "no such position": cursor(p="not-a-position"),
    "NUL position": cursor(o="1", r="1", p="\x00"),
    "5000-digit position": cursor(p="9" * 5000),
    "float position": cursor(p="1e400"),
    "NaN position": cursor(p="NaN"),
    "offset past the cutoff": cursor(o="99999999999999999999"),
    "negative offset": cursor(o="-5"),
    "reverse flag not a number": cursor(r="yes"),
    "offset out of range, reversed": cursor(o="1000", r="1", p="1"),
    "datetime with an offset PostgreSQL refuses": cursor(p="2024-01-01 00:00:00+20:00"),
    "year 1 before UTC": cursor(p="0001-01-01 00:00:00+01:00"),
}


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=GARBAGE.keys())
def test_a_garbage_cursor_is_never_a_server_error(cursor_lists, garbage):
    for name, (client, url) in cursor_lists.items():
        response = client.get(url, {"cursor": garbage})

        assert response.status_code in (200, 404), (name, response.status_code, response.content)
        if response.status_code == 404:
            assert response.json() == {
                "error": {"code": "not_found", "message": "Invalid cursor", "fields": {}}
            }, name


@pytest.mark.parametrize("position", ["x", "\x00", "2024-01-01T00:00:00", "9" * 5000])
@pytest.mark.parametrize("name", ["history", "notes"])
def test_an_integer_ordered_list_refuses_a_position_that_is_no_integer(cursor_lists, name, position):
    client, url = cursor_lists[name]

    response = client.get(url, {"cursor": cursor(p=position)})

    assert response.status_code == 404, response.content
    assert response.json()["error"]["message"] == "Invalid cursor"


@pytest.mark.parametrize("name", ["conversations", "attachments", "trashed conversations", "audit events"])
def test_a_time_ordered_list_refuses_a_position_that_is_no_instant(cursor_lists, name):
    client, url = cursor_lists[name]

    response = client.get(url, {"cursor": cursor(p="2024-13-45 00:00:00+00:00")})

    assert response.status_code == 404, response.content


def test_a_text_ordered_list_refuses_a_nul_in_the_position(cursor_lists):
    client, url = cursor_lists["folders"]

    assert client.get(url, {"cursor": cursor(p="a\x00b")}).status_code == 404


def test_a_huge_offset_is_refused(cursor_lists):
    client, url = cursor_lists["conversations"]

    assert client.get(url, {"cursor": cursor(o="99999999999999999999")}).status_code == 404


@pytest.mark.parametrize("offset", ["+20:00", "-23:59", "+05:30"])
def test_a_position_with_any_utc_offset_python_reads_is_a_page(user, offset):
    # given: a conversation, read from a position far in the future with an unusual UTC offset
    ConversationFactory(owner=user)

    # when
    response = client_for(user).get(
        "/api/v1/conversations/", {"cursor": cursor(p=f"2999-01-01 00:00:00{offset}")}
    )

    # then: the position is compared in UTC; every conversation is older
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 1


def test_the_cursors_the_api_hands_out_still_work(user):
    for _ in range(3):
        ConversationFactory(owner=user)
    client = client_for(user)

    first = client.get("/api/v1/conversations/", {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    back = client.get(second["previous"]).json()

    assert len(first["results"]) == 2
    assert len(second["results"]) == 1
    assert [row["id"] for row in back["results"]] == [row["id"] for row in first["results"]]
