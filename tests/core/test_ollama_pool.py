"""The pool of Ollama servers against three fake servers on loopback: routing by model, the fewest
requests in flight, failover before the first token, the state shared through Redis, Redis down."""

from __future__ import annotations

import logging

import pytest
import redis.asyncio as aioredis
from asgiref.sync import async_to_sync
from django_redis import get_redis_connection

from core.exceptions import Conflict, ServiceUnavailable
from core.ollama import open_chat_stream, pool
from tests.conversations_app.chat_client import run_in_server_thread
from tests.fakes.ollama import DEFAULT_MODEL, DEFAULT_REPLY
from tests.fakes.redis import closed_port, point_cache_at

HELLO = [{"role": "user", "content": "Hello"}]
MISTRAL = "mistral:7b"


@pytest.fixture(autouse=True)
def _fresh_view():
    pool.forget_view()
    pool.pool_outage.clear()
    yield
    pool.forget_view()
    pool.pool_outage.clear()


def answer(model: str = DEFAULT_MODEL) -> tuple[str, str]:
    """One whole streamed answer: the server that gave it and its text."""

    async def run() -> tuple[str, str]:
        stream = await open_chat_stream(model=model, messages=HELLO)
        try:
            text = "".join([chunk["message"]["content"] async for chunk in stream])
        finally:
            await stream.aclose()
        return stream.server, text  # type: ignore[attr-defined]

    return run_in_server_thread(run)


def chats(server) -> int:
    return len(server.chat_requests)


def test_server_urls_come_from_ollama_urls_or_the_one_ollama_url(settings):
    settings.OLLAMA_URL = "http://one:11434/"
    settings.OLLAMA_URLS = []
    assert pool.server_urls() == ["http://one:11434"]

    settings.OLLAMA_URLS = ["http://a:1/", " http://b:2", "http://a:1", ""]
    assert pool.server_urls() == ["http://a:1", "http://b:2"]


def test_a_check_stores_health_models_version_and_latency_in_redis(fake_pool):
    # given
    first, second, third = fake_pool
    second.add_model(MISTRAL)
    third.stop()

    # when
    snapshot = pool.refresh_servers(force=True)

    # then
    states = {state.url: state for state in snapshot.states}
    assert states[first.url].status == "healthy"
    assert states[second.url].models == (DEFAULT_MODEL, MISTRAL)
    assert states[second.url].version
    assert states[second.url].latency_ms is not None
    assert states[third.url].status == "down"
    assert states[third.url].last_error
    assert states[third.url].failures == 1
    assert snapshot.holders(MISTRAL) == [second.url]
    stored = pool.stored_states()
    assert stored is not None
    assert stored[second.url].models == (DEFAULT_MODEL, MISTRAL)
    assert stored[third.url].status == "down"


def test_a_server_down_is_checked_again_after_a_backoff_that_doubles(fake_pool, settings):
    # given
    settings.OLLAMA_POOL_BACKOFF_SECONDS = 2
    down = fake_pool[2]
    down.stop()

    # when
    first = pool.refresh_servers(force=True).states[2]
    not_due = pool.refresh_servers().states[2]  # within its backoff: not checked again
    second = pool.refresh_servers(force=True).states[2]

    # then
    assert first.next_check_at - first.checked_at == pytest.approx(2, abs=0.1)
    assert not_due == first
    assert second.failures == 2
    assert second.next_check_at - second.checked_at == pytest.approx(4, abs=0.1)


def test_a_chat_goes_to_the_server_that_has_the_model(fake_pool):
    # given
    first, second, third = fake_pool
    second.add_model(MISTRAL)
    pool.refresh_servers(force=True)

    # when
    server, text = answer(MISTRAL)

    # then
    assert server == second.url
    assert text == "".join(DEFAULT_REPLY)
    assert (chats(first), chats(second), chats(third)) == (0, 1, 0)


def test_without_any_stored_state_the_servers_are_tried_until_one_has_the_model(fake_pool):
    # given: nothing checked yet (a fresh deployment, before the first background check)
    _first, _second, third = fake_pool
    third.add_model(MISTRAL)

    # when
    server, _ = answer(MISTRAL)

    # then: the others answered 404 quickly and were passed over
    assert server == third.url
    assert chats(third) == 1


