"""The Django admin: every page answers, soft delete and restore cascade, hard delete is for
superusers, the audit trail is read-only, access goes by the Admin role, lists do not N+1."""

from __future__ import annotations

import html
import os
import re
import uuid
from collections.abc import Callable

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from admin_app.models import AuditEvent, ModelPull, SystemMessage
from auth_app.models import ApiKey, ApiUsage, Role
from auth_app.services.api_keys import create_api_key
from auth_app.services.quotas import record_usage
from conversations_app.models import (
    AIResponse,
    Attachment,
    Conversation,
    ConversationLabel,
    ConversationPromptResponse,
    Feedback,
    Folder,
    Label,
    Note,
    Prompt,
    SharedLink,
    TransferJob,
)
from conversations_app.services import conversation_soft_delete
from core import services as core_services
from core.admin import EstimatedCountPaginator
from core.permissions import ADMIN_ROLE, USER_ROLE
from explore_app.models import LeaderboardEntry
from models_app.cache import catalogue_cache
from models_app.models import AIModel, ModelTag, RoleModelAccess, Tag
from models_app.services import refresh_tag_names
from tests.admin_app.factories import AuditEventFactory, ModelPullFactory, SystemMessageFactory
from tests.auth_app.factories import DEFAULT_PASSWORD, UserFactory
from tests.conversations_app.factories import (
    AttachmentFactory,
    ConversationFactory,
    ExchangeFactory,
    FeedbackFactory,
    FolderFactory,
    NoteFactory,
    SharedLinkFactory,
)
from tests.explore_app.factories import LeaderboardEntryFactory
from tests.models_app.factories import AIModelFactory, ModelTagFactory, TagFactory

User = get_user_model()
OWN_APPS = ("auth_app", "models_app", "conversations_app", "admin_app", "explore_app")
ACTION_CHECKBOX = helpers.ACTION_CHECKBOX_NAME


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def full_conversation() -> Conversation:
    """A conversation in a folder with one exchange, its feedback and note, and an attachment."""
    owner = UserFactory()
    conversation = ConversationFactory(owner=owner, folder=FolderFactory(owner=owner))
    exchange = ExchangeFactory(conversation=conversation)
    FeedbackFactory(response=exchange.response, user=owner)
    NoteFactory(response=exchange.response, owner=owner)
    AttachmentFactory(conversation=conversation)
    return conversation


def _user_with_role():
    user = UserFactory()
    user.groups.add(Group.objects.get(name=USER_ROLE))
    return user


def _refresh_token(blacklisted: bool = False):
    token = RefreshToken.for_user(UserFactory())
    if blacklisted:
        token.blacklist()
    return OutstandingToken.objects.get(jti=token["jti"])


def _labelled() -> ConversationLabel:
    conversation = ConversationFactory()
    label = Label.objects.create(owner=conversation.owner, name="Work")
    return ConversationLabel.objects.create(conversation=conversation, label=label)


def _api_usage() -> ApiUsage:
    key, _ = create_api_key(UserFactory(), name="laptop")
    record_usage(key.user, key, prompt_tokens=3, eval_tokens=4)
    return ApiUsage.objects.get(api_key=key)


# One row of each model, as its admin shows it.
MAKERS: dict[type, Callable] = {
    ApiKey: lambda: create_api_key(UserFactory(), name="laptop")[0],
    ApiUsage: _api_usage,
    User: _user_with_role,
    Role: lambda: Role.objects.create(name=f"Role {Role.objects.count()}"),
    OutstandingToken: _refresh_token,
    BlacklistedToken: lambda: BlacklistedToken.objects.get(token=_refresh_token(blacklisted=True)),
    Tag: lambda: ModelTagFactory().tag,
    AIModel: lambda: ModelTagFactory().model,
    ModelTag: ModelTagFactory,
    RoleModelAccess: lambda: RoleModelAccess.objects.create(
        role_id=Group.objects.get(name=USER_ROLE).pk, model=AIModelFactory()
    ),
    SystemMessage: SystemMessageFactory,
    AuditEvent: lambda: AuditEventFactory(actor_repr="alice", before={"title": "a"}, after={"title": "b"}),
    ModelPull: lambda: ModelPullFactory(requested_by=UserFactory()),
    Folder: lambda: FolderFactory(parent=FolderFactory()),
    Conversation: lambda: ConversationFactory(folder=FolderFactory()),
    ConversationPromptResponse: ExchangeFactory,
    Prompt: lambda: ExchangeFactory().prompt,
    AIResponse: lambda: ExchangeFactory().response,
    Feedback: lambda: FeedbackFactory(response=ExchangeFactory().response),
    Note: lambda: NoteFactory(response=ExchangeFactory().response),
    Attachment: AttachmentFactory,
    Label: lambda: Label.objects.create(owner=UserFactory(), name="Work"),
    ConversationLabel: _labelled,
    TransferJob: lambda: TransferJob.objects.create(
        owner=UserFactory(), kind="import", original_name="chats.json"
    ),
    SharedLink: SharedLinkFactory,
    LeaderboardEntry: LeaderboardEntryFactory,
}
MODELS = list(MAKERS)
ADDABLE = [User, Role, Tag, AIModel, RoleModelAccess, SystemMessage]


def test_every_model_of_the_project_has_an_admin():
    registered = admin.site._registry
    for label in OWN_APPS:
        for model in apps.get_app_config(label).get_models():
            assert model in registered, f"{model._meta.label} has no admin"
    assert set(MODELS) == {
        m for m in registered if m._meta.app_label in (*OWN_APPS, "auth", "token_blacklist")
    }


@pytest.mark.django_db
def test_staff_revoke_shared_links_through_the_service(admin_user):
    # given: an open link and one already revoked
    open_link = SharedLinkFactory()
    revoked = SharedLinkFactory(revoked_at=timezone.now())
    client = login(admin_user)
    # when
    response = client.post(
        url(SharedLink, "changelist"),
        {"action": "revoke_selected", helpers.ACTION_CHECKBOX_NAME: [open_link.pk, revoked.pk]},
    )
    # then
    assert response.status_code == 302
    open_link.refresh_from_db()
    assert open_link.revoked_at is not None
    assert list(
        AuditEvent.objects.filter(action="shared_link_revoked").values_list("target_id", "actor_id")
    ) == [(str(open_link.pk), admin_user.pk)]


# --- every page answers ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["admin_user", "superuser"])
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelist_and_change_page_answer_for_admins(request, who, model):
    # given
    obj = MAKERS[model]()
    client = login(request.getfixturevalue(who))
    # when
    changelist = client.get(url(model, "changelist"))
    change = client.get(url(model, "change", obj.pk))
    # then
    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count >= 1
    assert change.status_code == 200
    assert change.context["original"] == obj


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["admin_user", "superuser"])
@pytest.mark.parametrize("model", ADDABLE, ids=lambda m: m._meta.label)
def test_add_page_answers_where_adding_is_allowed(request, who, model):
    client = login(request.getfixturevalue(who))
    assert client.get(url(model, "add")).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("model", [m for m in MODELS if m not in ADDABLE], ids=lambda m: m._meta.label)
