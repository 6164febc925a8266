"""Catalogue writes: validation, optimistic concurrency, soft delete, tags, cache invalidation."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError

from core.exceptions import Conflict, PreconditionFailed, ValidationFailed
from models_app import services
from models_app.cache import catalogue_cache
from models_app.models import AIModel, InstallStatus, ModelTag, Tag
from models_app.selectors import aimodel_search_query
from tests.models_app.factories import AIModelFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def invalidations(monkeypatch) -> list[str]:
    """Records each catalogue invalidation that actually ran (i.e. after a commit)."""
    calls: list[str] = []
    monkeypatch.setattr(catalogue_cache, "invalidate", lambda: calls.append("invalidate"))
    return calls


# --- models -------------------------------------------------------------------------------------------


def test_create_normalises_the_name_links_tags_and_invalidates_after_commit(
    invalidations, django_capture_on_commit_callbacks
):
    vision = TagFactory(name="vision", slug="vision")

    with django_capture_on_commit_callbacks(execute=True):
        model = services.aimodel_create(
            name="  llava ", family="llava", description="Sees images", tag_ids=[vision.pk]
        )
        assert invalidations == []  # not before the commit

    assert model.name == "llava:latest"
    assert model.is_active is False
    assert list(model.tags.all()) == [vision]
    assert model.tag_names == "vision"
    assert invalidations == ["invalidate"]


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "ok:1", "size": -1}, "__all__"),
        ({"name": "ok:2", "reference_link": "not a url"}, "reference_link"),
        ({"name": "ok:3", "model_type": "toaster"}, "model_type"),
        ({"name": "ok:4", "parameter_size": "x" * 21}, "parameter_size"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(fields, bad_field, invalidations):
    with pytest.raises(ValidationError) as excinfo:
        services.aimodel_create(**fields)

    assert bad_field in excinfo.value.message_dict
    assert AIModel.all_objects.count() == 0
    assert invalidations == []


def test_create_refuses_fields_callers_may_not_set():
    with pytest.raises(ValidationFailed) as excinfo:
        services.aimodel_create(name="a:1", version=7, search_vector="x")

    assert set(excinfo.value.fields) == {"version", "search_vector"}
    assert not AIModel.all_objects.exists()


def test_create_with_an_unknown_tag_rolls_everything_back():
    with pytest.raises(ValidationFailed) as excinfo:
        services.aimodel_create(name="a:1", tag_ids=[uuid.uuid4()])

    assert "tag_ids" in excinfo.value.fields
    assert not AIModel.all_objects.exists()
    assert not ModelTag.objects.exists()


def test_names_are_unique_case_insensitively_among_alive_models_only():
    old = AIModelFactory(name="Mistral:7b")

    with pytest.raises(ValidationError) as excinfo:
        services.aimodel_create(name="mistral:7B")
    assert excinfo.value.message_dict["name"] == ["A model with this name already exists."]

    services.aimodel_soft_delete(model=old)
    again = services.aimodel_create(name="mistral:7B")
    assert again.pk != old.pk


def test_update_writes_changes_and_bumps_the_version(invalidations, django_capture_on_commit_callbacks):
    model = AIModelFactory(description="old")

    with django_capture_on_commit_callbacks(execute=True):
        updated = services.aimodel_update(model=model, expected_version=1, description="new", family="qwen")

    model.refresh_from_db()
    assert (model.description, model.family, model.version) == ("new", "qwen", 2)
    assert updated.version == 2
    assert invalidations == ["invalidate"]


def test_update_with_a_stale_version_is_refused_and_changes_nothing(invalidations):
    model = AIModelFactory(description="old")
    services.aimodel_update(model=model, description="newer")

    with pytest.raises(PreconditionFailed):
        services.aimodel_update(
            model=AIModel.objects.get(pk=model.pk), expected_version=1, description="lost"
        )

    model.refresh_from_db()
    assert (model.description, model.version) == ("newer", 2)


def test_update_without_changes_writes_nothing_but_still_checks_the_version():
    model = AIModelFactory(description="same")

    assert services.aimodel_update(model=model, description="same").version == 1
    with pytest.raises(PreconditionFailed):
        services.aimodel_update(model=model, expected_version=5, description="same")


def test_update_to_a_taken_name_is_a_validation_error():
    AIModelFactory(name="taken:1")
    model = AIModelFactory(name="mine:1")

    with pytest.raises(ValidationError) as excinfo:
        services.aimodel_update(model=model, name="TAKEN:1")

    assert "name" in excinfo.value.message_dict
    model.refresh_from_db()
    assert model.name == "mine:1"


def test_publish_and_unpublish_are_idempotent_and_versioned(
    invalidations, django_capture_on_commit_callbacks
):
    model = AIModelFactory(is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        services.aimodel_publish(model=model)
        services.aimodel_publish(model=model)
    assert model.is_active is True
    assert model.version == 2
    assert invalidations == ["invalidate"]

    with pytest.raises(PreconditionFailed):
        services.aimodel_unpublish(model=model, expected_version=1)
    services.aimodel_unpublish(model=model, expected_version=2)
    assert AIModel.objects.get(pk=model.pk).is_active is False


def test_a_deleted_model_cannot_be_published():
    model = AIModelFactory(is_active=False)
    services.aimodel_soft_delete(model=model)

    with pytest.raises(Conflict):
        services.aimodel_publish(model=model)


def test_soft_delete_keeps_tag_links_and_restore_brings_the_model_back(
    invalidations, django_capture_on_commit_callbacks
):
    tag = TagFactory()
    model = AIModelFactory(tags=[tag])

    with django_capture_on_commit_callbacks(execute=True):
        services.aimodel_soft_delete(model=model)
    assert not AIModel.objects.filter(pk=model.pk).exists()
    assert ModelTag.objects.filter(model=model).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.aimodel_restore(model=model)
    assert list(AIModel.objects.get(pk=model.pk).tags.all()) == [tag]
    assert invalidations == ["invalidate", "invalidate"]


def test_restore_is_refused_when_an_alive_model_took_the_name():
    model = AIModelFactory(name="phi3:mini")
    services.aimodel_soft_delete(model=model)
    AIModelFactory(name="PHI3:mini")

    with pytest.raises(Conflict):
        services.aimodel_restore(model=model)

    assert AIModel.all_objects.get(pk=model.pk).deleted_at is not None


def test_install_state_changes_do_not_bump_the_version_and_invalidate_only_on_status_change(
    invalidations, django_capture_on_commit_callbacks
):
    model = AIModelFactory()

    with django_capture_on_commit_callbacks(execute=True):
        services.aimodel_install_state_set(model=model, status=InstallStatus.PULLING, progress=10)
        services.aimodel_install_state_set(model=model, status=InstallStatus.PULLING, progress=60)
        services.aimodel_install_state_set(model=model, status=InstallStatus.INSTALLED)

    model.refresh_from_db()
    assert (model.install_status, model.install_progress, model.version) == ("installed", 100, 1)
    assert invalidations == ["invalidate", "invalidate"]
    with pytest.raises(ValidationFailed):
        services.aimodel_install_state_set(model=model, status="exploded")
    with pytest.raises(ValidationFailed):
        services.aimodel_install_state_set(model=model, status=InstallStatus.PULLING, progress=101)


# --- tags of a model ----------------------------------------------------------------------------------


def test_adding_tags_reports_added_already_present_and_not_found(
    invalidations, django_capture_on_commit_callbacks
):
    code, chat, gone = TagFactory(name="code"), TagFactory(name="chat"), TagFactory(name="gone")
    services.tag_soft_delete(tag=gone)
    model = AIModelFactory(tags=[chat])
    unknown = uuid.uuid4()
    invalidations.clear()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.aimodel_tags_add(
            model=model, tag_ids=[code.pk, str(chat.pk), unknown, gone.pk, "not-a-uuid", code.pk]
        )

    assert outcome.added == [code]
    assert outcome.already_present == [chat]
    assert sorted(outcome.not_found) == sorted([str(unknown), str(gone.pk), "not-a-uuid"])
    assert set(model.tags.all()) == {chat, code}
    model.refresh_from_db()
    assert model.tag_names == "chat code"
    assert model.version == 3  # one bump for the factory's tag, one for this change
    assert invalidations == ["invalidate"]


def test_adding_nothing_new_writes_nothing(invalidations, django_capture_on_commit_callbacks):
    tag = TagFactory()
    model = AIModelFactory(tags=[tag])
    invalidations.clear()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.aimodel_tags_add(model=model, tag_ids=[tag.pk])

    assert outcome.added == []
    assert AIModel.objects.get(pk=model.pk).version == 2
    assert invalidations == []


def test_removing_tags_reports_removed_not_present_and_not_found(
    invalidations, django_capture_on_commit_callbacks
):
    code, chat = TagFactory(name="code"), TagFactory(name="chat")
    model = AIModelFactory(tags=[code])
    invalidations.clear()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.aimodel_tags_remove(model=model, tag_ids=[code.pk, chat.pk, "nope"])

    assert (outcome.removed, outcome.not_present, outcome.not_found) == ([code], [chat], ["nope"])
    assert not model.tags.exists()
    assert AIModel.objects.get(pk=model.pk).tag_names == ""
    assert invalidations == ["invalidate"]


def test_tags_of_a_deleted_model_cannot_change():
    tag = TagFactory()
    model = AIModelFactory()
    services.aimodel_soft_delete(model=model)

    with pytest.raises(Conflict):
        services.aimodel_tags_add(model=model, tag_ids=[tag.pk])

    assert not ModelTag.objects.exists()


# --- tags ---------------------------------------------------------------------------------------------


def test_tag_create_makes_a_slug_and_invalidates(invalidations, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tag = services.tag_create(name="  Code Llama ", description="Coding models")

    assert (tag.name, tag.slug) == ("Code Llama", "code-llama")
    assert invalidations == ["invalidate"]


@pytest.mark.parametrize(
    ("kwargs", "bad_field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "!!!"}, "slug"),
        ({"name": "fine", "slug": "not a slug"}, "slug"),
        ({"name": "VISION"}, "name"),
        ({"name": "other", "slug": "vision"}, "slug"),
    ],
)
def test_tag_create_refuses_bad_or_taken_names(kwargs, bad_field):
    TagFactory(name="vision", slug="vision")

    with pytest.raises(ValidationError) as excinfo:
        services.tag_create(**kwargs)

    assert bad_field in excinfo.value.message_dict
    assert Tag.all_objects.count() == 1


def test_renaming_a_tag_reaches_its_models_search_text():
    tag = TagFactory(name="coding", slug="coding")
    model = AIModelFactory(tags=[tag])

    services.tag_update(tag=tag, expected_version=1, name="programming")

    model.refresh_from_db()
    assert model.tag_names == "programming"
    assert AIModel.objects.filter(search_vector=aimodel_search_query("programming")).get() == model


def test_tag_update_with_a_stale_version_changes_nothing():
    tag = TagFactory(name="coding")
    services.tag_update(tag=tag, description="first")

    with pytest.raises(PreconditionFailed):
        services.tag_update(tag=Tag.objects.get(pk=tag.pk), expected_version=1, name="lost")

    assert Tag.objects.get(pk=tag.pk).name == "coding"


def test_deleting_a_tag_removes_it_from_its_models_and_restoring_brings_it_back():
    tag, other = TagFactory(name="vision"), TagFactory(name="chat")
    model = AIModelFactory(tags=[tag, other])

    services.tag_soft_delete(tag=tag)
    model.refresh_from_db()
    assert model.tag_names == "chat"
    assert list(model.tags.all()) == [other]

    services.tag_restore(tag=tag)
    model.refresh_from_db()
    assert model.tag_names == "chat vision"


def test_a_tag_cannot_be_restored_over_a_new_one_with_its_name():
    tag = TagFactory(name="vision", slug="vision")
    services.tag_soft_delete(tag=tag)
    services.tag_create(name="Vision")

    with pytest.raises(Conflict):
        services.tag_restore(tag=tag)

    assert Tag.all_objects.get(pk=tag.pk).deleted_at is not None