def test_the_server_with_the_fewest_requests_in_flight_takes_the_next_one(fake_pool):
    # given
    first, second, third = fake_pool
    pool.refresh_servers(force=True)  # all three have DEFAULT_MODEL

    async def run() -> tuple[list[str], list[str], dict[str, int]]:
        opened = [await open_chat_stream(model=DEFAULT_MODEL, messages=HELLO) for _ in range(4)]
        during = pool.snapshot(refresh=False).in_flight
        await opened[1].aclose()  # the second server has one fewer now
        after = await open_chat_stream(model=DEFAULT_MODEL, messages=HELLO)
        servers = [stream.server for stream in opened]  # type: ignore[attr-defined]
        for stream in [*opened, after]:
            await stream.aclose()
        return servers, [after.server], during  # type: ignore[attr-defined]

    # when
    servers, after, in_flight = run_in_server_thread(run)

    # then: 1, 2, 3 in turn (ties go by order), then the first again (1-1-1 tie); after the second
    # server's stream ended it is the one with the fewest
    urls = [first.url, second.url, third.url]
    assert servers == [first.url, second.url, third.url, first.url]
    assert in_flight == {first.url: 2, second.url: 1, third.url: 1}
    assert after == [second.url]
    assert pool.snapshot(refresh=False).in_flight == dict.fromkeys(urls, 0)


def test_in_flight_counts_are_shared_through_redis_and_a_crashed_workers_expire(fake_pool):
    # given: another worker has two requests on the first server, a crashed one three on the second
    first, second, third = fake_pool
    pool.refresh_servers(force=True)
    redis = get_redis_connection("default")
    redis.hset(pool.inflight_key(first.url), "other-worker", 2)
    redis.set(pool.worker_key_prefix() + "other-worker", 1, ex=60)
    redis.hset(pool.inflight_key(second.url), "crashed-worker", 3)  # its key has expired

    # when
    servers = [answer()[0] for _ in range(2)]

    # then: the second server counts as idle, the first as busy
    assert servers == [second.url, second.url]
    assert pool.snapshot(refresh=False).in_flight == {first.url: 2, second.url: 0, third.url: 0}
    assert redis.hget(pool.inflight_key(second.url), "crashed-worker") is None


def test_a_stopped_server_costs_no_failed_request_and_is_marked_down(fake_pool):
    # given: every server has the model and was healthy at the last check; then the first one stops
    first, second, _third = fake_pool
    pool.refresh_servers(force=True)
    first.stop()

    # when
    server, text = answer()

    # then
    assert server == second.url
    assert text == "".join(DEFAULT_REPLY)
    stored = pool.stored_states()
    assert stored is not None
    assert stored[first.url].status == "down"
    assert stored[first.url].failures == 1

    # and the next requests leave it alone during its backoff
    assert first.url not in {answer()[0] for _ in range(3)}
    stored = pool.stored_states()
    assert stored is not None
    assert stored[first.url].failures == 1


def test_a_server_answering_500_before_the_first_token_passes_the_request_on(fake_pool):
    # given
    first, second, _ = fake_pool
    pool.refresh_servers(force=True)
    first.fail(500, "out of memory")

    # when
    server, _ = answer()

    # then
    assert server == second.url
    assert chats(first) == 1
    stored = pool.stored_states()
    assert stored is not None
    assert "out of memory" in stored[first.url].last_error


def test_a_model_no_server_has_is_a_409_naming_it(fake_pool):
    pool.refresh_servers(force=True)

    with pytest.raises(Conflict) as raised:
        answer("ghost:1b")

    assert raised.value.code == "model_not_installed"
    assert "'ghost:1b'" in raised.value.message
    assert "any Ollama server" in raised.value.message


def test_a_model_only_a_stopped_server_had_is_a_409_while_the_others_answer(fake_pool):
    # given
    _first, _second, third = fake_pool
    third.add_model(MISTRAL)
    pool.refresh_servers(force=True)
    third.stop()

    # when / then
    with pytest.raises(Conflict) as raised:
        answer(MISTRAL)
    assert raised.value.code == "model_not_installed"


