"""Display helpers for list columns, read-only fields and admin messages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import Truncator

from core.exceptions import ApplicationError


def error_text(exc: ApplicationError | ValidationError | PermissionDenied) -> str:
    """What a refusing service said, field messages included, as one line for an admin message."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    if isinstance(exc, PermissionDenied):
        return str(exc) or "You are not allowed to do this."
    lines = [exc.message]
    for messages_of_field in exc.fields.values():
        for line in messages_of_field if isinstance(messages_of_field, list | tuple) else [messages_of_field]:
            if str(line) not in lines:
                lines.append(str(line))
    return " ".join(lines)


def preview(text: str | None, length: int = 80) -> str:
    """The first `length` characters of a text on one line, for list columns."""
    return Truncator(" ".join((text or "").split())).chars(length)


def change_link(obj: models.Model | None, label: str | None = None) -> str:
    """A link to the admin change page of `obj` ("-" for none)."""
    if obj is None:
        return "-"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label if label is not None else str(obj))


def changelist_link(model: type[models.Model], label: str, **filters: Any) -> str:
    """A link to the admin list of `model` narrowed by `filters` (lookups as query parameters)."""
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), label)


def link_row(*links: str) -> str:
    """Links (from `change_link` / `changelist_link`) side by side on one line."""
    return format_html_join(" · ", "{}", ((link,) for link in links))
