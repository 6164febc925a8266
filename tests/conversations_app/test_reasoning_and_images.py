"""Reasoning (`think`, the thinking kept apart from the answer) and images sent with a prompt."""

from __future__ import annotations

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conversations_app.models import Attachment, ConversationPromptResponse, Prompt
from tests.conversations_app.chat_client import post_stream
from tests.conversations_app.factories import ConversationFactory
from tests.conversations_app.files import gif_bytes, jpeg_bytes, png_bytes, webp_bytes
from tests.conversations_app.resources import BASE, assert_error
from tests.fakes.ollama import DEFAULT_REPLY, DEFAULT_THINKING
from tests.models_app.factories import AIModelFactory

pytestmark = pytest.mark.django_db

REPLY = "".join(DEFAULT_REPLY)
THINKING = "".join(DEFAULT_THINKING)


@pytest.fixture
def conversation(user, fake_ollama):
    conversation = ConversationFactory(owner=user)
    fake_ollama.add_model(conversation.model_name)
    return conversation


@pytest.fixture
def vision_conversation(user, fake_ollama):
    conversation = ConversationFactory(
        owner=user, model=AIModelFactory(capabilities=["completion", "vision"])
    )
    fake_ollama.add_model(conversation.model_name)
    return conversation


def messages_url(conversation) -> str:
    return f"{BASE}{conversation.pk}/messages/"


def upload(client, conversation, data: bytes, name: str = "picture.png"):
    return client.post(
        f"{BASE}{conversation.pk}/attachments/",
        {"file": SimpleUploadedFile(name, data, "application/octet-stream")},
        format="multipart",
    )


# --- reasoning ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{"think": True}, {"options": {"think": True}}])
def test_think_is_sent_to_ollama_and_the_thinking_kept_apart(api_client, conversation, fake_ollama, body):
    # when
    response = api_client.post(messages_url(conversation), {"content": "Why?", **body}, format="json")

    # then: Ollama was asked to think (top level, not among the generation options)
    assert response.status_code == 201, response.content
    sent = fake_ollama.chat_requests[-1]
    assert sent["think"] is True
    assert "think" not in sent.get("options", {})
    # the thinking is stored apart from the answer, in the 201 body and in the history
    answer = response.json()["response"]
    assert (answer["content"], answer["thinking"]) == (REPLY, THINKING)
    history = api_client.get(messages_url(conversation)).json()["results"]
    assert history[-1]["response"]["thinking"] == THINKING
    assert history[-1]["prompt"]["options"] == {"think": True}


def test_without_think_nothing_is_asked_and_no_thinking_is_stored(api_client, conversation, fake_ollama):
    response = api_client.post(messages_url(conversation), {"content": "Why?"}, format="json")

    assert response.status_code == 201
    assert "think" not in fake_ollama.chat_requests[-1]
    assert response.json()["response"]["thinking"] == ""


def test_thinking_is_never_sent_back_to_the_model(api_client, conversation, fake_ollama):
    # given: an answer with its thinking
    api_client.post(messages_url(conversation), {"content": "First", "think": True}, format="json")

    # when
    api_client.post(messages_url(conversation), {"content": "Second"}, format="json")

    # then: the earlier assistant turn carries the answer only
    messages = fake_ollama.chat_requests[-1]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == REPLY
    assert all(THINKING not in m["content"] and "thinking" not in m for m in messages)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the ASGI app runs in its own thread
def test_thinking_is_streamed_as_its_own_events_before_the_tokens(user, conversation):
    # when
    result = post_stream(messages_url(conversation), user, {"content": "Why?", "stream": True, "think": True})

    # then
    assert result.status_code == 200
    names = result.names()
    assert names == ["start", *["thinking"] * len(DEFAULT_THINKING), *["token"] * len(DEFAULT_REPLY), "done"]
    assert "".join(e.data["content"] for e in result.events if e.event == "thinking") == THINKING
    assert result.text() == REPLY
    response = ConversationPromptResponse.objects.select_related("response").get().response
    assert (response.content, response.thinking) == (REPLY, THINKING)


def test_regenerate_thinks_again_and_can_be_told_to(api_client, conversation, fake_ollama):
    # given
    first = api_client.post(
        messages_url(conversation), {"content": "Why?", "think": True}, format="json"
    ).json()
    url = f"{BASE}{conversation.pk}/exchanges/{first['id']}/regenerate/"

    # when: asked again as it was, then without thinking
    again = api_client.post(url, {}, format="json")
    plain = api_client.post(url, {"think": False}, format="json")

    # then
    assert again.json()["response"]["thinking"] == THINKING
    assert [body.get("think") for body in fake_ollama.chat_requests] == [True, True, False]
    assert plain.json()["response"]["thinking"] == ""


@pytest.mark.parametrize("think", ["maybe", 2, None, [True]])
def test_a_think_that_is_not_a_boolean_is_400_and_writes_nothing(api_client, conversation, think):
    response = api_client.post(messages_url(conversation), {"content": "Why?", "think": think}, format="json")

    assert_error(response, 400)
    assert "think" in response.json()["error"]["fields"]
    assert not Prompt.all_objects.exists()


# --- images ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png_bytes(), "image/png"),
        (jpeg_bytes(), "image/jpeg"),
        (webp_bytes(), "image/webp"),
        (gif_bytes(), "image/gif"),
    ],
)
def test_images_are_accepted_for_a_model_with_vision(api_client, vision_conversation, data, expected):
    response = upload(api_client, vision_conversation, data, name="picture.bin")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content_type"] == expected
    attachment = Attachment.objects.get(pk=body["id"])
    # no text to extract: done at once, with no text
    assert (attachment.processing_status, attachment.extracted_text) == ("done", "")