def test_every_server_down_is_a_503(fake_pool):
    pool.refresh_servers(force=True)
    for server in fake_pool:
        server.stop()

    with pytest.raises(ServiceUnavailable) as raised:
        answer()

    assert raised.value.code == "ollama_unavailable"


def test_with_redis_down_servers_are_tried_in_order_and_the_outage_logged_once(fake_pool, settings, caplog):
    # given
    first, _second, third = fake_pool
    third.add_model(MISTRAL)
    point_cache_at(settings, closed_port())
    first.stop()

    # when
    with caplog.at_level(logging.WARNING, logger="core.ollama.pool"):
        results = [answer(MISTRAL) for _ in range(3)]

    # then
    assert [server for server, _ in results] == [third.url] * 3
    assert all(text == "".join(DEFAULT_REPLY) for _, text in results)
    outages = [r for r in caplog.records if "Ollama pool state (Redis) unavailable" in r.getMessage()]
    assert len(outages) == 1


def test_the_pool_of_one_server_is_the_one_ollama_url(fake_ollama):
    # given: OLLAMA_URLS unset
    # when
    server, text = async_to_sync(_first_server)()

    # then
    assert server == fake_ollama.url
    assert text == "".join(DEFAULT_REPLY)


async def _first_server() -> tuple[str, str]:
    stream = await open_chat_stream(model=DEFAULT_MODEL, messages=HELLO)
    try:
        return stream.server, "".join([c["message"]["content"] async for c in stream])  # type: ignore[attr-defined]
    finally:
        await stream.aclose()


@pytest.mark.django_db
def test_a_message_sent_through_the_api_is_answered_by_a_server_that_has_the_model(
    api_client, user, fake_pool
):
    # given: the conversation's model is on the second and third servers; the second has stopped
    from tests.conversations_app.factories import ConversationFactory

    first, second, third = fake_pool
    conversation = ConversationFactory(owner=user)
    second.add_model(conversation.model_name)
    third.add_model(conversation.model_name)
    pool.refresh_servers(force=True)
    second.stop()

    # when
    response = api_client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/", {"content": "Hi"}, format="json"
    )

    # then
    assert response.status_code == 201
    assert response.json()["response"]["content"] == "".join(DEFAULT_REPLY)
    assert (chats(first), chats(third)) == (0, 1)


@pytest.mark.django_db
def test_a_message_for_a_model_no_server_has_is_a_409_through_the_api(api_client, user, fake_pool):
    from tests.conversations_app.factories import ConversationFactory

    conversation = ConversationFactory(owner=user)

    response = api_client.post(
        f"/api/v1/conversations/{conversation.pk}/messages/", {"content": "Hi"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "model_not_installed"
    assert sum(chats(server) for server in fake_pool) == 3  # each one asked once, none twice


def test_choosing_a_server_costs_one_redis_round_trip_that_also_refreshes_the_view(
    fake_pool, monkeypatch, settings
):
    # given: the view is due on every request, and this process has routed once (view loaded)
    settings.OLLAMA_POOL_VIEW_SECONDS = 0
    first, _second, third = fake_pool
    pool.refresh_servers(force=True)
    answer()
    commands: list[str] = []
    execute = aioredis.Redis.execute_command

    async def counted(self, *args, **kwargs):
        commands.append(str(args[0]))
        return await execute(self, *args, **kwargs)

    monkeypatch.setattr(aioredis.Redis, "execute_command", counted)

    def route(model: str) -> tuple[list[str], str]:
        async def run() -> tuple[list[str], str]:
            commands.clear()
            stream = await open_chat_stream(model=model, messages=HELLO)
            before_the_answer = list(commands)
            await stream.aclose()
            return before_the_answer, stream.server  # type: ignore[attr-defined]

        return run_in_server_thread(run)

    # when / then: one script picks the server and reads the servers' states along
    assert route(DEFAULT_MODEL) == (["EVALSHA"], first.url)

    # when another worker's check finds a model on the third server, the view read with the choice
    # sends the request there at once (choosing again), not to servers that lack it
    third.add_model(MISTRAL)
    pool.refresh_servers(force=True, urls=[third.url])
    _, server = route(MISTRAL)
    assert server == third.url
    assert [chats(server) for server in fake_pool] == [2, 0, 1]  # the first: the two above
