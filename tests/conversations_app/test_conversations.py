"""Conversations: create with a published model, list by last activity with filters and cursors,
update with If-Match (title, system prompt, options, pin, archive, folder, model), delete to the trash."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers as drf_serializers
from rest_framework.renderers import JSONRenderer

from conversations_app.api.serializers import ConversationSerializer
from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse
from tests.admin_app.factories import SystemMessageFactory
from tests.conversations_app.factories import ConversationFactory, ExchangeFactory, FolderFactory
from tests.conversations_app.resources import AUTH_QUERIES, BASE, add_exchange, assert_error
from tests.models_app.factories import AIModelFactory

pytestmark = pytest.mark.django_db


def detail(conversation) -> str:
    return f"{BASE}{conversation.pk}/"


@pytest.fixture
def model(db):
    return AIModelFactory(name="llama3.2:3b")


def test_create_with_a_published_model(api_client, user, model):
    # given
    folder = FolderFactory(owner=user)

    # when
    response = api_client.post(
        BASE,
        {
            "model": str(model.pk),
            "title": "Trip planning",
            "system_prompt": "Answer in French.",
            "default_options": {"temperature": 0.2, "num_predict": 256, "stop": ["###"]},
            "folder": str(folder.pk),
            "is_pinned": True,
        },
        format="json",
    )

    # then
    assert response.status_code == 201
    body = response.json()
    assert body["title"] == "Trip planning"
    assert body["model"] == str(model.pk)
    assert body["model_name"] == "llama3.2:3b"
    assert body["default_options"] == {"temperature": 0.2, "num_predict": 256, "stop": ["###"]}
    assert body["folder"] == str(folder.pk)
    assert body["is_pinned"] is True
    assert body["current_exchange"] is None
    assert response["ETag"] == '"1"'
    conversation = Conversation.objects.get(pk=body["id"])
    assert conversation.owner == user
    assert conversation.system_prompt == "Answer in French."


def test_create_with_an_active_system_message(api_client, model):
    message = SystemMessageFactory()

    response = api_client.post(
        BASE, {"model": str(model.pk), "system_message": str(message.pk)}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["system_message"] == str(message.pk)
    assert response.json()["system_prompt"] == ""


@pytest.mark.parametrize("name", ["llama3.2:3b", "Llama3.2:3B", " llama3.2:3b "])
def test_create_with_the_model_named_as_ollama_names_it(api_client, user, model, name):
    AIModelFactory(name="llama3.2:1b")

    response = api_client.post(BASE, {"model": name, "title": "By name"}, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["model"], response.json()["model_name"]) == (str(model.pk), "llama3.2:3b")
    assert Conversation.objects.get(owner=user).model == model


def test_create_with_a_model_name_without_a_tag_means_latest(api_client, user):
    latest = AIModelFactory(name="mistral:latest")
    AIModelFactory(name="mistral:7b")

    response = api_client.post(BASE, {"model": "mistral"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["model"] == str(latest.pk)


@pytest.mark.parametrize(
    "make_model",
    [
        lambda: AIModelFactory(name="hidden:1b", is_active=False),
        lambda: AIModelFactory(name="gone:1b", deleted_at=timezone.now()),
    ],
)
def test_create_with_the_name_of_an_unpublished_deleted_or_unknown_model_is_400(api_client, user, make_model):
    names = [make_model().name, "nobody-has:this"]

    responses = [api_client.post(BASE, {"model": name}, format="json") for name in names]

    assert all("model" in assert_error(response, 400)["fields"] for response in responses)
    assert not Conversation.all_objects.filter(owner=user).exists()


@pytest.mark.parametrize(
    ("make_model", "field"),
    [
        (lambda: AIModelFactory(is_active=False), "model"),
        (lambda: AIModelFactory(deleted_at=timezone.now()), "model"),
    ],
)
def test_create_with_an_unpublished_or_deleted_model_is_400(api_client, user, make_model, field):
    response = api_client.post(BASE, {"model": str(make_model().pk)}, format="json")

    assert field in assert_error(response, 400)["fields"]
    assert not Conversation.all_objects.filter(owner=user).exists()


@pytest.mark.parametrize(
    "make_message",
    [
        lambda: SystemMessageFactory(is_active=False),
        lambda: SystemMessageFactory(deleted_at=timezone.now()),
    ],
)
def test_create_with_an_inactive_or_deleted_system_message_is_400(api_client, user, model, make_message):
    response = api_client.post(
        BASE, {"model": str(model.pk), "system_message": str(make_message().pk)}, format="json"
    )

    assert "system_message" in assert_error(response, 400)["fields"]
    assert not Conversation.all_objects.filter(owner=user).exists()


MODEL, SYSMSG, FOREIGN_FOLDER = "<model>", "<system message>", "<another user's folder>"


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "No model"},
        {"model": None},
        {"model": "not-a-uuid"},
        {"model": "00000000-0000-0000-0000-000000000000"},
        {"model": ""},
        {"model": 42},
        {"model": ["llama3.2:3b"]},
        {"model": "x" * 201},
        {"model": MODEL, "title": "x" * 256},
        {"model": MODEL, "title": 12, "default_options": []},
        {"model": MODEL, "system_prompt": "x" * 20_001},
        {"model": MODEL, "system_prompt": "Be brief", "system_message": SYSMSG},
        {"model": MODEL, "default_options": {"temperature": 3}},
        {"model": MODEL, "default_options": {"temperature": -0.1}},
        {"model": MODEL, "default_options": {"temperature": "hot"}},
        {"model": MODEL, "default_options": {"temperature": True}},
        {"model": MODEL, "default_options": {"num_predict": 0}},
        {"model": MODEL, "default_options": {"top_p": 1.5}},
        {"model": MODEL, "default_options": {"stop": "###"}},
        {"model": MODEL, "default_options": {"warmth": 1}},
        {"model": MODEL, "default_options": "hot"},
        {"model": MODEL, "folder": FOREIGN_FOLDER},
        {"model": MODEL, "folder": "00000000-0000-0000-0000-000000000000"},
        {"model": MODEL, "is_pinned": "sometimes"},
        {"model": MODEL, "owner": "someone"},
    ],
)
def test_create_with_bad_input_is_400_and_writes_nothing(api_client, user, other_user, model, payload):
    # given
    placeholders = {
        MODEL: lambda: str(model.pk),
        SYSMSG: lambda: str(SystemMessageFactory().pk),
        FOREIGN_FOLDER: lambda: str(FolderFactory(owner=other_user).pk),
    }
    payload = {
        key: placeholders[value]() if isinstance(value, str) and value in placeholders else value
        for key, value in payload.items()
    }

    # when
    response = api_client.post(BASE, payload, format="json")

    # then
    assert_error(response, 400)
    assert not Conversation.all_objects.filter(owner=user).exists()


def test_list_orders_by_last_activity_and_shows_only_own_alive(api_client, user, other_user):
    now = timezone.now()
    old = ConversationFactory(owner=user, last_message_at=now - timedelta(days=2))
    recent = ConversationFactory(owner=user, last_message_at=now)
    middle = ConversationFactory(owner=user, last_message_at=now - timedelta(days=1))
    ConversationFactory(owner=user, deleted_at=now)
    ConversationFactory(owner=other_user, last_message_at=now)

    response = api_client.get(BASE)

    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [str(recent.pk), str(middle.pk), str(old.pk)]


def test_list_pages_with_cursors(api_client, user):
    now = timezone.now()
    conversations = [
        ConversationFactory(owner=user, last_message_at=now - timedelta(minutes=n)) for n in range(5)
    ]

    first = api_client.get(BASE, {"page_size": 3}).json()
    second = api_client.get(first["next"]).json()

    seen = [c["id"] for c in first["results"] + second["results"]]
    assert seen == [str(c.pk) for c in conversations]
    assert second["next"] is None


def test_list_filters(api_client, user):
    folder = FolderFactory(owner=user)
    other_model = AIModelFactory()
    in_folder = ConversationFactory(owner=user, folder=folder)
    pinned = ConversationFactory(owner=user, is_pinned=True)
    archived = ConversationFactory(owner=user, is_archived=True)
    with_model = ConversationFactory(owner=user, model=other_model)

    def ids(**params):
        return {c["id"] for c in api_client.get(BASE, params).json()["results"]}

    assert ids(folder=str(folder.pk)) == {str(in_folder.pk)}
    assert ids(unfiled="true") == {str(pinned.pk), str(archived.pk), str(with_model.pk)}
    assert ids(pinned="true") == {str(pinned.pk)}
    assert ids(archived="true") == {str(archived.pk)}
    assert str(archived.pk) not in ids(archived="false")
    assert ids(model=str(other_model.pk)) == {str(with_model.pk)}


@pytest.mark.parametrize(
    "params", [{"pinned": "perhaps"}, {"folder": "x"}, {"model": "1"}, {"page_size": "x"}]
)
def test_list_with_bad_filters_is_400(api_client, user, params):
    ConversationFactory(owner=user)
    response = api_client.get(BASE, params)
    if "page_size" in params:  # an unusable page size falls back to the default, as DRF does
        assert response.status_code == 200
    else:
        assert_error(response, 400, "invalid")


@pytest.mark.parametrize("page_size", [5, 50])
def test_list_query_count_does_not_grow_with_page_size(
    api_client, user, page_size, django_assert_num_queries
):
    folder = FolderFactory(owner=user)
    for _ in range(page_size + 1):
        conversation = ConversationFactory(owner=user, folder=folder, system_message=SystemMessageFactory())
        add_exchange(conversation)

    with django_assert_num_queries(AUTH_QUERIES + 1):
        response = api_client.get(BASE, {"page_size": page_size})

    assert len(response.json()["results"]) == page_size


def test_detail_with_etag_in_constant_queries(api_client, user, django_assert_num_queries):
    conversation = ConversationFactory(owner=user)

    with django_assert_num_queries(AUTH_QUERIES + 1):
        response = api_client.get(detail(conversation))

    assert response.status_code == 200
    assert response.json()["id"] == str(conversation.pk)
    assert response["ETag"] == '"1"'


def test_update_title_pin_archive_and_options(api_client, user):
    conversation = ConversationFactory(owner=user, title="Old")

    response = api_client.patch(
        detail(conversation),
        {"title": "New", "is_pinned": True, "is_archived": True, "default_options": {"seed": 42}},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    conversation.refresh_from_db()
    assert (conversation.title, conversation.is_pinned, conversation.is_archived) == ("New", True, True)
    assert conversation.default_options == {"seed": 42}


def test_choosing_a_system_message_clears_the_free_text_prompt_and_back(api_client, user):
    conversation = ConversationFactory(owner=user, system_prompt="Be terse.")
    message = SystemMessageFactory()

    chosen = api_client.patch(detail(conversation), {"system_message": str(message.pk)}, format="json").json()
    typed = api_client.patch(detail(conversation), {"system_prompt": "Be kind."}, format="json").json()

    assert (chosen["system_message"], chosen["system_prompt"]) == (str(message.pk), "")
    assert (typed["system_message"], typed["system_prompt"]) == (None, "Be kind.")


def test_changing_the_model_updates_its_name(api_client, user):
    conversation = ConversationFactory(owner=user)
    other = AIModelFactory(name="qwen2.5:7b")

    response = api_client.patch(detail(conversation), {"model": str(other.pk)}, format="json")

    assert response.json()["model_name"] == "qwen2.5:7b"


def test_changing_the_model_by_its_ollama_name(api_client, user):
    conversation = ConversationFactory(owner=user)
    other = AIModelFactory(name="qwen2.5:7b")

    response = api_client.patch(detail(conversation), {"model": "qwen2.5:7b"}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["model"], response.json()["model_name"]) == (str(other.pk), "qwen2.5:7b")
    conversation.refresh_from_db()
    assert conversation.model == other


def test_changing_to_an_unknown_model_name_is_400_and_changes_nothing(api_client, user):
    conversation = ConversationFactory(owner=user)
    before = conversation.model_id

    response = api_client.patch(detail(conversation), {"model": "nobody-has:this"}, format="json")

    assert "model" in assert_error(response, 400)["fields"]
    conversation.refresh_from_db()
    assert (conversation.model_id, conversation.version) == (before, 1)


def test_update_with_a_stale_if_match_is_412_and_changes_nothing(api_client, user):
    conversation = ConversationFactory(owner=user, title="Mine")
    api_client.patch(detail(conversation), {"title": "Theirs"}, format="json", HTTP_IF_MATCH='"1"')

    response = api_client.patch(detail(conversation), {"title": "Stale"}, format="json", HTTP_IF_MATCH='"1"')

    assert_error(response, 412, "stale_version")
    conversation.refresh_from_db()
    assert (conversation.title, conversation.version) == ("Theirs", 2)


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "x" * 256},
        {"model": "00000000-0000-0000-0000-000000000000"},
        {"model": None},
        {"default_options": {"temperature": 2.5}},
        {"default_options": {"unknown": 1}},
        {"is_archived": "maybe"},
        {"folder": "00000000-0000-0000-0000-000000000000"},
        {"system_message": "00000000-0000-0000-0000-000000000000"},
        {"last_message_at": "2020-01-01T00:00:00Z"},
    ],
)
def test_update_with_bad_input_is_400_and_changes_nothing(api_client, user, payload):
    conversation = ConversationFactory(owner=user, title="Kept")

    assert_error(api_client.patch(detail(conversation), payload, format="json"), 400)
    conversation.refresh_from_db()
    assert (conversation.title, conversation.version, conversation.folder_id) == ("Kept", 1, None)


def test_move_between_folders(api_client, user):
    conversation = ConversationFactory(owner=user)
    folder = FolderFactory(owner=user)

    into = api_client.post(f"{detail(conversation)}move/", {"folder": str(folder.pk)}, format="json")
    out = api_client.post(
        f"{detail(conversation)}move/", {"folder": None}, format="json", HTTP_IF_MATCH='"2"'
    )

    assert into.json()["folder"] == str(folder.pk)
    assert out.status_code == 200
    assert out.json()["folder"] is None


def test_move_into_another_users_folder_is_400(api_client, user, other_user):
    conversation = ConversationFactory(owner=user)
    theirs = FolderFactory(owner=other_user)

    response = api_client.post(f"{detail(conversation)}move/", {"folder": str(theirs.pk)}, format="json")

    assert "folder" in assert_error(response, 400)["fields"]
    conversation.refresh_from_db()
    assert conversation.folder_id is None


def test_delete_moves_the_conversation_and_its_exchanges_to_the_trash(api_client, user):
    conversation = ConversationFactory(owner=user)
    exchange = add_exchange(conversation)

    response = api_client.delete(detail(conversation))

    assert response.status_code == 204
    assert_error(api_client.get(detail(conversation)), 404)
    assert Conversation.all_objects.get(pk=conversation.pk).deleted_at is not None
    assert ConversationPromptResponse.all_objects.get(pk=exchange.pk).deleted_at is not None
    assert AIResponse.all_objects.get(pk=exchange.response_id).deleted_at is not None


def test_delete_with_a_stale_if_match_is_412(api_client, user):
    conversation = ConversationFactory(owner=user)

    assert_error(api_client.delete(detail(conversation), HTTP_IF_MATCH='"3"'), 412)
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_another_users_conversation_is_404_for_every_action_and_unchanged(api_client, other_user):
    theirs = ConversationFactory(owner=other_user, title="Theirs")
    add_exchange(theirs)

    responses = [
        api_client.get(detail(theirs)),
        api_client.patch(detail(theirs), {"title": "Mine"}, format="json"),
        api_client.post(f"{detail(theirs)}move/", {"folder": None}, format="json"),
        api_client.delete(detail(theirs)),
        api_client.get(f"{detail(theirs)}usage/"),
        api_client.get(f"{detail(theirs)}export/"),
        api_client.get(f"{detail(theirs)}export/", {"format": "markdown"}),
    ]

    for response in responses:
        assert_error(response, 404)
    theirs.refresh_from_db()
    assert (theirs.title, theirs.version, theirs.deleted_at) == ("Theirs", 1, None)


def test_anonymous_caller_gets_401(anon_client, user, model):
    conversation = ConversationFactory(owner=user)

    for response in [
        anon_client.get(BASE),
        anon_client.post(BASE, {"model": str(model.pk)}, format="json"),
        anon_client.get(detail(conversation)),
        anon_client.patch(detail(conversation), {"title": "x"}, format="json"),
        anon_client.post(f"{detail(conversation)}move/", {"folder": None}, format="json"),
        anon_client.delete(detail(conversation)),
    ]:
        assert_error(response, 401)
    assert Conversation.objects.filter(owner=user).count() == 1


@pytest.mark.parametrize("payload", [{}, {"folder": "x"}, {"folder": None, "title": "Renamed"}])
def test_move_with_bad_input_is_400_and_changes_nothing(api_client, user, payload):
    conversation = ConversationFactory(owner=user, title="Kept")

    assert_error(api_client.post(f"{detail(conversation)}move/", payload, format="json"), 400)
    conversation.refresh_from_db()
    assert (conversation.title, conversation.version) == ("Kept", 1)


def test_a_conversation_is_written_exactly_as_drfs_own_serializer_writes_it(api_client, user):
    # given: a conversation with every kind of field set (foreign keys, options, instants)
    conversation = ConversationFactory(
        owner=user, folder=FolderFactory(owner=user), default_options={"temperature": 0.5}
    )
    exchange = ExchangeFactory(conversation=conversation)
    Conversation.objects.filter(pk=conversation.pk).update(current_exchange=exchange)
    conversation.refresh_from_db()

    class Generic(drf_serializers.ModelSerializer):
        Meta = ConversationSerializer.Meta

    expected = json.loads(JSONRenderer().render(Generic(conversation).data))

    # when
    listed = api_client.get("/api/v1/conversations/").json()["results"]
    detail = api_client.get(f"/api/v1/conversations/{conversation.pk}/").json()

    # then: the written-out rows are what DRF's field-by-field serialization gives
    assert listed == [expected]
    assert detail == expected
