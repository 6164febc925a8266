"""The read replica, against a real one: a hot standby streaming from the test cluster (`make replica`;
`make test` starts it). Read-only views read from it, writes and reads inside a transaction go to the
primary, a user who just wrote reads the primary, an unreachable replica leaves reads on the primary
without an error, and staff see the replication lag.

These tests commit (the replica sees committed rows only), so they wait for the replica to have
replayed what the primary wrote before reading through it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connections, router, transaction
from django.test.utils import CaptureQueriesContext

from auth_app.models import User
from conversations_app.models import Conversation
from core.cache import outage
from core.db import reads_on_primary
from core.db_router import reads_from_replica, replica_outage
from tests.conftest import client_for
from tests.conversations_app.factories import ConversationFactory, ExchangeFactory
from tests.conversations_app.resources import BASE
from tests.models_app.factories import AIModelFactory

REPLICA = "replica"
REPLICATION_URL = "/api/v1/admin/database/replication/"


def _replica_answers() -> bool:
    params = connections[REPLICA].settings_dict
    try:
        psycopg.connect(
            host=params["HOST"],
            port=params["PORT"],
            user=params["USER"],
            password=params["PASSWORD"],
            dbname="postgres",
            connect_timeout=2,
        ).close()
    except psycopg.OperationalError:
        return False
    return True


IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPLICA_WHERE = "{HOST}:{PORT}".format(**connections[REPLICA].settings_dict)

# Decided before any database is set up: without a replica, the test runner's own setup and teardown
# of these (transactional) tests would fail on it. In CI the replica must be there: no skip.
pytestmark = [
    pytest.mark.skipif(
        not IN_CI and not _replica_answers(),
        reason=f"no read replica answers at {REPLICA_WHERE}: start one with `make replica`",
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "replica"]),
]


@pytest.fixture
def replica(settings):
    """The real replica, with replica reads on (every other test reads the primary only)."""
    if not _replica_answers():
        pytest.fail(f"no read replica answers at {REPLICA_WHERE}; `make test` starts one (scripts/dev.sh)")
    settings.DATABASE_REPLICA_READS = True
    replica_outage.clear()
    yield connections[REPLICA]
    replica_outage.clear()


def caught_up(timeout: float = 10.0) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    while True:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return
        assert time.monotonic() < deadline, f"the replica did not catch up within {timeout} s"
        time.sleep(0.02)


@contextmanager
def queries() -> Iterator[tuple[CaptureQueriesContext, CaptureQueriesContext]]:
    """The statements run on the primary and on the replica within the block."""
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections[REPLICA]) as standby,
    ):
        yield primary, standby


def sql(captured: CaptureQueriesContext) -> str:
    return "\n".join(query["sql"] for query in captured.captured_queries)


def test_the_replica_is_a_streaming_standby_with_the_test_database(replica):
    # given a row committed on the primary
    user = User.objects.create_user(username="replicated", email="replicated@example.com", password="x" * 12)
    caught_up()

    # then the replica is another server, in recovery, serving the same test database, with that row
    with replica.cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port(), current_database()")
        in_recovery, port, database = cursor.fetchone()
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT inet_server_port()")
        (primary_port,) = cursor.fetchone()
    assert in_recovery is True
    assert port == int(replica.settings_dict["PORT"]) != primary_port
    assert database == connections["default"].settings_dict["NAME"]
    assert User.objects.using(REPLICA).filter(pk=user.pk).exists()


def test_a_list_reads_from_the_replica(replica, user, api_client):
    conversation = ConversationFactory(owner=user)
    caught_up()

    with queries() as (primary, standby):
        response = api_client.get(BASE)

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(conversation.pk)]
    assert "conversations_app_conversation" in sql(standby)
    assert "conversations_app_conversation" not in sql(primary)
    assert "auth_user" in sql(primary)  # authentication reads the primary


def test_the_history_reads_from_the_replica(replica, user, api_client):
    exchange = ExchangeFactory(conversation=ConversationFactory(owner=user))
    Conversation.objects.filter(pk=exchange.conversation_id).update(current_exchange=exchange)
    caught_up()

    with queries() as (primary, standby):
        response = api_client.get(f"{BASE}{exchange.conversation_id}/messages/")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(exchange.pk)]
    assert "conversations_app_conversationpromptresponse" in sql(standby)
    assert "conversations_app_conversationpromptresponse" not in sql(primary)


def test_explore_fills_the_shared_cache_from_the_primary_and_reads_the_replica_without_it(replica):
    AIModelFactory(name="llama3.2:3b", is_active=True)
    caught_up()
    client = client_for(None)

    with queries() as (primary, standby):
        filled = client.get("/api/v1/explore/models/")
    assert filled["X-Cache"] == "MISS"
    assert "models_app_aimodel" in sql(primary)
    assert "models_app_aimodel" not in sql(standby)

    outage.record(ConnectionError("Redis down"), "test")  # Redis unreachable: nothing is stored
    try:
        with queries() as (primary, standby):
            direct = client.get("/api/v1/explore/models/")
    finally:
        outage.clear()
    assert direct.json()["results"] == filled.json()["results"]
    assert "models_app_aimodel" in sql(standby)
    assert "models_app_aimodel" not in sql(primary)


def test_writes_go_to_the_primary_also_for_rows_read_from_the_replica(replica, user):
    conversation = ConversationFactory(owner=user, title="before")
    caught_up()

    with reads_from_replica(user=None), queries() as (primary, standby):
        row = Conversation.objects.get(pk=conversation.pk)
        read_from = row._state.db
        row.title = "after"
        row.save(update_fields=["title", "updated_at"])
        created = ConversationFactory(owner=user, model=row.model)

    assert read_from == REPLICA
    assert "UPDATE" in sql(primary)
    assert "INSERT" in sql(primary)
    assert "UPDATE" not in sql(standby)
    assert "INSERT" not in sql(standby)
    assert Conversation.objects.using("default").get(pk=conversation.pk).title == "after"
    assert Conversation.objects.using("default").filter(pk=created.pk).exists()


def test_reads_inside_a_transaction_or_asked_of_the_primary_go_to_the_primary(replica, user):
    ConversationFactory(owner=user)
    caught_up()

    with reads_from_replica(user=None):
        assert router.db_for_read(Conversation) == REPLICA
        with transaction.atomic(), queries() as (primary, standby):
            assert router.db_for_read(Conversation) == "default"
            assert Conversation.objects.count() == 1
        with reads_on_primary():
            assert router.db_for_read(Conversation) == "default"
        assert router.db_for_read(Conversation) == REPLICA
    assert router.db_for_read(Conversation) == "default"  # outside a read-only view
    assert "conversations_app_conversation" in sql(primary)
    assert sql(standby) == ""


def test_a_user_reads_their_own_writes_from_the_primary_for_a_few_seconds(
    replica, settings, user, api_client, other_user, other_client
):
    settings.REPLICA_READ_YOUR_WRITES_SECONDS = 1
    conversation = ConversationFactory(owner=user)
    ConversationFactory(owner=other_user)
    caught_up()

    # when the user writes, then lists at once
    assert (
        api_client.patch(f"{BASE}{conversation.pk}/", {"title": "renamed"}, format="json").status_code == 200
    )
    with queries() as (primary, standby):
        mine = api_client.get(BASE)
    with queries() as (other_primary, other_standby):
        theirs = other_client.get(BASE)

    # then their list comes from the primary and shows the write; another user's from the replica
    assert mine.json()["results"][0]["title"] == "renamed"
    assert "conversations_app_conversation" in sql(primary)
    assert "conversations_app_conversation" not in sql(standby)
    assert theirs.status_code == 200
    assert "conversations_app_conversation" in sql(other_standby)
    assert "conversations_app_conversation" not in sql(other_primary)

    # and once the window has passed, the user reads the replica again
    time.sleep(1.2)
    caught_up()
    with queries() as (primary, standby):
        later = api_client.get(BASE)
    assert later.json()["results"][0]["title"] == "renamed"
    assert "conversations_app_conversation" in sql(standby)


def test_with_redis_unreachable_a_signed_in_user_reads_the_primary(replica, user, api_client):
    ConversationFactory(owner=user)
    caught_up()

    outage.record(ConnectionError("Redis down"), "test")  # read-your-writes cannot be checked
    try:
        with queries() as (primary, standby):
            response = api_client.get(BASE)
    finally:
        outage.clear()

    assert response.status_code == 200
    assert "conversations_app_conversation" in sql(primary)
    assert "conversations_app_conversation" not in sql(standby)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def replica_down(replica) -> Iterator[None]:
    """The replica's alias pointed at a port nothing listens on: connections are refused."""
    port = replica.settings_dict["PORT"]
    replica.close()
    replica.close_pool()
    replica.settings_dict["PORT"] = _closed_port()
    try:
        yield
    finally:
        replica.close()
        replica.close_pool()
        replica.settings_dict["PORT"] = port


