"""Writes on folders: create, rename, move (never into its own subtree), delete to the trash."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db import IntegrityError, transaction

from conversations_app.models import Folder
from conversations_app.selectors.folders import folder_get_owned
from conversations_app.services.common import UNSET, advisory_xact_lock
from conversations_app.services.trash import folder_descendant_ids
from core import services as core_services
from core.exceptions import Conflict, ValidationFailed

if TYPE_CHECKING:
    from auth_app.models import User


def folder_for_field(*, owner_id: UUID, folder_id: UUID | None, field: str) -> Folder | None:
    """The owner's alive folder a request names in `field` (None stays None); another user's folder
    is as unknown as a missing one: a 400 on that field."""
    if folder_id is None:
        return None
    folder = folder_get_owned(owner_id=owner_id, folder_id=folder_id)
    if folder is None:
        raise ValidationFailed("Unknown folder.", fields={field: ["Folder not found."]})
    return folder


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise ValidationFailed("A folder needs a name.", fields={"name": ["This field may not be blank."]})
    return cleaned


def _ensure_name_free(
    *, owner_id: UUID, parent_id: UUID | None, name: str, exclude_id: UUID | None = None
) -> None:
    siblings = Folder.objects.filter(owner_id=owner_id, parent_id=parent_id, name__iexact=name)
    if exclude_id is not None:
        siblings = siblings.exclude(pk=exclude_id)
    if siblings.exists():
        raise _duplicate_name()


def _duplicate_name() -> Conflict:
    return Conflict(
        "A folder with this name already exists here.",
        code="duplicate_name",
        fields={"name": ["A folder with this name already exists here."]},
    )


def folder_create(*, owner: User, name: str, parent_id: UUID | None = None) -> Folder:
    """A new folder at the top level or inside one of the owner's folders."""
    name = _clean_name(name)
    parent = folder_for_field(owner_id=owner.pk, folder_id=parent_id, field="parent")
    _ensure_name_free(owner_id=owner.pk, parent_id=parent_id, name=name)
    folder = Folder(owner=owner, parent=parent, name=name)
    folder.full_clean(exclude=["owner", "parent"], validate_constraints=False)
    try:
        with transaction.atomic():
            folder.save(force_insert=True)
    except IntegrityError as exc:  # a concurrent create took the name first
        raise _duplicate_name() from exc
    return folder


def folder_update(
    *,
    folder: Folder,
    name: str = UNSET,
    parent_id: UUID | None = UNSET,
    expected_version: int | None = None,
) -> Folder:
    """Rename and/or move a folder. Moving it into itself or one of its subfolders is refused, under a
    per-owner lock so two concurrent moves cannot build a cycle together."""
    fields: dict[str, Any] = {}
    with transaction.atomic():
        advisory_xact_lock(f"folder-tree:{folder.owner_id}")
        target_parent_id = folder.parent_id
        if parent_id is not UNSET and parent_id != folder.parent_id:
            parent = folder_for_field(owner_id=folder.owner_id, folder_id=parent_id, field="parent")
            if parent is not None and (
                parent.pk == folder.pk or parent.pk in folder_descendant_ids(folder=folder)
            ):
                raise ValidationFailed(
                    "A folder cannot be moved into itself or one of its subfolders.",
                    code="folder_cycle",
                    fields={"parent": ["A folder cannot be moved into itself or one of its subfolders."]},
                )
            fields["parent"] = parent
            target_parent_id = parent_id
        target_name = folder.name
        if name is not UNSET:
            target_name = _clean_name(name)
            fields["name"] = target_name
        _ensure_name_free(
            owner_id=folder.owner_id, parent_id=target_parent_id, name=target_name, exclude_id=folder.pk
        )
        try:
            with transaction.atomic():
                return core_services.versioned_change(
                    folder, fields=fields, expected_version=expected_version
                )
        except IntegrityError as exc:
            raise _duplicate_name() from exc
