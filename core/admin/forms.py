"""Admin forms and the bookkeeping of what a form changed."""

from __future__ import annotations

from django import forms
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models


class WholeRowConstraintsMixin:
    """Check the model's constraints against the whole row, not only the fields on the form.

    Django skips a constraint as soon as one of its fields is not on the form; admin read-only
    fields never are, so a clash (say, a folder renamed to its sibling's name, where the owner is
    read-only) would otherwise only surface as an IntegrityError when saving.
    """

    def validate_unique(self) -> None:
        super().validate_unique()  # type: ignore[misc]
        if self._errors:  # type: ignore[attr-defined]
            return  # fix the field errors first; the row is not complete yet
        try:
            self.instance.validate_constraints()  # type: ignore[attr-defined]
        except ValidationError as exc:
            self.add_error(None, exc.messages)  # type: ignore[attr-defined]


class AdminModelForm(WholeRowConstraintsMixin, forms.ModelForm):
    """Default form of every admin built on `BaseModelAdmin`."""


def adopt_row(target: models.Model, source: models.Model) -> None:
    """Make `target`, the admin's unsaved instance, stand for the row a create service made."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


def changed_columns(instance: models.Model, form: forms.ModelForm) -> list[str]:
    """Names of the concrete, non-M2M model fields the form changed."""
    names = []
    for name in form.changed_data:
        try:
            field = instance._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if not isinstance(field, models.Field):
            continue  # a reverse relation or a generic foreign key: no column
        if field.concrete and not field.many_to_many and not field.primary_key:
            names.append(name)
    return names
