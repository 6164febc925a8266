"""`manage.py load_demo_data`: what a fresh installation gets, and that every later start changes nothing."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from admin_app.demo_data import DEFAULT_DEMO_PASSWORD, demo_data
from admin_app.models import SystemMessage
from conversations_app.models import (
    AIResponse,
    Conversation,
    Feedback,
    Folder,
    Note,
)
from core import services as core_services
from core.permissions import ADMIN_ROLE, USER_ROLE
from models_app import services as catalogue_services
from models_app.models import AIModel, ModelTag, Tag, size_label
from tests.auth_app.factories import UserFactory

pytestmark = pytest.mark.django_db

GENERATED_PASSWORD = re.compile(r'Admin account created: username "admin", password "([^"]+)"')
REQUIRED_MODELS = [
    "llama3.2:1b",
    "llama3.2:3b",
    "llama3.1:8b",
    "llama3.1:70b",
    "llama3.3:70b",
    "qwen2.5:0.5b",
    "qwen2.5:72b",
    "qwen2.5-coder:7b",
    "mistral:7b",
    "mistral-nemo:12b",
    "mixtral:8x7b",
    "gemma2:2b",
    "gemma2:9b",
    "gemma2:27b",
    "gemma3:4b",
    "phi3:mini",
    "phi4:14b",
    "deepseek-r1:1.5b",
    "deepseek-r1:32b",
    "deepseek-coder-v2:16b",
    "codellama:7b",
    "llava:7b",
    "llama3.2-vision:11b",
    "starcoder2:3b",
]


@pytest.fixture(autouse=True)
def _no_passwords_from_environment(settings):
    settings.DEMO_ADMIN_PASSWORD = ""
    settings.DEMO_USER_PASSWORD = ""


@pytest.fixture
def trimmed_catalogue(monkeypatch):
    """The demo data with only the models these tests touch: creating the whole catalogue through
    the catalogue services takes a while, and tests about accounts or history do not need it."""
    full = demo_data()
    used = {conversation["model"] for conversation in full["demo_user"]["conversations"]}
    used |= {"llama3.1:8b", "gemma2:9b", "codellama:7b", "tinyllama:1.1b"}
    trimmed = {**full, "models": [model for model in full["models"] if model["name"] in used]}
    monkeypatch.setattr("admin_app.demo_data.loader.demo_data", lambda: trimmed)


def load(verbosity: int = 1) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("load_demo_data", stdout=out, stderr=err, verbosity=verbosity)
    return out.getvalue(), err.getvalue()


def row_counts() -> dict[str, int]:
    """Rows in every table of the project, soft-deleted ones and many-to-many tables included."""
    return {
        model._meta.db_table: model._base_manager.count()
        for model in apps.get_models(include_auto_created=True)
    }


def test_second_run_adds_changes_and_prints_nothing_new():
    # given
    first_out, first_err = load()
    after_first = row_counts()
    updated_at = {
        model._meta.label: sorted(model._base_manager.values_list("updated_at", flat=True))
        for model in (AIModel, Tag, SystemMessage, Conversation, Folder)
    }
    # when
    second_out, second_err = load()
    # then
    assert row_counts() == after_first
    assert after_first[AIModel._meta.db_table] >= 30
    assert after_first[ModelTag._meta.db_table] > after_first[AIModel._meta.db_table]
    assert updated_at == {
        model._meta.label: sorted(model._base_manager.values_list("updated_at", flat=True))
        for model in (AIModel, Tag, SystemMessage, Conversation, Folder)
    }
    assert "Demo data: created" in first_out
    assert "nothing to add" in second_out
    assert first_err == second_err == ""


def test_second_run_is_a_handful_of_queries(django_assert_max_num_queries):
    load()
    with django_assert_max_num_queries(10):
        load()


@pytest.mark.usefixtures("trimmed_catalogue")
def test_generated_admin_password_is_printed_once_and_works():
    # when
    first_out, _ = load()
    second_out, _ = load()
    # then
    password = GENERATED_PASSWORD.search(first_out).group(1)
    assert len(password) >= 20
    assert "shown only once" in first_out
    assert authenticate(username="admin", password=password).username == "admin"
    assert password not in second_out
    assert GENERATED_PASSWORD.search(second_out) is None
    assert 'Admin account "admin" already exists' in second_out
    assert "python manage.py changepassword admin" in second_out


@pytest.mark.usefixtures("trimmed_catalogue")
def test_generated_password_is_printed_even_when_quiet():
    out, _ = load(verbosity=0)

    password = GENERATED_PASSWORD.search(out).group(1)
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert "Demo data:" not in out


@pytest.mark.usefixtures("trimmed_catalogue")
def test_admin_gets_the_password_from_the_environment(settings):
    # given
    settings.DEMO_ADMIN_PASSWORD = "Plenty-of-entropy-4-admin"
    # when
    out, err = load()
    # then
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password("Plenty-of-entropy-4-admin")
    assert authenticate(username="admin@ollamanet.local", password="Plenty-of-entropy-4-admin") == admin
    assert "Plenty-of-entropy-4-admin" not in out
    assert "password from DEMO_ADMIN_PASSWORD" in out
    assert (admin.email, admin.is_staff, admin.is_superuser, admin.is_active) == (
        "admin@ollamanet.local",
        True,
        True,
        True,
    )
    assert list(admin.groups.values_list("name", flat=True)) == [ADMIN_ROLE]
    assert err == ""


@pytest.mark.usefixtures("trimmed_catalogue")
def test_weak_password_from_the_environment_is_used_with_a_warning(settings):
    settings.DEMO_ADMIN_PASSWORD = "admin"

    _, err = load()

    assert "DEMO_ADMIN_PASSWORD is weak" in err
    assert get_user_model().objects.get(username="admin").check_password("admin")


@pytest.mark.usefixtures("trimmed_catalogue")
def test_existing_admin_password_is_never_reset(settings):
    # given: an operator changed the password after the first start
    load()
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("chosen-by-the-operator")
    admin.save(update_fields=["password"])
    settings.DEMO_ADMIN_PASSWORD = "Plenty-of-entropy-4-admin"
    # when
    load()
    # then
    admin.refresh_from_db()
    assert admin.check_password("chosen-by-the-operator")
    assert not admin.check_password("Plenty-of-entropy-4-admin")


@pytest.mark.usefixtures("trimmed_catalogue")
def test_admin_in_the_trash_is_left_there():
    # given
    deleted_admin = UserFactory(username="admin", email="old-admin@example.com")
    core_services.soft_delete(deleted_admin)
    # when
    out, err = load()
    # then
    assert not get_user_model().objects.filter(username="admin").exists()
    assert GENERATED_PASSWORD.search(out) is None
    assert 'Admin account "admin" is in the trash' in err


@pytest.mark.usefixtures("trimmed_catalogue")
def test_admin_email_taken_by_someone_else_is_reported():
    UserFactory(username="alice", email="Admin@ollamanet.local")

    _, err = load()

    assert not get_user_model().objects.filter(username="admin").exists()
    assert "its e-mail address belongs to another account" in err


@pytest.mark.usefixtures("trimmed_catalogue")
def test_roles_are_recreated_when_missing():
    Group.objects.filter(name=USER_ROLE).delete()

    out, _ = load()

    assert set(Group.objects.values_list("name", flat=True)) >= {USER_ROLE, ADMIN_ROLE}
    assert "roles: 1" in out
    demo = get_user_model().objects.get(username="demo")
    assert list(demo.groups.values_list("name", flat=True)) == [USER_ROLE]


@pytest.mark.usefixtures("trimmed_catalogue")
def test_demo_user_logs_in_with_the_default_or_environment_password(settings):
    out, _ = load()

    assert f'Demo user created: username "demo", password "{DEFAULT_DEMO_PASSWORD}"' in out
    assert authenticate(username="demo", password=DEFAULT_DEMO_PASSWORD).email == "demo@ollamanet.local"

    get_user_model().objects.get(username="demo").delete()
    settings.DEMO_USER_PASSWORD = "Another-long-passphrase"
    out, _ = load()

    assert "password from DEMO_USER_PASSWORD" in out
    assert authenticate(username="demo", password="Another-long-passphrase") is not None


def test_catalogue_has_published_ollama_models_with_realistic_metadata():
    load()

    published = list(AIModel.objects.published().prefetch_related("tags"))
    names = {model.name for model in published}
    assert len(published) >= 30
    assert set(REQUIRED_MODELS) <= names
    assert {"nomic-embed-text:v1.5", "mxbai-embed-large:335m", "all-minilm:22m"} <= names
    for model in published:
        family, _, tag = model.name.partition(":")
        assert family, model.name
        assert tag, model.name
        assert model.reference_link == f"https://ollama.com/library/{model.name}"
        assert model.size_label == size_label(model.size)
        assert model.parameter_count > 0
        assert model.format == "gguf"
        filled = ("parameter_size", "quantization_level", "file_type", "description", "family")
        filled += ("architecture", "license", "languages", "released_at")
        assert all(getattr(model, name) not in (None, "", []) for name in filled), model.name
        assert model.install_status == AIModel.InstallStatus.NOT_INSTALLED
        assert model.tags.all(), model.name
    by_name = {model.name: model for model in published}
    assert by_name["llama3.1:8b"].size_label == "4.9GB"
    assert by_name["llama3.1:70b"].size_label == "43GB"
    assert by_name["qwen2.5:0.5b"].size_label == "398MB"
    assert by_name["nomic-embed-text:v1.5"].model_type == AIModel.ModelType.EMBEDDING
    assert by_name["deepseek-r1:7b"].model_type == AIModel.ModelType.REASONING
    assert {tag.name for tag in by_name["llava:7b"].tags.all()} >= {"vision"}
    assert {tag.name for tag in by_name["llama3.2:1b"].tags.all()} >= {"small", "chat"}
    assert {tag.name for tag in by_name["llama3.3:70b"].tags.all()} >= {"large"}


def test_tags_have_descriptions_and_models():
    load()

    tags = list(Tag.objects.all())
    assert 12 <= len(tags) <= 20
    for tag in tags:
        assert tag.description
        assert tag.slug == tag.name
        assert tag.ai_models.exists(), tag.name


@pytest.mark.usefixtures("trimmed_catalogue")
def test_system_messages_are_active_and_named():
    load()

    names = set(SystemMessage.objects.filter(is_active=True).values_list("name", flat=True))
    assert 3 <= len(names) <= 5
    assert {"Default assistant", "Code reviewer", "Translator"} <= names


@pytest.mark.usefixtures("trimmed_catalogue")
def test_operator_changes_to_the_catalogue_survive_a_restart():
    # given: an operator edits, deletes and untags demo rows
    load()
    catalogue_services.aimodel_update(
        model=AIModel.objects.get(name="llama3.1:8b"), description="Our house model."
    )
    catalogue_services.aimodel_soft_delete(model=AIModel.objects.get(name="tinyllama:1.1b"))
    catalogue_services.tag_soft_delete(tag=Tag.objects.get(name="math"))
    code = Tag.objects.get(name="code")
    catalogue_services.aimodel_tags_remove(model=AIModel.objects.get(name="codellama:7b"), tag_ids=[code.pk])
    core_services.soft_delete(SystemMessage.objects.get(name="Concise"))
    counts = row_counts()
    # when
    load()
    # then
    assert row_counts() == counts
    assert AIModel.objects.get(name="llama3.1:8b").description == "Our house model."
    assert not AIModel.objects.filter(name="tinyllama:1.1b").exists()
    assert not Tag.objects.filter(name="math").exists()
    assert not ModelTag.objects.filter(model__name="codellama:7b", tag=code).exists()
    assert not SystemMessage.objects.filter(name="Concise").exists()


@pytest.mark.usefixtures("trimmed_catalogue")
def test_new_demo_tag_is_attached_to_existing_models_and_taken_tags_are_reused():
    # given: a catalogue from before the "tools" tag, and an operator's own "Code" tag
    load()
    Tag.objects.filter(name="tools").delete()
    catalogue_services.tag_update(tag=Tag.objects.get(name="code"), name="Code")
    # when
    out, _ = load()
    # then
    tools = Tag.objects.get(name="tools")
    assert tools.ai_models.filter(name="llama3.1:8b").exists()
    assert not tools.ai_models.filter(name="gemma2:9b").exists()
    assert Tag.all_objects.filter(name__iexact="code").count() == 1
    assert "created tags: 1, model tags:" in out


@pytest.mark.usefixtures("trimmed_catalogue")
def test_demo_user_has_nested_folders_and_branched_conversations():
    load()

    demo = get_user_model().objects.get(username="demo")
    folders = {folder.name: folder for folder in Folder.objects.filter(owner=demo)}
    assert len(folders) == 2
    nested = [folder for folder in folders.values() if folder.parent_id is not None]
    assert len(nested) == 1
    assert nested[0].parent.owner == demo
    conversations = list(Conversation.objects.filter(owner=demo).select_related("current_exchange"))
    assert len(conversations) == 3
    assert {conversation.folder_id for conversation in conversations} >= {nested[0].pk, None}
    branched = 0
    for conversation in conversations:
        exchanges = list(conversation.exchanges.select_related("prompt", "response"))
        responses = [exchange.response for exchange in exchanges]
        # the current exchange is a leaf of this conversation, reached from a root one step at a time
        leaf = conversation.current_exchange
        assert leaf.conversation_id == conversation.pk
        assert not any(exchange.parent_id == leaf.pk for exchange in exchanges)
        by_id = {exchange.pk: exchange for exchange in exchanges}
        branch = [leaf]
        while branch[-1].parent_id:
            branch.append(by_id[branch[-1].parent_id])
        assert [exchange.position for exchange in reversed(branch)] == list(range(len(branch)))
        # totals agree with the stored answers
        assert conversation.message_count == 2 * len(exchanges)
        assert conversation.prompt_tokens == sum(response.prompt_eval_count for response in responses)
        assert conversation.completion_tokens == sum(response.eval_count for response in responses)
        assert conversation.last_message_at >= max(exchange.created_at for exchange in exchanges)
        assert conversation.model_name == conversation.model.name
        assert conversation.system_message.is_active
        assert conversation.system_prompt == ""
        for exchange in exchanges:
            response = exchange.response
            assert response.status == AIResponse.Status.COMPLETE
            assert response.content
            assert response.model_name == conversation.model_name
            assert exchange.prompt.token_count == response.prompt_eval_count
            assert response.total_duration > response.eval_duration > 0
            assert exchange.created_at < response.completed_at
        # a regenerated answer is a sibling: same parent and prompt; the branch follows the newer one
        for exchange in exchanges:
            siblings = [
                other
                for other in exchanges
                if other.parent_id == exchange.parent_id and other.position == exchange.position
            ]
            if len(siblings) > 1 and exchange is siblings[0]:
                branched += 1
                assert len({sibling.prompt.content for sibling in siblings}) == 1
                newest = max(siblings, key=lambda sibling: sibling.created_at)
                assert newest in branch
                assert all(sibling not in branch for sibling in siblings if sibling is not newest)
    assert branched == 1


@pytest.mark.usefixtures("trimmed_catalogue")
def test_demo_feedback_and_notes_point_at_real_answers():
    load()

    demo = get_user_model().objects.get(username="demo")
    feedback = list(Feedback.objects.filter(user=demo).select_related("response__exchange__conversation"))
    assert {item.rating for item in feedback} == {Feedback.Rating.UP, Feedback.Rating.DOWN}
    assert all(item.response.exchange.conversation.owner == demo for item in feedback)
    notes = list(Note.objects.filter(owner=demo).select_related("response"))
    assert notes
    expected_quotes = {
        note["quote"]
        for conversation in demo_data()["demo_user"]["conversations"]
        for exchange in conversation["exchanges"]
        for note in exchange.get("notes", [])
    }
    quoted = set()
    for note in notes:
        assert 0 <= note.from_index < note.to_index <= len(note.response.content)
        quoted.add(note.response.content[note.from_index : note.to_index])
    assert quoted == expected_quotes


@pytest.mark.usefixtures("trimmed_catalogue")
def test_demo_history_is_not_put_back_once_the_user_has_it():
    # given: the demo user deletes a conversation for good
    load()
    conversation = Conversation.objects.get(owner__username="demo", title="Why is the sky blue?")
    conversation.delete()
    # when
    load()
    # then
    assert not Conversation.all_objects.filter(title="Why is the sky blue?").exists()
    assert Conversation.objects.filter(owner__username="demo").count() == 2


@pytest.mark.usefixtures("trimmed_catalogue")
def test_missing_demo_model_skips_its_conversation_with_a_warning():
    # given: the demo user is gone and an operator removed one of the models its history uses
    load()
    get_user_model().objects.get(username="demo").delete()
    catalogue_services.aimodel_unpublish(model=AIModel.objects.get(name="mistral-nemo:12b"))
    # when
    _, err = load()
    # then
    assert "model mistral-nemo:12b is not published" in err
    assert Conversation.objects.filter(owner__username="demo").count() == 2
