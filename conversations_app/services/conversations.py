"""Writes on conversations: create, update (title, system prompt, options, pin, archive, folder, model),
delete to the trash."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db import transaction

from admin_app.selectors import system_message_get_active
from conversations_app.models import Conversation
from conversations_app.services.common import UNSET
from conversations_app.services.folders import folder_for_field
from conversations_app.services.labels import conversation_set_labels, owned_labels
from core import services as core_services
from core.exceptions import NotFound, ValidationFailed
from models_app.models import AIModel
from models_app.selectors import aimodel_get_published, usable_models

if TYPE_CHECKING:
    from admin_app.models import SystemMessage
    from auth_app.models import ApiKey, User

SYSTEM_PROMPT_EXCLUSIVE = "Give either a system prompt or a system message, not both."


MODEL_NOT_USABLE = "No model with this id or name is available to you."


def _usable_model(model_ref: UUID | str, *, owner_id: Any) -> AIModel:
    """The published model with this id, or with this Ollama name (`llama3.2:3b`, `:latest` implied),
    that the owner may use (`models_app.selectors.usable_models`). A model nobody can chat with
    (unknown, unpublished, deleted) is a 400 on the `model` field; a published one the owner's roles
    do not allow is a 404 `model_not_found`, as the model lists of the owner do not show it."""
    lookup: dict[str, Any]
    try:
        lookup = {"model_id": UUID(str(model_ref))}
    except ValueError:
        lookup = {"name": str(model_ref)}
    model = aimodel_get_published(**lookup, within=usable_models(user_id=owner_id))
    if model is not None:
        return model
    if aimodel_get_published(**lookup) is not None:
        raise NotFound(MODEL_NOT_USABLE, code="model_not_found")
    raise ValidationFailed(
        "This model is not available.", fields={"model": ["No published model with this id or name."]}
    )


def _active_system_message(system_message_id: UUID | None) -> SystemMessage | None:
    if system_message_id is None:
        return None
    message = system_message_get_active(system_message_id=system_message_id)
    if message is None:
        raise ValidationFailed(
            "This system message is not available.",
            fields={"system_message": ["No active system message with this id."]},
        )
    return message


def conversation_create(
    *,
    owner: User,
    model_ref: UUID | str | AIModel,
    title: str = "",
    system_prompt: str = "",
    system_message_id: UUID | None = None,
    default_options: dict[str, Any] | None = None,
    folder_id: UUID | None = None,
    is_pinned: bool = False,
    is_archived: bool = False,
    label_ids: list[UUID] | None = None,
    api_key: ApiKey | None = None,
) -> Conversation:
    """A new, empty conversation with a published model the owner may use (`model_ref`: its id or its
    Ollama name); the system prompt is free text or an active
    system message (not both); `default_options` must already be validated generation options.
    With `api_key`, a conversation started through the API gateway with that key (source `api`)."""
    if system_prompt.strip() and system_message_id is not None:
        raise ValidationFailed(SYSTEM_PROMPT_EXCLUSIVE, code="system_prompt_conflict")
    # A model the caller has just found usable by the owner (the API gateway) is not looked up again.
    model = model_ref if isinstance(model_ref, AIModel) else _usable_model(model_ref, owner_id=owner.pk)
    conversation = Conversation(
        owner=owner,
        model=model,
        model_name=model.name,
        title=title.strip(),
        system_prompt=system_prompt,
        system_message=_active_system_message(system_message_id),
        default_options=default_options or {},
        folder=folder_for_field(owner_id=owner.pk, folder_id=folder_id, field="folder"),
        is_pinned=is_pinned,
        is_archived=is_archived,
        source=Conversation.Source.APP if api_key is None else Conversation.Source.API,
        api_key=api_key,
    )
    conversation.full_clean(
        exclude=["owner", "model", "folder", "system_message", "current_exchange", "api_key"],
        validate_constraints=False,
    )
    labels = owned_labels(owner_id=owner.pk, label_ids=label_ids or [])
    with transaction.atomic():
        conversation.save(force_insert=True)
        if labels:
            conversation_set_labels(conversation=conversation, label_ids=labels)
    return conversation


def conversation_update(
    *,
    conversation: Conversation,
    title: str = UNSET,
    system_prompt: str = UNSET,
    system_message_id: UUID | None = UNSET,
    default_options: dict[str, Any] = UNSET,
    folder_id: UUID | None = UNSET,
    model_ref: UUID | str = UNSET,
    is_pinned: bool = UNSET,
    is_archived: bool = UNSET,
    label_ids: list[UUID] = UNSET,
    expected_version: int | None = None,
) -> Conversation:
    """Change what the caller passed, in one conditional UPDATE (412 when `expected_version` is stale).

    Choosing a system message clears the free-text system prompt and vice versa. Changing the model
    (`model_ref`: an id or an Ollama name) also updates the model name the conversation shows.
    """
    given_prompt = system_prompt is not UNSET and bool(system_prompt.strip())
    if given_prompt and system_message_id not in (UNSET, None):
        raise ValidationFailed(SYSTEM_PROMPT_EXCLUSIVE, code="system_prompt_conflict")
    fields: dict[str, Any] = {}
    if title is not UNSET:
        fields["title"] = title.strip()
    if system_prompt is not UNSET:
        fields["system_prompt"] = system_prompt
        if given_prompt:
            fields["system_message"] = None
    if system_message_id is not UNSET:
        fields["system_message"] = _active_system_message(system_message_id)
        if system_message_id is not None:
            fields["system_prompt"] = ""
    if default_options is not UNSET:
        fields["default_options"] = default_options
    if folder_id is not UNSET:
        fields["folder"] = folder_for_field(
            owner_id=conversation.owner_id, folder_id=folder_id, field="folder"
        )
    if model_ref is not UNSET:
        model = _usable_model(model_ref, owner_id=conversation.owner_id)
        fields.update(model=model, model_name=model.name)
    if is_pinned is not UNSET:
        fields["is_pinned"] = is_pinned
    if is_archived is not UNSET:
        fields["is_archived"] = is_archived
    if label_ids is UNSET:
        return core_services.versioned_change(conversation, fields=fields, expected_version=expected_version)
    labels = owned_labels(owner_id=conversation.owner_id, label_ids=label_ids)
    with transaction.atomic():
        locked = core_services.lock_at_version(
            Conversation, conversation.pk, expected_version=expected_version
        )
        changed = conversation_set_labels(conversation=locked, label_ids=labels)
        # The labels are part of what the conversation's version (its ETag) covers.
        if changed or fields:
            return core_services.versioned_update(locked, fields=fields)
        return locked


def conversation_api_history_set(*, conversation_id: UUID, digest: str) -> None:
    """Remember the digest of the turns an API client now holds (its messages and the answer), so its
    next call continues this conversation (gateway_app.history). Bookkeeping: no version change."""
    Conversation.objects.filter(pk=conversation_id).update(api_history_digest=digest)
