"""FilterSets of the catalogue, applied by the selectors (and usable with DRF's DjangoFilterBackend)."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, QuerySet

from models_app.models import AIModel, InstallStatus, ModelTag, ModelType


class AIModelFilter(django_filters.FilterSet):
    """Catalogue filters: tag (slug of an alive tag), family, parameter size, installed, type."""

    tag = django_filters.CharFilter(method="filter_tag", max_length=80)
    family = django_filters.CharFilter(field_name="family", lookup_expr="iexact", max_length=100)
    parameter_size = django_filters.CharFilter(
        field_name="parameter_size", lookup_expr="iexact", max_length=20
    )
    installed = django_filters.BooleanFilter(method="filter_installed")
    model_type = django_filters.ChoiceFilter(field_name="model_type", choices=ModelType.choices)

    class Meta:
        model = AIModel
        fields: list[str] = []

    def filter_tag(self, queryset: QuerySet[AIModel], name: str, value: str) -> QuerySet[AIModel]:
        """Models carrying the alive tag with this slug (EXISTS, so no duplicate rows)."""
        links = ModelTag.objects.filter(model=OuterRef("pk"), tag__slug=value, tag__deleted_at__isnull=True)
        return queryset.filter(Exists(links))

    def filter_installed(self, queryset: QuerySet[AIModel], name: str, value: bool) -> QuerySet[AIModel]:
        if value:
            return queryset.filter(install_status=InstallStatus.INSTALLED)
        return queryset.exclude(install_status=InstallStatus.INSTALLED)
