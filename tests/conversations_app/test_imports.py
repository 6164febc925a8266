"""Import of other applications' exports (Open WebUI, ChatGPT, LibreChat) and of OllamaNet's own:
branches kept exchange by exchange, idempotent re-import, bad files and bad conversations."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, TransferJob
from models_app.models import AIModel
from tests.conversations_app.resources import AUTH_QUERIES, BASE, assert_error
from tests.models_app.factories import AIModelFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "import_fixtures"
IMPORT_URL = f"{BASE}import/"


def upload(client, content: bytes, name: str = "export.json"):
    return client.post(IMPORT_URL, {"file": SimpleUploadedFile(name, content)}, format="multipart")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def tree(conversation: Conversation) -> list[tuple]:
    """The conversation's exchanges as (position, parent's answer, prompt, answer, status), sorted."""
    rows = ConversationPromptResponse.objects.filter(conversation=conversation).select_related(
        "prompt", "response", "parent__response"
    )
    return sorted(
        (
            e.position,
            e.parent.response.content if e.parent else None,
            e.prompt.content,
            e.response.content,
            e.response.status,
        )
        for e in rows
    )


def current_answer(conversation: Conversation) -> str:
    conversation.refresh_from_db()
    assert conversation.current_exchange is not None
    return conversation.current_exchange.response.content


def test_open_webui_export_keeps_every_branch(api_client, user):
    # given: a catalogue with one of the two models
    AIModelFactory(name="llama3.2:3b", is_active=True)

    # when
    response = upload(api_client, fixture("open_webui.json"))

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["source_format"], body["counts"]) == (
        "succeeded",
        "open_webui",
        {"created": 2},
    )
    paris = Conversation.objects.get(owner=user, import_source_id="5c6b3f0e-8d7a-4e21-9a55-0f1e2d3c4b5a")
    assert (paris.title, paris.is_pinned, paris.is_archived, paris.model_name) == (
        "Voyage à Paris 🗼",
        True,
        False,
        "llama3.2:3b",
    )
    assert paris.created_at == dt.datetime.fromtimestamp(1714000000, tz=dt.UTC)
    second = "Croissant au café ☕, puis la tour Eiffel."
    assert tree(paris) == [
        (0, None, "Plan a day in Paris", "Croissant au café ☕, puis la tour Eiffel.", "complete"),
        (0, None, "Plan a day in Paris", "Morning at the Louvre, afternoon in Montmartre.", "complete"),
        (1, second, "Where to eat cheaply?", "The Latin Quarter: crêpes for 5 €.", "complete"),
        (1, second, "Where to eat?", "Le Marais has great falafel.", "complete"),
    ]
    assert current_answer(paris) == "The Latin Quarter: crêpes for 5 €."
    assert paris.message_count == 8
    # the unknown model is kept by name, on an unpublished placeholder
    quick = Conversation.objects.get(owner=user, title="Quick question")
    assert quick.is_archived is True
    placeholder = AIModel.objects.get(name="mistral:7b")
    assert (quick.model_id, placeholder.is_active) == (placeholder.pk, False)


def test_chatgpt_export_skips_hidden_nodes_and_reports_a_bad_conversation(api_client, user):
    # when
    response = upload(api_client, fixture("chatgpt.json"), name="conversations.json")

    # then: the good conversation is imported, the bad one skipped with its reason
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["counts"] == {"created": 1, "skipped": 1}
    skipped = [r for r in body["results"] if r["status"] == "skipped"]
    assert skipped[0]["source_id"] == "0b5c0a3e-0000-4000-8000-000000000001"
    assert "not an object" in skipped[0]["reason"]
    assert Conversation.objects.filter(owner=user).count() == 1
    conversation = Conversation.objects.get(owner=user)
    greeting = "こんにちは！何かお手伝いできますか？"
    assert tree(conversation) == [
        (0, None, "hi there — 日本語で答えて", greeting, "complete"),
        (
            1,
            greeting,
            "so cool bro",
            "Once upon a time, in a small village nestled between rolling",
            "interrupted",
        ),
        (1, greeting, "tell me a joke", "I told a chemistry joke once. There was no reaction.", "complete"),
        (
            1,
            greeting,
            "tell me a joke",
            "Why don't scientists trust atoms? Because they make up everything!",
            "complete",
        ),
    ]
    assert current_answer(conversation) == "I told a chemistry joke once. There was no reaction."
    assert conversation.model_name == "gpt-4o:latest"
    assert conversation.system_prompt == ""


def test_librechat_tree_export(api_client, user):
    response = upload(api_client, fixture("librechat.json"))

    assert response.status_code == 201, response.content
    conversation = Conversation.objects.get(owner=user)
    first = "About 8.2 L/100 km combined."
    assert tree(conversation) == [
        (0, None, "What is the fuel consumption of a VW Transporter?", first, "complete"),
        (
            0,
            None,
            "What is the fuel consumption of a VW Transporter?",
            "Roughly 7–9 L/100 km, more when fully loaded.",
            "complete",
        ),
        (1, first, "What about a 10 year old model?", "The 2014 TDI340: 8.2 L/100 km combined.", "complete"),
    ]
    # LibreChat shows the newest branch
    assert current_answer(conversation) == "Roughly 7–9 L/100 km, more when fully loaded."
    assert (conversation.title, conversation.system_prompt) == (
        "Fuel consumption ⛽",
        "Answer in metric units.",
    )


def test_importing_the_same_file_again_changes_nothing_and_says_so(api_client, user):
    # given
    upload(api_client, fixture("open_webui.json"))
    before = {c.pk: (tree(c), c.version) for c in Conversation.objects.filter(owner=user)}

    # when
    response = upload(api_client, fixture("open_webui.json"))

    # then
    assert response.status_code == 201
    assert response.json()["counts"] == {"unchanged": 2}
    assert {c.pk: (tree(c), c.version) for c in Conversation.objects.filter(owner=user)} == before


def test_reimport_adds_what_is_new(api_client, user):
    # given
    upload(api_client, fixture("open_webui.json"))
    chats = json.loads(fixture("open_webui.json"))
    messages = chats[1]["chat"]["history"]["messages"]
    messages["r1"]["childrenIds"] = ["q2"]
    messages["q2"] = {
        "id": "q2",
        "parentId": "r1",
        "childrenIds": ["r2"],
        "role": "user",
        "content": "And 3 + 3?",
    }
    messages["r2"] = {"id": "r2", "parentId": "q2", "childrenIds": [], "role": "assistant", "content": "6"}
    chats[1]["chat"]["history"]["currentId"] = "r2"
    chats[1]["title"] = "Arithmetic"

    # when
    response = upload(api_client, json.dumps(chats).encode())

    # then
    results = {r["source_id"]: r for r in response.json()["results"]}
    assert results["0e9a5a56-1c59-4a1e-8f0b-7a3c2d1e0f9b"]["status"] == "updated"
    assert results["0e9a5a56-1c59-4a1e-8f0b-7a3c2d1e0f9b"]["exchanges_added"] == 1
    assert results["5c6b3f0e-8d7a-4e21-9a55-0f1e2d3c4b5a"]["status"] == "unchanged"
    quick = Conversation.objects.get(owner=user, import_source_id="0e9a5a56-1c59-4a1e-8f0b-7a3c2d1e0f9b")
    assert quick.title == "Arithmetic"
    assert tree(quick) == [
        (0, None, "What is 2 + 2?", "4", "complete"),
        (1, "4", "And 3 + 3?", "6", "complete"),
    ]
    assert current_answer(quick) == "6"


def test_another_user_imports_the_same_file_separately(api_client, other_client, user, other_user):
    upload(api_client, fixture("librechat.json"))
    response = upload(other_client, fixture("librechat.json"))
    assert response.json()["counts"] == {"created": 1}
    assert Conversation.objects.filter(owner=other_user).count() == 1


@pytest.mark.parametrize(
    "content",
    [b'{"hello": "world"}', b"not json at all", b"[1, 2, 3]", b"", b"\xff\xfe\x00garbage"],
    ids=["unknown-object", "text", "array-of-numbers", "empty", "binary"],
)
def test_a_file_of_another_format_is_a_400_naming_the_expected_formats(api_client, user, content):
    response = upload(api_client, content)

    error = assert_error(response, 400)
    assert error["code"] in ("unknown_import_format", "invalid")
    if content:
        assert "ChatGPT" in error["message"]
    assert not Conversation.objects.filter(owner=user).exists()
    assert not TransferJob.objects.exists()


def test_a_zip_without_an_export_is_a_400(api_client, user):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
        archive.writestr("user.json", '{"email": "a@example.com"}')
    assert_error(upload(api_client, buffer.getvalue(), name="export.zip"), 400, "unknown_import_format")


def test_chatgpt_zip_is_read_from_its_conversations_json(api_client, user):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("user.json", '{"email": "a@example.com"}')
        archive.writestr("conversations.json", fixture("chatgpt.json"))
    response = upload(api_client, buffer.getvalue(), name="chatgpt-export.zip")
    assert response.status_code == 201
    assert response.json()["counts"] == {"created": 1, "skipped": 1}


def test_a_conversation_the_database_refuses_leaves_nothing(api_client, user):
    chats = json.loads(fixture("open_webui.json"))
    chats[1]["chat"]["history"]["messages"]["r1"]["content"] = "bad \u0000 byte"
    response = upload(api_client, json.dumps(chats).encode())

    assert response.json()["counts"] == {"created": 1, "skipped": 1}
    assert Conversation.objects.filter(owner=user).count() == 1
    assert not AIResponse.objects.filter(content__startswith="bad").exists()
    assert not AIModel.objects.filter(name="mistral:7b").exists()  # its placeholder went with it


def test_import_needs_a_file_and_a_signed_in_caller(api_client, anon_client):
    assert_error(api_client.post(IMPORT_URL, {}, format="multipart"), 400)
    assert_error(upload(anon_client, fixture("librechat.json")), 401)


def big_open_webui_export(target_bytes: int) -> bytes:
    """An Open WebUI export of many chats whose messages carry base64 images (as real exports do),
    `target_bytes` in all."""
    image = "iVBORw0KGgo" + "A" * (1024 * 1024)
    chats, size, index = [], 0, 0
    while size < target_bytes:
        chat = {
            "id": f"big-{index}",
            "title": f"Chat {index}",
            "chat": {
                "models": ["llama3.2:3b"],
                "history": {
                    "currentId": "a",
                    "messages": {
                        "u": {
                            "id": "u",
                            "parentId": None,
                            "childrenIds": ["a"],
                            "role": "user",
                            "content": f"Describe picture {index}",
                            "files": [{"type": "image", "url": f"data:image/png;base64,{image}"}],
                            "timestamp": 1714000000 + index,
                        },
                        "a": {
                            "id": "a",
                            "parentId": "u",
                            "childrenIds": [],
                            "role": "assistant",
                            "content": "A cat.",
                        },
                    },
                },
            },
            "created_at": 1714000000 + index,
        }
        encoded = json.dumps(chat)
        chats.append(encoded)
        size += len(encoded) + 2
        index += 1
    return ("[" + ",\n".join(chats) + "]").encode()


def test_a_50_mb_file_is_imported_by_a_background_job(api_client, user, django_capture_on_commit_callbacks):
    # given
    content = big_open_webui_export(50 * 1024 * 1024)
    assert len(content) >= 50 * 1024 * 1024

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api_client, content)

    # then: queued, with a job to poll
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    job = api_client.get(response["Location"])
    assert job.status_code == 200
    body = job.json()
    chats = content.count(b'"id": "big-')
    assert (body["status"], body["processed"], body["counts"]) == ("succeeded", chats, {"created": chats})
    assert Conversation.objects.filter(owner=user).count() == chats
    assert not TransferJob.objects.get().file  # the upload is not kept


def test_the_import_job_is_the_callers_alone(
    api_client, other_client, anon_client, django_assert_num_queries
):
    response = upload(api_client, fixture("librechat.json"))
    url = f"{BASE}imports/{response.json()['id']}/"

    with django_assert_num_queries(AUTH_QUERIES + 1):
        assert api_client.get(url).status_code == 200
    assert_error(other_client.get(url), 404)
    assert_error(anon_client.get(url), 401)