def test_an_image_for_a_model_without_vision_is_409_and_stores_nothing(api_client, conversation):
    response = upload(api_client, conversation, png_bytes())

    assert_error(response, 409, "model_without_vision")
    assert "cannot read images" in response.json()["error"]["message"]
    assert not Attachment.all_objects.exists()


def test_an_image_over_the_limit_is_413(api_client, vision_conversation, settings):
    settings.ATTACHMENT_MAX_BYTES = len(png_bytes()) - 1

    response = upload(api_client, vision_conversation, png_bytes())

    assert_error(response, 413, "too_large")
    assert not Attachment.all_objects.exists()


def test_images_go_base64_with_their_prompt_only(api_client, vision_conversation, fake_ollama):
    # given: two images and a document
    png = upload(api_client, vision_conversation, png_bytes()).json()["id"]
    gif = upload(api_client, vision_conversation, gif_bytes(), name="a.gif").json()["id"]
    api_client.post(
        f"{BASE}{vision_conversation.pk}/attachments/",
        {"file": SimpleUploadedFile("notes.txt", b"Some notes.", "text/plain")},
        format="multipart",
    )
    Attachment.objects.filter(content_type="text/plain").update(
        extracted_text="Some notes.", processing_status="done"
    )

    # when
    first = api_client.post(
        messages_url(vision_conversation), {"content": "What is this?", "images": [png, gif]}, format="json"
    )
    api_client.post(messages_url(vision_conversation), {"content": "And now?"}, format="json")

    # then: the images went, base64, with their prompt; the next prompt carried none
    assert first.status_code == 201, first.content
    with_images, without = fake_ollama.chat_requests
    question = with_images["messages"][-1]
    assert question["content"] == "What is this?"
    assert question["images"] == [
        base64.b64encode(png_bytes()).decode(),
        base64.b64encode(gif_bytes()).decode(),
    ]
    assert all("images" not in m for m in without["messages"])
    # images are never documents: only the text file is in the context
    assert [d["name"] for d in first.json()["prompt"]["documents"]] == ["notes.txt"]
    assert all("PNG" not in m["content"] for m in with_images["messages"])
    prompt = Prompt.objects.get(content="What is this?")
    assert prompt.image_count == 2
    assert set(map(str, prompt.images.values_list("pk", flat=True))) == {png, gif}


def test_regenerate_and_edit_send_the_images_again(api_client, vision_conversation, fake_ollama):
    # given
    png = upload(api_client, vision_conversation, png_bytes()).json()["id"]
    first = api_client.post(
        messages_url(vision_conversation), {"content": "What is this?", "images": [png]}, format="json"
    ).json()
    encoded = [base64.b64encode(png_bytes()).decode()]

    # when
    regenerated = api_client.post(
        f"{BASE}{vision_conversation.pk}/exchanges/{first['id']}/regenerate/", {}, format="json"
    )
    edited = api_client.post(
        f"{BASE}{vision_conversation.pk}/exchanges/{regenerated.json()['id']}/edit/",
        {"content": "Describe it."},
        format="json",
    )
    dropped = api_client.post(
        f"{BASE}{vision_conversation.pk}/exchanges/{edited.json()['id']}/edit/",
        {"content": "Never mind.", "images": []},
        format="json",
    )

    # then
    assert [r.status_code for r in (regenerated, edited, dropped)] == [201, 201, 201]
    assert [body["messages"][-1].get("images") for body in fake_ollama.chat_requests] == [
        encoded,
        encoded,
        encoded,
        None,
    ]


def test_images_for_a_model_without_vision_are_409_and_write_nothing(api_client, user, conversation):
    # given: an image that got there while the model had vision
    image = upload(
        api_client,
        ConversationFactory(owner=user, model=AIModelFactory(capabilities=["vision"])),
        png_bytes(),
    )
    Attachment.objects.filter(pk=image.json()["id"]).update(conversation=conversation)

    response = api_client.post(
        messages_url(conversation),
        {"content": "What is this?", "images": [image.json()["id"]]},
        format="json",
    )

    assert_error(response, 409, "model_without_vision")
    assert not Prompt.all_objects.exists()


def test_images_that_are_not_this_conversations_images_are_400_and_write_nothing(
    api_client, user, other_user, vision_conversation, fake_ollama
):
    # given: a document of this conversation, an image of another of the caller's conversations and
    # an image of another user's
    document = upload(api_client, vision_conversation, b"plain words", name="notes.txt").json()["id"]
    elsewhere = ConversationFactory(owner=user, model=vision_conversation.model)
    mine = upload(api_client, elsewhere, png_bytes()).json()["id"]
    foreign = Attachment.objects.create(
        conversation=ConversationFactory(owner=other_user, model=vision_conversation.model),
        uploader=other_user,
        original_name="x.png",
        content_type="image/png",
        size=1,
        sha256="0" * 64,
        file="attachments/x.png",
    ).pk
    for ids in ([document], [mine], [str(foreign)], ["0192f0c4-5d2e-7b3a-8c41-2f6a9e0d1b99"], ["nope"]):
        # when
        response = api_client.post(
            messages_url(vision_conversation), {"content": "What is this?", "images": ids}, format="json"
        )

        # then
        assert_error(response, 400)
        assert "images" in response.json()["error"]["fields"]
    assert not Prompt.all_objects.exists()
    assert not Attachment.objects.filter(prompt__isnull=False).exists()
    assert fake_ollama.chat_requests == []
