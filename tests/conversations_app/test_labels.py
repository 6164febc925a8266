"""Labels: a user's own names for conversations (unique per user whatever the case, soft delete), put
on conversations and used to filter the list; the list's `q` matches titles (typos tolerated) and
messages."""

from __future__ import annotations

import pytest

from conversations_app.models import ConversationLabel, Label
from tests.conversations_app.factories import ConversationFactory, ExchangeFactory
from tests.models_app.factories import AIModelFactory

pytestmark = pytest.mark.django_db

LABELS = "/api/v1/conversations/labels/"
CONVERSATIONS = "/api/v1/conversations/"


def make_label(client, name: str) -> dict:
    response = client.post(LABELS, {"name": name}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_labels_are_created_listed_renamed_and_deleted(api_client, django_assert_num_queries):
    work = make_label(api_client, "  Work ")
    make_label(api_client, "Home")
    assert work["name"] == "Work"

    with django_assert_num_queries(2):  # authentication, the page
        listed = api_client.get(LABELS).json()["results"]
    assert [label["name"] for label in listed] == ["Home", "Work"]

    renamed = api_client.patch(
        f"{LABELS}{work['id']}/", {"name": "Job"}, format="json", HTTP_IF_MATCH=f'"{work["version"]}"'
    )
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["name"] == "Job"
    stale = api_client.patch(f"{LABELS}{work['id']}/", {"name": "X"}, format="json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412

    assert api_client.delete(f"{LABELS}{work['id']}/").status_code == 204
    assert [label["name"] for label in api_client.get(LABELS).json()["results"]] == ["Home"]
    assert Label.all_objects.get(pk=work["id"]).deleted_at is not None
    # the name is free again
    make_label(api_client, "job")


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("", 400, "invalid"),
        ("   ", 400, "invalid"),
        ("x" * 65, 400, "invalid"),
        ("WORK", 409, "duplicate_name"),
    ],
)
def test_bad_label_names_are_refused(api_client, name, status, code):
    make_label(api_client, "Work")

    response = api_client.post(LABELS, {"name": name}, format="json")

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert "name" in response.json()["error"]["fields"]
    assert Label.objects.count() == 1


def test_names_are_per_user_and_another_users_label_is_404(api_client, other_client):
    mine = make_label(api_client, "Work")
    make_label(other_client, "Work")

    assert other_client.get(f"{LABELS}{mine['id']}/").status_code == 404
    assert other_client.delete(f"{LABELS}{mine['id']}/").status_code == 404
    assert Label.objects.count() == 2


def test_conversations_carry_labels_and_the_list_filters_by_them(api_client, user, django_assert_num_queries):
    # given
    work, home = make_label(api_client, "Work"), make_label(api_client, "Home")
    model = AIModelFactory()

    # when: created with labels, then relabelled
    created = api_client.post(
        CONVERSATIONS, {"model": str(model.pk), "labels": [work["id"], home["id"]]}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["labels"] == [home["id"], work["id"]]  # by name
    other = ConversationFactory(owner=user)
    updated = api_client.patch(f"{CONVERSATIONS}{other.pk}/", {"labels": [work["id"]]}, format="json")
    assert updated.status_code == 200
    assert updated.json()["labels"] == [work["id"]]
    assert updated.json()["version"] == other.version + 1
    ConversationFactory(owner=user)  # no label

    # then: the list shows labels and filters by one, in constant queries
    with django_assert_num_queries(2):
        page = api_client.get(CONVERSATIONS, {"label": work["id"]}).json()["results"]
    assert {c["id"] for c in page} == {body["id"], str(other.pk)}
    assert [c["id"] for c in api_client.get(CONVERSATIONS, {"label": home["id"]}).json()["results"]] == [
        body["id"]
    ]
    # a deleted label disappears from conversations and filters nothing in
    api_client.delete(f"{LABELS}{home['id']}/")
    assert api_client.get(f"{CONVERSATIONS}{body['id']}/").json()["labels"] == [work["id"]]
    assert api_client.get(CONVERSATIONS, {"label": home["id"]}).json()["results"] == []
    # removing every label
    cleared = api_client.patch(f"{CONVERSATIONS}{other.pk}/", {"labels": []}, format="json")
    assert cleared.json()["labels"] == []


def test_unknown_or_foreign_labels_are_a_400_and_change_nothing(api_client, user, other_client):
    theirs = make_label(other_client, "Theirs")
    conversation = ConversationFactory(owner=user)

    for labels in ([theirs["id"]], ["0192f0c4-0000-7000-8000-000000000000"], ["not-a-uuid"]):
        response = api_client.patch(f"{CONVERSATIONS}{conversation.pk}/", {"labels": labels}, format="json")
        assert response.status_code == 400, labels
        assert "labels" in response.json()["error"]["fields"]
    assert not ConversationLabel.objects.exists()
    conversation.refresh_from_db()
    assert conversation.version == 1


def test_the_list_query_matches_titles_with_typos_and_messages(api_client, user):
    rome = ConversationFactory(owner=user, title="Planning a trip to Rome")
    pasta = ConversationFactory(owner=user, title="Dinner ideas")
    ExchangeFactory(conversation=pasta, prompt__content="How do I cook carbonara?", prompt__owner=user)
    answered = ConversationFactory(owner=user, title="Misc")
    ExchangeFactory(
        conversation=answered, response__content="Bring an umbrella to Rome.", response__owner=user
    )
    ConversationFactory(owner=user, title="Unrelated")
    ConversationFactory(title="A trip to Rome by someone else")

    def ids(q: str) -> set[str]:
        response = api_client.get(CONVERSATIONS, {"q": q})
        assert response.status_code == 200
        return {c["id"] for c in response.json()["results"]}

    assert ids("Rome") == {str(rome.pk), str(answered.pk)}
    assert ids("planing") == {str(rome.pk)}  # a typo in the title
    assert ids("carbonara") == {str(pasta.pk)}
    assert ids("   ") == {str(c.pk) for c in (rome, pasta, answered)} | {
        c["id"] for c in api_client.get(CONVERSATIONS).json()["results"]
    }
    assert ids("zzzzqqq") == set()
