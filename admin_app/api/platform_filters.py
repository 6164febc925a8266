"""Query-string filters of the staff catalogue list (django-filter), on top of Explore's."""

from __future__ import annotations

import django_filters

from core.api import StrictBooleanFilter
from models_app.filters import AIModelFilter
from models_app.models import AIModel, InstallStatus


class AdminAIModelFilter(AIModelFilter):
    """Explore's filters (tag, family, parameter size, installed, type), plus what staff look for."""

    search = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=200, help_text="Part of the name (any case)"
    )
    published = StrictBooleanFilter(field_name="is_active")
    install_status = django_filters.ChoiceFilter(choices=InstallStatus.choices)

    class Meta:
        model = AIModel
        fields: list[str] = []
