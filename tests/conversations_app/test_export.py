"""Export: lossless JSON (every branch, metrics, feedback, notes, attachments) and Markdown (the
current branch), as downloads."""

from __future__ import annotations

import json

import pytest

from tests.admin_app.factories import SystemMessageFactory
from tests.conversations_app.factories import (
    AttachmentFactory,
    ConversationFactory,
    FeedbackFactory,
    NoteFactory,
)
from tests.conversations_app.resources import AUTH_QUERIES, BASE, add_exchange, assert_error

pytestmark = pytest.mark.django_db


def export_url(conversation) -> str:
    return f"{BASE}{conversation.pk}/export/"


@pytest.fixture
def branched(user):
    """A conversation whose first answer was regenerated: the branch goes on from the second answer."""
    conversation = ConversationFactory(owner=user, title="Rome trip", system_prompt="Be concise.")
    root = add_exchange(conversation, prompt="Plan a day in Rome", answer="First plan.", current=False)
    sibling = add_exchange(conversation, prompt="Plan a day in Rome", answer="Second plan.", current=False)
    leaf = add_exchange(
        conversation,
        parent=sibling,
        prompt="Where to eat?",
        answer="Trastevere.",
        status="interrupted",
        eval_count=3,
        total_duration=123_456_789,
    )
    FeedbackFactory(response=root.response, user=user, rating=-1, reason="unhelpful", comment="Too long")
    NoteFactory(response=sibling.response, owner=user, content="Good start", from_index=0, to_index=6)
    AttachmentFactory(conversation=conversation, original_name="map.txt")
    return conversation, root, sibling, leaf


def test_json_export_is_lossless(api_client, branched):
    # given
    conversation, root, sibling, leaf = branched

    # when
    response = api_client.get(export_url(conversation))

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="rome-trip.json"'
    document = json.loads(response.content)
    assert (document["format"], document["format_version"]) == ("ollamanet.conversation", 1)
    meta = document["conversation"]
    assert (meta["title"], meta["system_prompt"], meta["current_exchange"]) == (
        "Rome trip",
        "Be concise.",
        str(leaf.pk),
    )
    exchanges = {e["id"]: e for e in document["exchanges"]}
    assert set(exchanges) == {str(root.pk), str(sibling.pk), str(leaf.pk)}
    assert exchanges[str(leaf.pk)]["parent"] == str(sibling.pk)
    assert exchanges[str(root.pk)]["parent"] is None
    assert exchanges[str(leaf.pk)]["response"]["status"] == "interrupted"
    assert exchanges[str(leaf.pk)]["response"]["total_duration"] == 123_456_789
    assert exchanges[str(root.pk)]["feedback"][0]["comment"] == "Too long"
    assert exchanges[str(sibling.pk)]["notes"][0]["content"] == "Good start"
    assert exchanges[str(sibling.pk)]["feedback"] == []
    assert document["attachments"][0]["original_name"] == "map.txt"


def test_json_export_names_the_system_message(api_client, user):
    message = SystemMessageFactory(name="Tutor", content="Explain step by step.")
    conversation = ConversationFactory(owner=user, system_message=message, title="")

    response = api_client.get(export_url(conversation))

    assert response.json()["conversation"]["system_message"]["content"] == "Explain step by step."
    assert f'filename="conversation-{conversation.pk}.json"' in response["Content-Disposition"]


def test_markdown_export_follows_the_current_branch(api_client, branched):
    conversation, *_ = branched

    response = api_client.get(export_url(conversation), {"format": "markdown"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="rome-trip.md"'
    text = response.content.decode()
    assert text.startswith("# Rome trip\n")
    assert "> Be concise." in text
    assert "Second plan." in text
    assert "First plan." not in text
    assert text.index("Plan a day in Rome") < text.index("Second plan.") < text.index("Trastevere.")
    assert "*[answer interrupted]*" in text


def test_markdown_by_accept_header(api_client, branched):
    conversation, *_ = branched

    response = api_client.get(export_url(conversation), HTTP_ACCEPT="text/markdown")

    assert response["Content-Type"].startswith("text/markdown")


@pytest.mark.parametrize("size", [5, 50])
def test_export_reads_in_constant_queries(api_client, user, size, django_assert_num_queries):
    conversation = ConversationFactory(owner=user)
    parent = None
    for n in range(size):
        parent = add_exchange(conversation, parent=parent, prompt=f"Question {n}", answer=f"Answer {n}")
        FeedbackFactory(response=parent.response, user=user)
        NoteFactory(response=parent.response, owner=user)

    # the conversation, its labels, exchanges, feedback, notes, attachments
    with django_assert_num_queries(AUTH_QUERIES + 6):
        response = api_client.get(export_url(conversation), {"format": "markdown"})

    assert response.content.decode().count("### You") == size


def test_unknown_format_is_404_in_the_error_shape(api_client, user):
    conversation = ConversationFactory(owner=user)

    assert_error(api_client.get(export_url(conversation), {"format": "pdf"}), 404)


def test_a_deleted_conversation_is_not_exported(api_client, user):
    conversation = ConversationFactory(owner=user, deleted_at="2024-01-01T00:00:00Z")

    response = api_client.get(export_url(conversation), {"format": "markdown"})

    assert_error(response, 404)
    assert response["Content-Type"] == "application/json"


def test_anonymous_caller_gets_401(anon_client, user):
    conversation = ConversationFactory(owner=user)

    assert_error(anon_client.get(export_url(conversation)), 401)
    assert_error(anon_client.get(export_url(conversation), {"format": "markdown"}), 401)