def test_records_the_platform_writes_have_no_add_page(superuser, model):
    assert login(superuser).get(url(model, "add")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_anonymous_is_sent_to_the_login_page(client, model):
    obj = MAKERS[model]()
    for page in (url(model, "changelist"), url(model, "change", obj.pk)):
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.django_db
def test_staff_without_the_admin_role_sees_nothing():
    # given a staff account that holds no role
    staff = UserFactory(is_staff=True)
    client = login(staff)
    conversation = ConversationFactory()
    # then
    assert client.get(reverse("admin:index")).context["app_list"] == []
    assert client.get(url(Conversation, "changelist")).status_code == 403
    assert client.get(url(Conversation, "change", conversation.pk)).status_code == 403
    assert client.get(url(SystemMessage, "add")).status_code == 403


@pytest.mark.django_db
def test_an_admin_role_holder_signs_in_and_sees_every_app(admin_user):
    client = Client()
    response = client.post(
        reverse("admin:login"), {"username": admin_user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    index = client.get(reverse("admin:index"))
    assert {app["app_label"] for app in index.context["app_list"]} >= set(OWN_APPS)


def user_form(user, *, roles: list[str], **overrides) -> dict:
    """The POST of a user's change page (roles by name)."""
    return {
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "preferences": "{}",
        "initial-preferences": "{}",  # the page's hidden copy (the field has a callable default)
        "is_active": "on",
        "groups": list(Group.objects.filter(name__in=roles).values_list("pk", flat=True)),
        "failed_login_count": "0",
        "locked_until_0": "",
        "locked_until_1": "",
        **overrides,
    }


@pytest.mark.django_db
def test_giving_the_admin_role_in_the_admin_makes_the_user_staff(superuser):
    # given a plain user
    member = UserFactory()
    member.groups.add(Group.objects.get(name=USER_ROLE))
    client = login(superuser)
    page = client.get(url(User, "change", member.pk))
    # when
    response = client.post(url(User, "change", member.pk), user_form(member, roles=[ADMIN_ROLE]))
    # then
    assert page.status_code == 200
    assert response.status_code == 302, response.context["adminform"].form.errors
    member = User.objects.get(pk=member.pk)
    assert member.is_staff
    assert member.version == 2
    assert list(member.groups.values_list("name", flat=True)) == [ADMIN_ROLE]
    assert Client().login(username=member.username, password=DEFAULT_PASSWORD)


# --- soft delete, restore, hard delete --------------------------------------------------------------


def run_action(client: Client, model, action: str, objects, *, listing: str = "", **extra):
    """Post `action` on `objects` from the list page (`listing`: its query string, e.g. the trash's)."""
    data = {"action": action, ACTION_CHECKBOX: [str(o.pk) for o in objects], **extra}
    return client.post(url(model, "changelist") + listing, data)


TRASH = "?deleted=yes"


def action_names(client: Client, model) -> set[str]:
    form = client.get(url(model, "changelist")).context["action_form"]
    return {name for name, _ in form.fields["action"].choices if name}


@pytest.mark.django_db
def test_delete_selected_moves_a_conversation_and_what_it_owns_to_the_trash(admin_user):
    # given
    conversation = full_conversation()
    exchange = conversation.exchanges.get()
    # when
    response = run_action(login(admin_user), Conversation, "delete_selected", [conversation])
    # then the rows are still there, deleted at one instant
    assert response.status_code == 302
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    deleted_at = Conversation.all_objects.get(pk=conversation.pk).deleted_at
    assert deleted_at is not None
    for model, lookup in (
        (ConversationPromptResponse, {"pk": exchange.pk}),
        (Prompt, {"pk": exchange.prompt_id}),
        (AIResponse, {"pk": exchange.response_id}),
        (Feedback, {"response_id": exchange.response_id}),
        (Note, {"response_id": exchange.response_id}),
        (Attachment, {"conversation": conversation}),
    ):
        assert model.all_objects.get(**lookup).deleted_at == deleted_at, model.__name__


@pytest.mark.django_db
def test_delete_selected_on_a_folder_takes_its_subfolders_and_conversations(admin_user):
    # given
    folder = FolderFactory()
    child = FolderFactory(owner=folder.owner, parent=folder)
    conversation = ConversationFactory(owner=folder.owner, folder=child)
    # when: the parent and the child are both selected
    run_action(login(admin_user), Folder, "delete_selected", [folder, child])
    # then
    assert Folder.all_objects.filter(pk__in=[folder.pk, child.pk], deleted_at__isnull=False).count() == 2
    assert Conversation.all_objects.get(pk=conversation.pk).deleted_at is not None
    assert Folder.objects.filter(owner=folder.owner).count() == 0


@pytest.mark.django_db
def test_restore_selected_brings_back_exactly_what_the_deletion_took(admin_user):
    # given a note deleted on its own, then the conversation deleted
    conversation = full_conversation()
    exchange = conversation.exchanges.get()
    lone_note = NoteFactory(
        response=exchange.response, owner=conversation.owner, content="deleted on its own"
    )
    core_services.soft_delete(lone_note)
    conversation_soft_delete(conversation=conversation)
    client = login(admin_user)
    # when
    response = run_action(client, Conversation, "restore_selected", [conversation], listing=TRASH)
    # then
    assert response.status_code == 302
    assert Conversation.objects.filter(pk=conversation.pk).exists()
    assert ConversationPromptResponse.objects.filter(pk=exchange.pk).exists()
    assert Prompt.objects.filter(pk=exchange.prompt_id).exists()
    assert AIResponse.objects.filter(pk=exchange.response_id).exists()
    assert Feedback.objects.filter(response_id=exchange.response_id).count() == 1
    assert list(Note.objects.filter(response_id=exchange.response_id)) != []
    assert Attachment.objects.filter(conversation=conversation).count() == 1
    assert Note.all_objects.get(pk=lone_note.pk).deleted_at is not None
    messages = [str(m) for m in client.get(url(Conversation, "changelist")).context["messages"]]
    assert messages == ["1 conversation restored."]


@pytest.mark.django_db
def test_restore_that_would_reuse_a_taken_name_is_refused_with_a_message(admin_user):
    # given a deleted tag whose name an alive tag has taken since
    old = TagFactory(name="vision")
    core_services.soft_delete(old)
    TagFactory(name="Vision", slug="vision-2")
    client = login(admin_user)
    # when
    run_action(client, Tag, "restore_selected", [old], listing=TRASH)
    # then
    assert Tag.all_objects.get(pk=old.pk).deleted_at is not None
    messages = [str(m) for m in client.get(url(Tag, "changelist")).context["messages"]]
    assert len(messages) == 1
    assert "cannot be restored" in messages[0]


@pytest.mark.django_db
def test_lists_show_alive_rows_unless_the_trash_is_asked_for(admin_user):
    # given
    alive, deleted = SystemMessageFactory(), SystemMessageFactory()
    core_services.soft_delete(deleted)
    client = login(admin_user)
    # when
    default = client.get(url(SystemMessage, "changelist"))
    trash = client.get(url(SystemMessage, "changelist"), {"deleted": "yes"})
    everything = client.get(url(SystemMessage, "changelist"), {"deleted": "all"})
    # then
    assert list(default.context["cl"].result_list) == [alive]
    assert list(trash.context["cl"].result_list) == [deleted]
    assert everything.context["cl"].result_count == 2
    choices = next(f for f in default.context["cl"].filter_specs if f.parameter_name == "deleted")
    selected = [c["display"] for c in choices.choices(default.context["cl"]) if c["selected"]]
    assert selected == ["Alive"]


@pytest.mark.django_db
def test_the_trash_shows_when_rows_were_deleted_not_a_boolean(admin_user):
    # given
    message = SystemMessageFactory()
    core_services.soft_delete(message)
    client = login(admin_user)
    # when
    default = client.get(url(SystemMessage, "changelist"))
    trash = client.get(url(SystemMessage, "changelist"), {"deleted": "yes"})
    # then the alive list has no deleted column, the trash says when
    assert "deleted_at" not in default.context["cl"].list_display
    assert "deleted_at" in trash.context["cl"].list_display
    cell = re.search(rb'<td class="field-deleted_at[^"]*">(.*?)</td>', trash.content).group(1)
    assert b"<img" not in cell
    assert str(timezone.now().year).encode() in cell


@pytest.mark.django_db
def test_a_deleted_row_opens_read_only(admin_user):
    message = SystemMessageFactory()
    core_services.soft_delete(message)
    client = login(admin_user)
    page = client.get(url(SystemMessage, "change", message.pk))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert (
        client.post(url(SystemMessage, "change", message.pk), {"name": "x", "content": "y"}).status_code
        == 403
    )


@pytest.mark.django_db
def test_an_attachment_opens_read_only_and_still_goes_to_the_trash(admin_user):
    attachment = AttachmentFactory()
    client = login(admin_user)
    page = client.get(url(Attachment, "change", attachment.pk))
    assert page.context["has_change_permission"] is False
    assert attachment.file.name.encode() in page.content
    assert (
        client.post(url(Attachment, "change", attachment.pk), {"original_name": "x.txt"}).status_code == 403
    )
    run_action(client, Attachment, "delete_selected", [attachment])
    assert Attachment.all_objects.get(pk=attachment.pk).deleted_at is not None


@pytest.mark.django_db
def test_admins_who_are_not_superusers_cannot_hard_delete(admin_user):
    # given
    conversation = ConversationFactory()
    client = login(admin_user)
    # then: no such action
    assert action_names(client, Conversation) == {"delete_selected", "restore_selected"}
    run_action(client, Conversation, "hard_delete_selected", [conversation], post="yes")
    assert Conversation.objects.filter(pk=conversation.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["admin_user", "superuser"])
def test_the_change_forms_delete_moves_a_conversation_and_what_it_owns_to_the_trash(request, who):
    # given
    conversation = full_conversation()
    exchange = conversation.exchanges.get()
    client = login(request.getfixturevalue(who))
    # when Delete is followed from the change form, confirmed
    form = client.get(url(Conversation, "change", conversation.pk))
    confirmation = client.get(url(Conversation, "delete", conversation.pk))
    response = client.post(url(Conversation, "delete", conversation.pk), {"post": "yes"})
    # then the button says what it does, and the rows are in the trash, not gone
    assert url(Conversation, "delete", conversation.pk).encode() in form.content
    assert b"Move to trash" in form.content
    assert confirmation.status_code == 200
    assert b"goes to the trash" in confirmation.content
    assert response.status_code == 302
    assert response["Location"] == url(Conversation, "changelist")
    deleted_at = Conversation.all_objects.get(pk=conversation.pk).deleted_at
    assert deleted_at is not None
    assert Note.all_objects.get(response_id=exchange.response_id).deleted_at == deleted_at
    assert Attachment.all_objects.get(conversation=conversation).deleted_at == deleted_at
    messages = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert messages == [f"The conversation “{conversation.title}” was moved to the trash."]


@pytest.mark.django_db
def test_the_change_forms_delete_on_a_folder_takes_its_conversations(admin_user):
    folder = FolderFactory()
    conversation = ConversationFactory(owner=folder.owner, folder=folder)
    response = login(admin_user).post(url(Folder, "delete", folder.pk), {"post": "yes"})
    assert response.status_code == 302
    assert Folder.all_objects.get(pk=folder.pk).deleted_at is not None
    assert Conversation.all_objects.get(pk=conversation.pk).deleted_at is not None


@pytest.mark.django_db
def test_a_refused_move_to_the_trash_comes_back_as_a_message(admin_user):
    # when an admin deletes their own account from its page
    client = login(admin_user)
    response = client.post(url(User, "delete", admin_user.pk), {"post": "yes"})
    # then
    assert response.status_code == 302
    assert response["Location"] == url(User, "change", admin_user.pk)
    messages = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert messages == ["Nothing was moved: You cannot delete your own account."]
    assert User.objects.filter(pk=admin_user.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["admin_user", "superuser"])
def test_a_row_in_the_trash_says_so_and_is_restored_from_its_page(request, who):
    # given
    message = SystemMessageFactory()
    core_services.soft_delete(message)
    client = login(request.getfixturevalue(who))
    # when
    page = client.get(url(SystemMessage, "change", message.pk))
    delete_page = client.get(url(SystemMessage, "delete", message.pk))
    restore = client.post(
        url(SystemMessage, "changelist") + TRASH,
        {"action": "restore_selected", ACTION_CHECKBOX: [str(message.pk)], "index": "0"},
    )
    # then the page says it is in the trash, offers Restore, and no Delete (not even for good)
    assert b"is in the trash since" in page.content
    assert b'value="restore_selected"' in page.content
    assert page.context["has_delete_permission"] is False
    assert b"Move to trash" not in page.content
    assert delete_page.status_code == 403
    assert restore.status_code == 302
    assert SystemMessage.objects.filter(pk=message.pk).exists()


@pytest.mark.django_db
def test_an_alive_row_does_not_say_it_is_in_the_trash(admin_user):
    message = SystemMessageFactory()
    page = login(admin_user).get(url(SystemMessage, "change", message.pk))
    assert b"in the trash since" not in page.content


@pytest.mark.django_db
def test_superusers_hard_delete_after_confirming(superuser):
    # given
    message = SystemMessageFactory()
    client = login(superuser)
    assert "hard_delete_selected" in action_names(client, SystemMessage)
    # when: first the confirmation page, then the confirmed post it makes
    confirmation = run_action(client, SystemMessage, "hard_delete_selected", [message])
    assert SystemMessage.all_objects.filter(pk=message.pk).exists()
    done = run_action(client, SystemMessage, "hard_delete_selected", [message], post="yes")
    # then
    assert confirmation.status_code == 200
    assert b'name="action" value="hard_delete_selected"' in confirmation.content
    assert b"deleted permanently" in confirmation.content
    assert done.status_code == 302
    assert not SystemMessage.all_objects.filter(pk=message.pk).exists()


# --- the audit trail is read-only -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["admin_user", "superuser"])
def test_audit_events_cannot_be_changed_or_deleted(request, who):
    # given
    event = AuditEventFactory(action="user.lock", after={"locked_until": "soon"})
    client = login(request.getfixturevalue(who))
    # when
    page = client.get(url(AuditEvent, "change", event.pk))
    changed = client.post(url(AuditEvent, "change", event.pk), {"action": "tampered"})
    delete_page = client.get(url(AuditEvent, "delete", event.pk))
    deleted = client.post(url(AuditEvent, "delete", event.pk), {"post": "yes"})
    listing = client.get(url(AuditEvent, "changelist"))
    # then
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert page.context["has_delete_permission"] is False
    assert b"locked_until" in page.content
    assert (changed.status_code, delete_page.status_code, deleted.status_code) == (403, 403, 403)
    assert listing.context["action_form"] is None
    assert AuditEvent.objects.get(pk=event.pk).action == "user.lock"


@pytest.mark.django_db
def test_audit_trail_links_the_target_by_name_and_the_actor(admin_user):
    # given an event about a tag, by a user, and one about a tag deleted for good since
    tag = TagFactory(name="vision")
    actor = UserFactory(username="alice")
    event = AuditEventFactory(
        action="updated",
        target_type="models_app.tag",
        target_id=str(tag.pk),
        actor_id=actor.pk,
        actor_repr="alice",
        before={"name": "vsion", "description": ""},
        after={"name": "vision", "description": ""},
    )
    gone = AuditEventFactory(action="deleted", target_type="models_app.tag", target_id=str(uuid.uuid4()))
    client = login(admin_user)
    # when
    listing = client.get(url(AuditEvent, "changelist"), {"target_type": "models_app.tag"})
    page = client.get(url(AuditEvent, "change", event.pk))
    # then the list names the target and links it and its actor
    assert {event, gone} <= set(listing.context["cl"].result_list)
    assert f'<a href="{url(Tag, "change", tag.pk)}">vision</a>'.encode() in listing.content
    assert f'<a href="{url(User, "change", actor.pk)}">alice</a>'.encode() in listing.content
    assert f"Tag {gone.target_id} (no longer exists)".encode() in listing.content
    # and the page shows what changed as before → after, without a History button
    assert b"<strong>name</strong>: <span" in page.content
    assert "vsion</span> → <span".encode() in page.content
    assert b"<strong>description</strong>" not in page.content
    assert b"historylink" not in page.content


@pytest.mark.django_db
def test_audit_trail_links_a_role_to_its_role_page(admin_user):
    role = Role.objects.create(name="Moderator")
    event = AuditEventFactory(action="created", target_type="auth.group", target_id=str(role.pk))
    listing = login(admin_user).get(url(AuditEvent, "changelist"), {"target_type": "auth.group"})
    assert event in listing.context["cl"].result_list
    assert f'Role <a href="{url(Role, "change", role.pk)}">Moderator</a>'.encode() in listing.content


@pytest.mark.django_db
def test_audit_trail_filters_by_action_and_target_type(admin_user):
    # given
    lock = AuditEventFactory(action="user.lock")
    AuditEventFactory(action="updated", target_type="models_app.tag")
    client = login(admin_user)
    # when
    listing = client.get(url(AuditEvent, "changelist"), {"action": "user.lock"})
    # then
    assert list(listing.context["cl"].result_list) == [lock]
    filters = {f.title: f for f in listing.context["cl"].filter_specs}
    assert {"action", "target type"} <= set(filters)
    target_choices = {c["display"] for c in filters["target type"].choices(listing.context["cl"])}
    assert {"Tag", "User"} <= target_choices


# --- users and roles --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lock_and_unlock_actions(admin_user):
    # given
    member = UserFactory(failed_login_count=4)
    client = login(admin_user)
    # when locked
    run_action(client, User, "lock_selected", [member, admin_user])
    member.refresh_from_db()
    admin_user.refresh_from_db()
    # then the member is locked for about 15 minutes, and the acting admin was left out
    assert member.is_locked
    assert 14 * 60 < (member.locked_until - timezone.now()).total_seconds() <= 15 * 60
    assert member.version == 2
    assert admin_user.locked_until is None
    assert not Client().login(username=member.username, password=DEFAULT_PASSWORD)
    locked_list = client.get(url(User, "changelist"), {"locked": "yes"}).context["cl"].result_list
    assert list(locked_list) == [member]
    # when unlocked
    run_action(client, User, "unlock_selected", [member])
    member.refresh_from_db()
    # then
    assert member.locked_until is None
    assert member.failed_login_count == 0
    assert Client().login(username=member.username, password=DEFAULT_PASSWORD)


@pytest.mark.django_db
def test_an_admin_cannot_delete_their_own_account_nor_a_superusers(admin_user, superuser):
    client = login(admin_user)
    run_action(client, User, "delete_selected", [admin_user, superuser])
    assert User.objects.filter(pk__in=[admin_user.pk, superuser.pk]).count() == 2
    messages = sorted(str(m) for m in client.get(url(User, "changelist")).context["messages"])
    assert messages == sorted(
        [
            f"{admin_user.username}: You cannot delete your own account.",
            f"{superuser.username}: Only a superuser can change a superuser's account.",
        ]
    )


@pytest.mark.django_db
def test_add_user_form_creates_an_account_with_the_user_role(admin_user):
    # when
    response = login(admin_user).post(
        url(User, "add"),
        {
            "username": "newcomer",
            "email": "NewComer@Example.com",
            "display_name": "New Comer",
            "usable_password": "true",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
        },
    )
    # then
    assert response.status_code == 302
    created = User.objects.get(username="newcomer")
    assert response["Location"] == url(User, "change", created.pk)
    assert created.email == "newcomer@example.com"
    assert created.check_password("a-long-enough-passphrase")
    assert list(created.groups.values_list("name", flat=True)) == [USER_ROLE]


@pytest.mark.django_db
def test_add_user_form_refuses_a_taken_email_in_another_case(admin_user):
    UserFactory(email="taken@example.com")
    response = login(admin_user).post(
        url(User, "add"),
        {
            "username": "someone",
            "email": "TAKEN@example.com",
            "usable_password": "true",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not User.all_objects.filter(username="someone").exists()


@pytest.mark.django_db
def test_password_change_page_sets_the_password(admin_user):
    # given
    member = UserFactory()
    client = login(admin_user)
    change_page = client.get(url(User, "change", member.pk))
    password_url = reverse("admin:auth_user_password_change", args=[member.pk])
    # when
    page = client.get(password_url)
    response = client.post(
        password_url,
        {
            "password1": "another-long-passphrase",
            "password2": "another-long-passphrase",
            "usable_password": "true",
        },
    )
    # then
    assert b"../password/" in change_page.content
    assert page.status_code == 200
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.check_password("another-long-passphrase")
    assert member.version == 2


@pytest.mark.django_db
def test_an_admin_who_is_not_superuser_cannot_grant_superuser(admin_user):
    client = login(admin_user)
    data = user_form(admin_user, roles=[ADMIN_ROLE], is_superuser="on", is_staff="on", is_active="")
    response = client.post(url(User, "change", admin_user.pk), data)
    assert response.status_code == 302
    admin_user.refresh_from_db()
    assert not admin_user.is_superuser
    assert admin_user.is_active


@pytest.mark.django_db
def test_a_built_in_or_held_role_cannot_be_deleted_nor_renamed(superuser):
    # given
    client = login(superuser)
    admin_role = Group.objects.get(name=ADMIN_ROLE)
    held = Group.objects.create(name="Moderator")
    UserFactory().groups.add(held)
    spare = Group.objects.create(name="Reviewer")
    # then
    assert "name" not in client.get(url(Role, "change", admin_role.pk)).context["adminform"].form.fields
    assert client.get(url(Role, "delete", admin_role.pk)).status_code == 403
    assert client.get(url(Role, "delete", held.pk)).status_code == 403
    assert client.post(url(Role, "delete", spare.pk), {"post": "yes"}).status_code == 302
    assert set(Group.objects.values_list("name", flat=True)) == {USER_ROLE, ADMIN_ROLE, "Moderator"}


@pytest.mark.django_db
def test_the_last_admin_cannot_give_up_the_role(admin_user):
    # when the only Admin takes the role off their own account
    client = login(admin_user)
    response = client.post(url(User, "change", admin_user.pk), user_form(admin_user, roles=[USER_ROLE]))
    # then nothing is saved and the page says why
    assert response.status_code == 302
    messages = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert len(messages) == 1
    assert "last account with the Admin role" in messages[0]
    assert list(admin_user.groups.values_list("name", flat=True)) == [ADMIN_ROLE]


@pytest.mark.django_db
def test_roles_are_called_roles_and_have_no_permission_pickers(admin_user):
    # given
    member = _user_with_role()
    client = login(admin_user)
    # when
    index = client.get(reverse("admin:index"))
    role_page = client.get(url(Role, "change", Role.objects.create(name="Moderator").pk))
    user_page = client.get(url(User, "change", member.pk))
    # then
    models = {m["name"] for app in index.context["app_list"] for m in app["models"]}
    assert "Roles" in models
    assert "Groups" not in models
    assert Group not in admin.site._registry
    assert list(role_page.context["adminform"].form.fields) == ["name"]
    assert b"permissions" not in role_page.content.lower()
    user_fields = user_page.context["adminform"].form.fields
    assert "user_permissions" not in user_fields
    assert user_fields["groups"].label == "Roles"
    assert b"Permissions" not in user_page.content


@pytest.mark.django_db
def test_superusers_count_as_admin_in_the_user_and_role_lists(admin_user, superuser):
    # given
    member = _user_with_role()
    admin_role = Group.objects.get(name=ADMIN_ROLE)
    client = login(admin_user)
    # when
    admins = client.get(url(User, "changelist"), {"role": str(admin_role.pk)})
    roles = client.get(url(Role, "changelist"))
    # then
    assert set(admins.context["cl"].result_list) == {admin_user, superuser}
    assert member not in admins.context["cl"].result_list
    assert b"Admin (superuser)" in admins.content
    counts = {role.name: role.member_count for role in roles.context["cl"].result_list}
    assert counts == {ADMIN_ROLE: 2, USER_ROLE: 1}


@pytest.mark.django_db
def test_deactivate_and_activate_actions_go_through_the_account_rules(admin_user):
    # given
    member = UserFactory()
    client = login(admin_user)
    # when deactivated, the acting admin selected too
    run_action(client, User, "deactivate_selected", [member, admin_user])
    # then the member cannot sign in, the admin was refused with a reason
    member.refresh_from_db()
    admin_user.refresh_from_db()
    assert (member.is_active, member.version) == (False, 2)
    assert admin_user.is_active
    messages = sorted(str(m) for m in client.get(url(User, "changelist")).context["messages"])
    assert messages == [
        "1 user deactivated.",
        f"{admin_user.username}: You cannot deactivate your own account.",
    ]
    assert not Client().login(username=member.username, password=DEFAULT_PASSWORD)
    # when activated again
    run_action(client, User, "activate_selected", [member])
    member.refresh_from_db()
    assert member.is_active
    assert Client().login(username=member.username, password=DEFAULT_PASSWORD)


@pytest.mark.django_db
def test_sign_out_everywhere_revokes_every_refresh_token_of_the_users(admin_user):
    # given
    member, bystander = UserFactory(), UserFactory()
    tokens = [RefreshToken.for_user(member) for _ in range(2)]
    kept = RefreshToken.for_user(bystander)
    # when
    response = run_action(login(admin_user), User, "sign_out_everywhere", [member])
    # then
    assert response.status_code == 302
    assert BlacklistedToken.objects.filter(token__jti__in=[t["jti"] for t in tokens]).count() == 2
    assert not BlacklistedToken.objects.filter(token__jti=kept["jti"]).exists()
    assert AuditEvent.objects.filter(action="sessions_revoked", target_id=str(member.pk)).exists()


@pytest.mark.django_db
def test_revoke_action_on_refresh_tokens(admin_user):
    # given two sessions of a user
    member = UserFactory()
    ended, other = (OutstandingToken.objects.get(jti=RefreshToken.for_user(member)["jti"]) for _ in range(2))
    client = login(admin_user)
    # when one is revoked
    assert "revoke_selected" in action_names(client, OutstandingToken)
    response = run_action(client, OutstandingToken, "revoke_selected", [ended])
    # then only that session ends, and the list says which are revoked
    assert response.status_code == 302
    assert BlacklistedToken.objects.filter(token=ended).exists()
    assert not BlacklistedToken.objects.filter(token=other).exists()
    listing = client.get(url(OutstandingToken, "changelist"))
    assert [str(m) for m in listing.context["messages"]] == ["1 refresh token revoked."]
    revoked = {
        t.pk: listing.context["cl"].model_admin.is_revoked(t) for t in listing.context["cl"].result_list
    }
    assert (revoked[ended.pk], revoked[other.pk]) == (True, False)


@pytest.mark.django_db
def test_roles_are_created_through_the_name_rules(admin_user):
    client = login(admin_user)
    assert client.post(url(Role, "add"), {"name": "Moderators"}).status_code == 302
    refused = client.post(url(Role, "add"), {"name": "<script>"})
    assert refused.status_code == 302
    assert set(Group.objects.values_list("name", flat=True)) == {USER_ROLE, ADMIN_ROLE, "Moderators"}


# --- editing ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_system_message_add_and_edit(admin_user):
    client = login(admin_user)
    # when added
    response = client.post(
        url(SystemMessage, "add"),
        {"name": "Pirate", "content": "Answer like a pirate.", "description": "", "is_active": "on"},
    )
    # then
    assert response.status_code == 302
    message = SystemMessage.objects.get(name="Pirate")
    assert message.version == 1
    # when edited
    response = client.post(
        url(SystemMessage, "change", message.pk),
        {"name": "Pirate", "content": "Arr, answer like a pirate.", "description": "fun", "is_active": "on"},
    )
    # then the row changed and its ETag moved on
    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.content, message.description, message.version) == ("Arr, answer like a pirate.", "fun", 2)
    listing = client.get(url(SystemMessage, "changelist"), {"q": "pirate"})
    assert b"Arr, answer like a pirate." in listing.content


@pytest.mark.django_db
def test_duplicate_name_is_a_form_error_not_a_server_error(admin_user):
    # given two folders side by side; the owner is read-only on the form
    first = FolderFactory(name="Work")
    second = FolderFactory(owner=first.owner, name="Home")
    # when the second is renamed to the first's name, differently cased
    response = login(admin_user).post(url(Folder, "change", second.pk), {"name": "WORK", "parent": ""})
    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    second.refresh_from_db()
    assert second.name == "Home"


@pytest.mark.django_db
def test_a_folder_cannot_move_under_another_users_folder_or_its_own_child(admin_user):
    # given
    folder = FolderFactory()
    child = FolderFactory(owner=folder.owner, parent=folder)
    foreign = FolderFactory()
    client = login(admin_user)
    for parent in (foreign, child):
        # when the service refuses the move
        response = client.post(
            url(Folder, "change", folder.pk), {"name": "Renamed", "parent": str(parent.pk)}
        )
        # then the page comes back with the reason and nothing was written
        assert response.status_code == 302
        assert response["Location"] == url(Folder, "change", folder.pk)
        page = client.get(response["Location"])
        assert [m.level_tag for m in page.context["messages"]] == ["error"]
        assert str(next(iter(page.context["messages"]))).startswith("Nothing was saved")
        folder.refresh_from_db()
        assert (folder.parent_id, folder.version) == (None, 1)
        assert folder.name != "Renamed"


@pytest.mark.django_db
def test_ai_model_page_edits_its_tags_inline(admin_user):
    # given a model with one tag, and another tag to add
    pair = ModelTagFactory()
    model, kept = pair.model, pair.tag
    added = TagFactory(name="vision")
    client = login(admin_user)
    page = client.get(url(AIModel, "change", model.pk))
    data = {
        "name": model.name,
        "description": model.description,
        "model_type": model.model_type,
        "is_active": "on",
        "family": model.family,
        "families": "llama",
        "parameter_size": model.parameter_size,
        "parameter_count": model.parameter_count,
        "quantization_level": model.quantization_level,
        "format": model.format,
        "size": model.size,
        "size_label": model.size_label,
        "model_tags-TOTAL_FORMS": "2",
        "model_tags-INITIAL_FORMS": "1",
        "model_tags-MIN_NUM_FORMS": "0",
        "model_tags-MAX_NUM_FORMS": "1000",
        "model_tags-0-id": str(pair.pk),
        "model_tags-0-model": str(model.pk),
        "model_tags-0-tag": str(kept.pk),
        "model_tags-1-id": "",
        "model_tags-1-model": str(model.pk),
        "model_tags-1-tag": str(added.pk),
    }
    # when
    response = client.post(url(AIModel, "change", model.pk), data)
    # then
    assert page.status_code == 200
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert set(model.tags.values_list("name", flat=True)) == {kept.name, "vision"}


def ai_model_form(model: AIModel | None = None, **overrides) -> dict:
    """The POST of the AI model page with no tag rows (add them with `model_tags-*` keys)."""
    data = {
        "name": model.name if model else "",
        "description": model.description if model else "",
        "model_type": model.model_type if model else AIModel.ModelType.CHAT,
        "family": model.family if model else "",
        "families": ",".join(model.families) if model else "",
        "parameter_size": model.parameter_size if model else "",
        "model_tags-TOTAL_FORMS": "0",
        "model_tags-INITIAL_FORMS": "0",
        "model_tags-MIN_NUM_FORMS": "0",
        "model_tags-MAX_NUM_FORMS": "1000",
    }
    if model is None or model.is_active:
        data["is_active"] = "on"
    return {**data, **overrides}


@pytest.mark.django_db
def test_adding_a_model_goes_through_the_catalogue_service(admin_user):
    # given
    tag = TagFactory(name="code")
    data = ai_model_form(
        name="qwen2.5-coder",
        family="qwen2",
        **{"model_tags-TOTAL_FORMS": "1", "model_tags-0-tag": str(tag.pk)},
    )
    # when
    response = login(admin_user).post(url(AIModel, "add"), data)
    # then the name is read the way Ollama reads it, and the tag went on with its search words
    assert response.status_code == 302
    model = AIModel.objects.get()
    assert response["Location"] == url(AIModel, "changelist")
    assert model.name == "qwen2.5-coder:latest"
    assert list(model.tags.values_list("name", flat=True)) == ["code"]
    assert model.tag_names == "code"


@pytest.mark.django_db
def test_editing_a_model_refreshes_explore_after_commit(admin_user, django_capture_on_commit_callbacks):
    # given
    model = AIModelFactory(is_active=True)
    before = catalogue_cache.version()
    # when unpublished and described anew
    with django_capture_on_commit_callbacks(execute=True):
        response = login(admin_user).post(
            url(AIModel, "change", model.pk),
            ai_model_form(model, description="Now with tools.", is_active=""),
        )
    # then
    assert response.status_code == 302
    model.refresh_from_db()
    assert (model.description, model.is_active) == ("Now with tools.", False)
    assert model.version == 3  # one edit, one unpublish
    assert catalogue_cache.version() > before


@pytest.mark.django_db
def test_renaming_a_tag_reaches_its_models_search_words(admin_user):
    pair = ModelTagFactory(tag__name="vision", tag__slug="vision")
    refresh_tag_names([pair.model_id])
    response = login(admin_user).post(
        url(Tag, "change", pair.tag_id), {"name": "multimodal", "slug": "multimodal", "description": ""}
    )
    assert response.status_code == 302
    pair.model.refresh_from_db()
    assert pair.model.tag_names == "multimodal"


@pytest.mark.django_db
def test_superuser_hard_delete_of_a_tag_takes_it_off_its_models(superuser):
    pair = ModelTagFactory(tag__name="vision", tag__slug="vision")
    refresh_tag_names([pair.model_id])
    response = run_action(login(superuser), Tag, "hard_delete_selected", [pair.tag], post="yes")
    assert response.status_code == 302
    assert not Tag.all_objects.filter(pk=pair.tag_id).exists()
    pair.model.refresh_from_db()
    assert pair.model.tag_names == ""


@pytest.mark.django_db
def test_superuser_hard_delete_of_a_conversation_leaves_no_orphan_messages(
    superuser, django_capture_on_commit_callbacks
):
    # given
    conversation = full_conversation()
    exchange = conversation.exchanges.get()
    attachment = Attachment.objects.get(conversation=conversation)
    stored = attachment.file.path
    client = login(superuser)
    # when deleted permanently
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client, Conversation, "hard_delete_selected", [conversation], post="yes")
    # then the conversation, its messages and its file are gone
    assert response.status_code == 302
    assert not Conversation.all_objects.filter(pk=conversation.pk).exists()
    assert not Prompt.all_objects.filter(pk=exchange.prompt_id).exists()
    assert not AIResponse.all_objects.filter(pk=exchange.response_id).exists()
    assert not Attachment.all_objects.filter(pk=attachment.pk).exists()
    assert not os.path.exists(stored)


@pytest.mark.django_db
def test_superuser_hard_delete_of_nested_folders_selected_together(superuser):
    folder = FolderFactory()
    child = FolderFactory(owner=folder.owner, parent=folder)
    conversation = ConversationFactory(owner=folder.owner, folder=child)
    response = run_action(login(superuser), Folder, "hard_delete_selected", [folder, child], post="yes")
    assert response.status_code == 302
    assert not Folder.all_objects.filter(owner=folder.owner).exists()
    assert not Conversation.all_objects.filter(pk=conversation.pk).exists()


@pytest.mark.django_db
def test_editing_a_conversation_goes_through_its_service(admin_user):
    # given
    conversation = ConversationFactory(title="Old")
    folder = FolderFactory(owner=conversation.owner)
    data = {
        "title": "  New title ",
        "folder": str(folder.pk),
        "system_message": "",
        "system_prompt": "",
        "default_options": "{}",
        "is_pinned": "on",
    }
    # when
    response = login(admin_user).post(url(Conversation, "change", conversation.pk), data)
    # then
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert (conversation.title, conversation.folder_id, conversation.is_pinned) == (
        "New title",
        folder.pk,
        True,
    )
    assert conversation.version == 2


@pytest.mark.django_db
def test_password_set_by_an_admin_signs_the_account_out_everywhere(admin_user):
    member = UserFactory()
    token = RefreshToken.for_user(member)
    response = login(admin_user).post(
        reverse("admin:auth_user_password_change", args=[member.pk]),
        {
            "password1": "another-long-passphrase",
            "password2": "another-long-passphrase",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    assert BlacklistedToken.objects.filter(token__jti=token["jti"]).exists()


@pytest.mark.django_db
def test_a_conversation_page_links_to_its_exchanges(admin_user):
    conversation = full_conversation()
    ExchangeFactory()  # someone else's
    client = login(admin_user)
    page = client.get(url(Conversation, "change", conversation.pk))
    link = f"{url(ConversationPromptResponse, 'changelist')}?conversation__id__exact={conversation.pk}"
    assert link.encode() in page.content
    listing = client.get(link)
    assert [e.conversation_id for e in listing.context["cl"].result_list] == [conversation.pk]


@pytest.mark.django_db
def test_autocomplete_offers_only_alive_rows(admin_user):
    conversation = ConversationFactory()
    alive = FolderFactory(owner=conversation.owner, name="Projects alive")
    gone = FolderFactory(owner=conversation.owner, name="Projects gone")
    core_services.soft_delete(gone)
    response = login(admin_user).get(
        reverse("admin:autocomplete"),
        {
            "app_label": "conversations_app",
            "model_name": "conversation",
            "field_name": "folder",
            "term": "Projects",
        },
    )
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(alive.pk)]


@pytest.mark.django_db
def test_message_search_is_full_text(admin_user):
    ExchangeFactory(prompt__content="How do volcanoes erupt?")
    ExchangeFactory(prompt__content="Tell me about glaciers")
    listing = login(admin_user).get(url(Prompt, "changelist"), {"q": "volcano"})
    assert [p.content for p in listing.context["cl"].result_list] == ["How do volcanoes erupt?"]


@pytest.mark.django_db
def test_an_unfiltered_big_table_shows_the_planners_estimate(admin_user, monkeypatch):
    # given a table PostgreSQL has analysed, then 2 more rows
    AuditEventFactory.create_batch(5, actor_repr="alice")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE admin_app_auditevent")
    analysed = AuditEvent.objects.count()
    AuditEventFactory.create_batch(2, actor_repr="bob")
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 1)
    client = login(admin_user)
    # then the whole list is not counted, a filtered one is
    assert client.get(url(AuditEvent, "changelist")).context["cl"].result_count == analysed
    assert AuditEvent.objects.count() > analysed
    assert client.get(url(AuditEvent, "changelist"), {"q": "bob"}).context["cl"].result_count == 2


@pytest.mark.django_db
def test_the_default_alive_list_of_a_big_table_is_estimated_too(admin_user, monkeypatch):
    # given an analysed table, then one more row
    ConversationFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_app_conversation")
    analysed = Conversation.all_objects.count()
    ConversationFactory()
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 1)
    client = login(admin_user)
    # then the default list (alive rows) takes the estimate, the trash is counted
    assert client.get(url(Conversation, "changelist")).context["cl"].result_count == analysed
    assert client.get(url(Conversation, "changelist"), {"deleted": "yes"}).context["cl"].result_count == 0


@pytest.mark.django_db
def test_view_site_goes_to_the_api_docs(admin_user):
    page = login(admin_user).get(reverse("admin:index"))
    assert page.context["site_url"] == "/api/docs/"
    assert b'href="/api/docs/"' in page.content


# --- readable labels, tables that fit -------------------------------------------------------------


def result_cells(response) -> list[list[str]]:
    """The text of each cell of each row of a change list, as shown."""
    table = response.content.split(b'id="result_list"', 1)[1]
    rows = re.findall(rb"<tr[^>]*>(.*?)</tr>", table, re.S)
    cells = [re.findall(rb"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S) for row in rows[1:]]
    return [[html.unescape(re.sub(rb"<[^>]+>", b"", cell).decode()).strip() for cell in row] for row in cells]


@pytest.mark.django_db
def test_rows_have_readable_labels(admin_user):
    # given an untitled conversation, a titled one, and a model-tag pair
    untitled = ConversationFactory(title="")
    ExchangeFactory(conversation=untitled, prompt__content="How   do volcanoes\nerupt?")
    ConversationFactory(title="Trip planning")
    pair = ModelTagFactory(model__name="llama3.2:3b", tag__name="vision")
    client = login(admin_user)
    # when
    conversations = client.get(url(Conversation, "changelist"))
    untitled_page = client.get(url(Conversation, "change", untitled.pk))
    pairs = client.get(url(ModelTag, "changelist"))
    # then
    titles = {row[1] for row in result_cells(conversations)}
    assert {"How do volcanoes erupt?", "Trip planning"} <= titles
    assert b"How do volcanoes erupt?" in untitled_page.content  # the page's title and breadcrumbs
    assert b"Conversation 0" not in conversations.content
    assert str(pair) == "llama3.2:3b · vision"
    assert "llama3.2:3b · vision" in pairs.content.decode()


@pytest.mark.django_db
def test_the_current_exchange_is_named_by_its_position(admin_user):
    # given a conversation with two exchanges, the second current
    first = ExchangeFactory(prompt__content="First question")
    second = ExchangeFactory(
        conversation=first.conversation, parent=first, position=1, prompt__content="Second question"
    )
    Conversation.objects.filter(pk=first.conversation_id).update(current_exchange=second)
    # when
    page = login(admin_user).get(url(Conversation, "change", first.conversation_id))
    # then
    link = f'<a href="{url(ConversationPromptResponse, "change", second.pk)}">Position 1: Second question</a>'
    assert link.encode() in page.content
    assert str(first) == "Exchange at position 0"


@pytest.mark.django_db
def test_change_lists_fit_on_a_1400_px_screen(admin_user):
    # given rows full of long text
    long = "word " * 60
    owner = UserFactory()
    folder = FolderFactory(owner=owner, name=long.strip()[:100])
    conversation = ConversationFactory(owner=owner, folder=folder, title=long.strip()[:255])
    exchange = ExchangeFactory(conversation=conversation, prompt__content=long, response__content=long)
    FeedbackFactory(response=exchange.response, user=owner, comment=long)
    NoteFactory(response=exchange.response, owner=owner, content=long)
    AttachmentFactory(conversation=conversation, original_name=("x" * 200) + ".txt")
    SharedLinkFactory(conversation=conversation)
    LeaderboardEntryFactory()
    ModelPullFactory(detail=long[:200])
    model = AIModelFactory()
    for n in range(12):
        ModelTagFactory(model=model, tag__name=f"a-rather-long-tag-{n}")
    SystemMessageFactory(content=long)
    _refresh_token(blacklisted=True)
    _labelled()
    TransferJob.objects.create(owner=owner, kind="import", original_name=long.strip()[:200])
    key, _ = create_api_key(owner, name=long.strip()[:100])
    record_usage(owner, key, prompt_tokens=1, eval_tokens=1)
    RoleModelAccess.objects.create(role_id=Group.objects.get(name=USER_ROLE).pk, model=model)
    client = login(admin_user)
    for listed in MODELS:
        # when
        listing = client.get(url(listed, "changelist"))
        # then: a handful of columns, none of them a wall of text
        assert b'id="result_list"' in listing.content, listed
        rows = result_cells(listing)
        assert len(listing.context["cl"].list_display) <= 9, listed  # the checkbox and eight columns
        widest = max(len(cell) for row in rows for cell in row)
        assert widest <= 81, (listed, widest)


@pytest.mark.django_db
def test_publish_and_unpublish_actions(admin_user, django_capture_on_commit_callbacks):
    # given
    hidden, shown = AIModelFactory(is_active=False), AIModelFactory(is_active=True)
    before = catalogue_cache.version()
    client = login(admin_user)
    # when published, then unpublished
    with django_capture_on_commit_callbacks(execute=True):
        run_action(client, AIModel, "publish_selected", [hidden, shown])
    hidden.refresh_from_db()
    assert (hidden.is_active, hidden.version) == (True, 2)
    assert catalogue_cache.version() > before
    messages = [str(m) for m in client.get(url(AIModel, "changelist")).context["messages"]]
    assert messages == ["1 AI model published."]
    run_action(client, AIModel, "unpublish_selected", [hidden, shown])
    # then
    assert not AIModel.objects.filter(pk__in=[hidden.pk, shown.pk], is_active=True).exists()


# --- query counts do not grow with rows -------------------------------------------------------------


def _rows(model, count: int) -> None:
    for _ in range(count):
        MAKERS[model]()
    if model is AuditEvent:
        # Targets of both kinds the list links by name, whatever the migrations happened to record.
        AuditEventFactory(target_type="auth.group", target_id=str(Group.objects.get(name=USER_ROLE).pk))


# Queries of one changelist page for an Admin-role user: session, user, role check, then the page's
# own (count, rows, prefetches, filter choices). The same whatever the number of rows.
CHANGELIST_QUERIES = {
    User: 8,
    Role: 6,
    OutstandingToken: 6,
    BlacklistedToken: 6,
    Tag: 6,
    AIModel: 9,
    ModelTag: 7,
    RoleModelAccess: 7,  # + the role filter's choices
    SystemMessage: 6,
    AuditEvent: 10,  # + the action and target-type choices, the targets (users, roles) by kind
    ModelPull: 6,
    Folder: 6,
    Conversation: 7,
    ConversationPromptResponse: 6,
    Prompt: 6,
    AIResponse: 6,
    Feedback: 6,
    Note: 6,
    Attachment: 6,
    Label: 6,
    ConversationLabel: 6,
    TransferJob: 6,
    ApiKey: 6,
    ApiUsage: 6,
    SharedLink: 6,
    LeaderboardEntry: 6,
}


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [3, 20])
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelist_query_count_does_not_grow_with_rows(admin_user, django_assert_num_queries, model, rows):
    # given
    _rows(model, rows)
    client = login(admin_user)
    # when / then
    with django_assert_num_queries(CHANGELIST_QUERIES[model]):
        response = client.get(url(model, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= rows


@pytest.mark.django_db
def test_an_api_keys_own_limit_is_set_in_the_admin_and_audited(admin_user):
    key, _ = create_api_key(UserFactory(), name="ci")
    client = login(admin_user)
    page = client.get(url(ApiKey, "change", key.pk))
    assert "key_hash" not in page.content.decode()

    response = client.post(url(ApiKey, "change", key.pk), {"requests_per_minute": "7", "tokens_per_day": ""})

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    key.refresh_from_db()
    assert key.requests_per_minute == 7
    event = AuditEvent.objects.get(action="api_key_quota_changed", target_id=str(key.pk))
    assert event.after == {"requests_per_minute": 7}
    assert event.actor_id == admin_user.pk


@pytest.mark.django_db
def test_revoke_selected_api_keys(admin_user):
    key, _ = create_api_key(UserFactory(), name="leaked")

    client = login(admin_user)
    client.post(url(ApiKey, "changelist"), {"action": "revoke_selected", "_selected_action": [key.pk]})

    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(action="api_key_revoked", target_id=str(key.pk)).exists()


# --- access: approvals, temporary passwords, role model access ----------------------------------------


@pytest.mark.django_db
def test_approve_and_reject_actions_decide_pending_registrations(admin_user):
    # given
    waiting, spam = (UserFactory(is_active=False, approval_status="pending") for _ in range(2))
    client = login(admin_user)
    pending = client.get(url(User, "changelist"), {"approval_status__exact": "pending"}).context["cl"]
    assert set(pending.result_list) == {waiting, spam}
    # when
    run_action(client, User, "approve_selected", [waiting])
    run_action(client, User, "reject_selected", [spam])
    # then
    waiting.refresh_from_db()
    spam.refresh_from_db()
    assert (waiting.approval_status, waiting.is_active) == ("approved", True)
    assert (spam.approval_status, spam.deleted_at is not None) == ("rejected", True)
    actions = dict(
        AuditEvent.objects.filter(target_id__in=[str(waiting.pk), str(spam.pk)])
        .exclude(action="created")
        .values_list("target_id", "action")
    )
    assert actions == {str(waiting.pk): "updated", str(spam.pk): "soft_deleted"}
    assert Client().login(username=waiting.username, password=DEFAULT_PASSWORD)


@pytest.mark.django_db
def test_add_user_form_with_a_temporary_password(admin_user):
    response = login(admin_user).post(
        url(User, "add"),
        {
            "username": "intern",
            "email": "intern@example.com",
            "usable_password": "true",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
            "password_change_required": "on",
        },
    )
    assert response.status_code == 302
    created = User.objects.get(username="intern")
    assert created.password_change_required is True
    assert created.check_password("a-long-enough-passphrase")


@pytest.mark.django_db
def test_send_password_link_action_mails_an_invitation(admin_user, django_capture_on_commit_callbacks):
    from django.core import mail

    invited = UserFactory(email="invited@example.com")
    invited.set_unusable_password()
    invited.save(update_fields=["password"])
    with django_capture_on_commit_callbacks(execute=True):
        run_action(login(admin_user), User, "send_password_link", [invited])
    assert [message.to for message in mail.outbox] == [["invited@example.com"]]
    assert "created an OllamaNet account for you" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="password_link_sent", target_id=str(invited.pk)).exists()


@pytest.mark.django_db
def test_role_model_access_is_added_and_removed_in_the_admin_and_audited(admin_user):
    # given
    client = login(admin_user)
    role = Role.objects.get(name=USER_ROLE)
    model = AIModelFactory()
    # when
    response = client.post(url(RoleModelAccess, "add"), {"role": role.pk, "model": model.pk, "tag": ""})
    # then
    assert response.status_code == 302, response.content
    entry = RoleModelAccess.objects.get()
    assert (entry.role_id, entry.model_id) == (role.pk, model.pk)
    created = AuditEvent.objects.get(target_type="models_app.rolemodelaccess", action="created")
    assert created.actor_id == admin_user.pk
    # when neither a model nor a tag is chosen
    refused = client.post(url(RoleModelAccess, "add"), {"role": role.pk, "model": "", "tag": ""})
    # then
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors
    # when removed
    client.post(url(RoleModelAccess, "delete", entry.pk), {"post": "yes"})
    # then
    assert not RoleModelAccess.objects.exists()
    assert AuditEvent.objects.filter(target_type="models_app.rolemodelaccess", action="deleted").count() == 1