def test_an_unreachable_replica_leaves_reads_on_the_primary_quickly(replica, settings, user, api_client):
    conversation = ConversationFactory(owner=user)
    settings.CACHE_OUTAGE_COOLDOWN = 1.0

    with replica_down(replica):
        # the first read finds the replica down (after the pool's timeout at most) and reads the primary
        with CaptureQueriesContext(connections["default"]) as primary:
            first = api_client.get(BASE)
        assert first.status_code == 200
        assert [row["id"] for row in first.json()["results"]] == [str(conversation.pk)]
        assert "conversations_app_conversation" in sql(primary)
        assert replica_outage.active()

        # the next ones do not try it during the cool-down, and try it briefly after it
        started = time.monotonic()
        assert api_client.get(BASE).status_code == 200
        assert time.monotonic() - started < 1.0
        time.sleep(1.1)
        assert not replica_outage.active()
        started = time.monotonic()
        assert api_client.get(BASE).status_code == 200
        assert time.monotonic() - started < 1.5
        assert replica_outage.active()

    # once it is back, reads go to it again
    replica_outage.clear()
    caught_up()
    with queries() as (primary, standby):
        assert api_client.get(BASE).status_code == 200
    assert "conversations_app_conversation" in sql(standby)


def test_staff_see_the_replicas_lag_and_the_primarys_standbys(replica, admin_user):
    ConversationFactory()
    caught_up()
    client = client_for(admin_user)

    # authentication, Admin role, the standbys, the bytes the replica is behind; the replica's state
    with queries() as (primary, standby):
        response = client.get(REPLICATION_URL)
    assert len(primary.captured_queries) == 4
    assert len(standby.captured_queries) == 1

    assert response.status_code == 200
    report = response.json()
    status = report["replica"]
    assert status["alias"] == REPLICA
    assert status["reachable"] is True
    assert status["error"] == ""
    assert status["in_recovery"] is True
    assert status["receiver_status"] == "streaming"
    assert isinstance(status["lag_seconds"], float)
    assert status["lag_seconds"] >= 0
    assert isinstance(status["lag_bytes"], int)
    assert status["lag_bytes"] >= 0
    assert status["replay_lsn"]
    assert status["receive_lsn"]
    assert any(standby["state"] == "streaming" for standby in report["standbys"])
    assert all(
        standby["replay_lag_bytes"] is None or standby["replay_lag_bytes"] >= 0
        for standby in report["standbys"]
    )


def test_the_report_says_why_an_unreachable_replica_cannot_be_read(replica, admin_user):
    with replica_down(replica):
        response = client_for(admin_user).get(REPLICATION_URL)

    assert response.status_code == 200
    status = response.json()["replica"]
    assert status["reachable"] is False
    assert status["error"]  # the driver's reason (refused, or no connection within the timeout)
    assert status["lag_seconds"] is None
    assert status["in_recovery"] is None
    assert replica_outage.active()
