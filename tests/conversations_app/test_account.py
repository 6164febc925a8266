"""Everything out (the account export, its signed link, the round trip through import) and the
account's deletion (sessions revoked, content gone, purged with its files, the last admin kept)."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from admin_app.models import AuditEvent
from auth_app.models import User
from conversations_app.models import Attachment, Conversation, ConversationPromptResponse, Folder, TransferJob
from conversations_app.tasks import purge_deleted_accounts
from tests.auth_app.factories import DEFAULT_PASSWORD
from tests.conftest import client_for
from tests.conversations_app.factories import (
    AttachmentFactory,
    ConversationFactory,
    FeedbackFactory,
    NoteFactory,
)
from tests.conversations_app.resources import AUTH_QUERIES, BASE, add_exchange, assert_error

pytestmark = pytest.mark.django_db
EXPORT_URL = "/api/v1/auth/me/export/"
ME_URL = "/api/v1/auth/me/"


@pytest.fixture
def branched(user):
    conversation = ConversationFactory(
        owner=user, title="Rome trip ✈", system_prompt="Be concise.", is_pinned=True
    )
    root = add_exchange(conversation, prompt="Plan a day in Rome", answer="First plan.", current=False)
    sibling = add_exchange(conversation, prompt="Plan a day in Rome", answer="Second plan.", current=False)
    add_exchange(conversation, parent=sibling, prompt="Where to eat?", answer="Trastevere.", eval_count=3)
    add_exchange(conversation, parent=root, prompt="And at night?", answer="Piazza Navona.", current=False)
    FeedbackFactory(response=root.response, user=user, rating=-1, reason="unhelpful", comment="Too long")
    NoteFactory(response=sibling.response, owner=user, content="Good start", from_index=0, to_index=6)
    AttachmentFactory(conversation=conversation, original_name="map.txt")
    return conversation


def export_archive(client, capture) -> tuple[dict, zipfile.ZipFile]:
    with capture(execute=True):
        response = client.post(EXPORT_URL)
    assert response.status_code == 202, response.content
    job = client.get(response["Location"]).json()
    assert job["status"] == "succeeded", job
    download = APIClient().get(job["download_url"])  # the signed link needs no token
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    return job, zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))  # type: ignore[attr-defined]


def shape(conversation: Conversation) -> list[tuple]:
    """Every exchange: position, parent's (prompt, answer), prompt, answer, status, metrics, feedback,
    notes; and whether it is the current one."""
    conversation.refresh_from_db()
    rows = ConversationPromptResponse.objects.filter(conversation=conversation).select_related(
        "prompt", "response", "parent__prompt", "parent__response"
    )
    return sorted(
        (
            e.position,
            (e.parent.prompt.content, e.parent.response.content) if e.parent else None,
            e.prompt.content,
            e.response.content,
            e.response.status,
            e.response.eval_count,
            e.prompt.created_at,
            sorted((f.rating, f.reason, f.comment) for f in e.response.feedback.all()),
            sorted((n.content, n.from_index, n.to_index) for n in e.response.notes.all()),
            e.pk == conversation.current_exchange_id,
        )
        for e in rows
    )


def test_the_export_holds_everything_and_imports_back_losslessly(
    api_client, other_client, user, other_user, branched, django_capture_on_commit_callbacks
):
    # when
    job, archive = export_archive(api_client, django_capture_on_commit_callbacks)

    # then: the archive
    names = set(archive.namelist())
    assert {"manifest.json", "folders.json", "feedback.json", "notes.json", "usage.json"} <= names
    assert {f"conversations/{branched.pk}.json", f"conversations/{branched.pk}.md"} <= names
    attachment = Attachment.objects.get()
    assert archive.read(f"attachments/{attachment.pk}/map.txt") == attachment.file.open("rb").read()
    assert job["counts"]["conversations"] == 1

    # when: another user imports it
    response = other_client.post(
        f"{BASE}import/", {"file": io.BytesIO(archive.fp.getvalue())}, format="multipart"
    )

    # then: the same tree, exchange by exchange
    assert response.status_code == 201, response.content
    assert response.json()["counts"] == {"created": 1}
    copy = Conversation.objects.get(owner=other_user)
    assert shape(copy) == shape(branched)
    assert (copy.title, copy.system_prompt, copy.is_pinned) == ("Rome trip ✈", "Be concise.", True)
    assert copy.import_source == "ollamanet"


def test_export_link_is_signed_and_expires(
    api_client, other_client, user, branched, settings, django_capture_on_commit_callbacks
):
    job, _ = export_archive(api_client, django_capture_on_commit_callbacks)
    url = job["download_url"]
    assert_error(APIClient().get(url[:-3] + "abc"), 404)
    assert_error(APIClient().get(url.split("?")[0]), 404)
    assert_error(other_client.get(f"{EXPORT_URL}{job['id']}/"), 404)
    TransferJob.objects.filter(pk=job["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(APIClient().get(url), 404)


def test_export_job_detail_queries(
    api_client, user, django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_capture_on_commit_callbacks(execute=True):
        location = api_client.post(EXPORT_URL)["Location"]
    with django_assert_num_queries(AUTH_QUERIES + 1):
        assert api_client.get(location).status_code == 200
    assert_error(APIClient().get(location), 401)


def test_deleting_the_account_revokes_sessions_and_hides_everything(user, branched):
    # given
    folder = Folder.objects.create(owner=user, name="Travel")
    Conversation.objects.filter(pk=branched.pk).update(folder=folder)
    refresh = RefreshToken.for_user(user)
    client = client_for(user)

    # when: the wrong password first
    assert_error(client.delete(ME_URL, {"password": "wrong"}, format="json"), 400)
    assert User.objects.filter(pk=user.pk).exists()
    response = client.delete(ME_URL, {"password": DEFAULT_PASSWORD}, format="json")

    # then
    assert response.status_code == 204, response.content
    assert not User.objects.filter(pk=user.pk).exists()
    assert_error(client.get(f"{BASE}"), 401)
    assert_error(
        APIClient().post("/api/v1/auth/token/refresh/", {"refresh": str(refresh)}, format="json"), 401
    )
    assert not Conversation.objects.filter(owner=user).exists()
    assert not Folder.objects.filter(owner=user).exists()
    assert not ConversationPromptResponse.objects.filter(conversation__owner=user).exists()
    assert AuditEvent.objects.filter(action="account_deleted", target_id=str(user.pk)).exists()


def test_purge_removes_the_rows_and_files_after_the_retention(
    user, branched, django_capture_on_commit_callbacks
):
    # given: a deleted account
    client_for(user).delete(ME_URL, {"password": DEFAULT_PASSWORD}, format="json")
    stored = Attachment.all_objects.get().file.name
    assert default_storage.exists(stored)

    # when: within the retention nothing goes; after it everything does
    assert purge_deleted_accounts() == 0
    assert User.all_objects.filter(pk=user.pk).exists()
    User.all_objects.filter(pk=user.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_deleted_accounts() == 1

    # then
    assert not User.all_objects.filter(pk=user.pk).exists()
    assert not Conversation.all_objects.filter(pk=branched.pk).exists()
    assert not Attachment.all_objects.exists()
    assert not default_storage.exists(stored)


def test_the_last_admin_cannot_delete_their_account(admin_user):
    response = client_for(admin_user).delete(ME_URL, {"password": DEFAULT_PASSWORD}, format="json")
    assert_error(response, 409, "last_admin")
    assert User.objects.filter(pk=admin_user.pk).exists()


def test_account_deletion_input(api_client, anon_client):
    assert_error(api_client.delete(ME_URL, {}, format="json"), 400)
    assert_error(api_client.delete(ME_URL, {"password": DEFAULT_PASSWORD, "extra": 1}, format="json"), 400)
    assert_error(anon_client.delete(ME_URL, {"password": "x"}, format="json"), 401)
