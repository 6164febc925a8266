"""Read-your-writes and the router without a replica, which need no replica server: a signed-in
user's write requests are noted in Redis for REPLICA_READ_YOUR_WRITES_SECONDS (and again when a
streamed one ends), and with replica reads off every read goes to the primary. The replica itself is
tested against a real one in test_db_router.py."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import router
from django.http import StreamingHttpResponse
from django.test import RequestFactory

from admin_app.selectors.database import database_replication
from conversations_app.models import Conversation
from core.db_router import reads_from_replica, wrote_recently
from core.middleware import ReadYourWritesMiddleware
from tests.conversations_app.resources import BASE


@pytest.mark.django_db
def test_without_a_replica_every_read_goes_to_the_primary(settings, user):
    settings.DATABASE_REPLICA_READS = False

    with reads_from_replica(user=None) as allowed:
        assert allowed is False
        assert router.db_for_read(Conversation) == "default"
    assert database_replication().replica is None
    assert settings.DATABASES["replica"]["REPLICA_OF"] == "default"


@pytest.mark.django_db
def test_a_signed_in_users_write_request_is_noted_for_a_few_seconds(settings, user, api_client, anon_client):
    settings.DATABASE_REPLICA_READS = True

    # reads and anonymous writes are not noted
    assert api_client.get(BASE).status_code == 200
    assert anon_client.post(BASE, {}, format="json").status_code == 401
    assert not wrote_recently(user.pk)

    # a write request is, refused or not (a failed chat still stored its prompt), for the window
    assert api_client.post(BASE, {"title": 5}, format="json").status_code == 400
    assert wrote_recently(user.pk)
    assert 0 < cache.ttl(f"replica:wrote:{user.pk}") <= settings.REPLICA_READ_YOUR_WRITES_SECONDS


@pytest.mark.django_db
def test_the_end_of_a_streamed_write_is_noted_again(settings, user):
    # given a streamed answer to a write request (a chat answer is stored when its stream ends)
    settings.DATABASE_REPLICA_READS = True
    request = RequestFactory().post("/api/v1/conversations/")
    request.user = user
    middleware = ReadYourWritesMiddleware(lambda request: StreamingHttpResponse(iter([b"a", b"b"])))
    response = middleware(request)
    assert wrote_recently(user.pk)
    cache.delete(f"replica:wrote:{user.pk}")

    # when the stream has been sent, then the write is noted again
    assert b"".join(response.streaming_content) == b"ab"
    assert wrote_recently(user.pk)
