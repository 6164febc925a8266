"""Explore's query parameters (input) and catalogue representations (output)."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.text import Truncator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.pagination import PageNumberPagination
from explore_app.models import LeaderboardEntry, LeaderboardPeriod
from models_app.models import AIModel, InstallStatus, ModelType, Tag
from models_app.selectors import (
    AIMODEL_ORDERINGS,
    HIGHLIGHT_START,
    HIGHLIGHT_STOP,
    RELEVANCE,
    SEARCH_QUERY_MAX_LENGTH,
    SearchMatch,
)

SNIPPET_CHARS = 200


# --- input ----------------------------------------------------------------------------------------


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    page_size = serializers.IntegerField(
        min_value=1,
        default=PageNumberPagination.page_size,
        help_text=f"At most {PageNumberPagination.max_page_size}; larger values are capped.",
    )

    def validate_page_size(self, value: int) -> int:
        return min(value, PageNumberPagination.max_page_size)


class ModelFilterQuerySerializer(PageQuerySerializer):
    ordering = serializers.ChoiceField(
        choices=[*AIMODEL_ORDERINGS, RELEVANCE],
        required=False,
        help_text="`relevance` (the default with `q`) applies to searches; otherwise `name` is the default.",
    )
    family = serializers.CharField(required=False, max_length=100)
    parameter_size = serializers.CharField(required=False, max_length=20, help_text="e.g. 8B, 70B")
    installed = serializers.BooleanField(required=False, allow_null=True, default=None)
    model_type = serializers.ChoiceField(choices=ModelType.choices, required=False)

    def validate_family(self, value: str) -> str:
        return value.lower()

    def validate_parameter_size(self, value: str) -> str:
        return value.lower()


class ModelListQuerySerializer(ModelFilterQuerySerializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=SEARCH_QUERY_MAX_LENGTH,
        help_text='Search (web-search syntax: "quoted phrase", -excluded, or); typos fall back to '
        "similar names.",
    )
    tag = serializers.SlugField(required=False, max_length=80)

    def validate_q(self, value: str) -> str:
        return " ".join(value.split()).lower()

    def validate(self, attrs: dict) -> dict:
        if attrs.get("q"):
            attrs.setdefault("ordering", RELEVANCE)
        elif attrs.get("ordering", RELEVANCE) == RELEVANCE:
            attrs["ordering"] = "name"
        return attrs


class TagModelsQuerySerializer(ModelFilterQuerySerializer):
    def validate(self, attrs: dict) -> dict:
        if attrs.get("ordering", RELEVANCE) == RELEVANCE:
            attrs["ordering"] = "name"
        return attrs


# --- output ---------------------------------------------------------------------------------------


class ExploreTagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ("id", "name", "slug")


class ExploreTagWithCountSerializer(serializers.ModelSerializer):
    model_count = serializers.IntegerField(read_only=True, help_text="Published models with this tag")

    class Meta:
        model = Tag
        fields = ("id", "name", "slug", "description", "model_count")


class ExploreModelSerializer(serializers.ModelSerializer):
    tags = ExploreTagSerializer(many=True, read_only=True)
    installed = serializers.SerializerMethodField()

    class Meta:
        model = AIModel
        fields: tuple[str, ...] = (
            "id",
            "name",
            "description",
            "family",
            "model_type",
            "parameter_size",
            "parameter_count",
            "quantization_level",
            "format",
            "size",
            "size_label",
            "released_at",
            "image_url",
            "reference_link",
            "install_status",
            "installed",
            "tags",
            "created_at",
            "updated_at",
        )

    def get_installed(self, obj: AIModel) -> bool:
        return obj.install_status == InstallStatus.INSTALLED


class ExploreModelListItemSerializer(ExploreModelSerializer):
    """A catalogue row; with `q`, also its relevance, how it matched and an HTML-safe snippet."""

    rank = serializers.SerializerMethodField()
    match = serializers.SerializerMethodField()
    snippet = serializers.SerializerMethodField(
        help_text="HTML: the description escaped, search matches wrapped in <mark>."
    )

    class Meta(ExploreModelSerializer.Meta):
        fields = (*ExploreModelSerializer.Meta.fields, "rank", "match", "snippet")

    def get_rank(self, obj: AIModel) -> float | None:
        rank = getattr(obj, "rank", None)
        return None if rank is None else round(float(rank), 6)

    def get_match(self, obj: AIModel) -> SearchMatch | None:
        return self.context.get("match")

    def get_snippet(self, obj: AIModel) -> str | None:
        if self.context.get("match") is None:
            return None
        headline = getattr(obj, "search_headline", None)
        if headline is None:
            return escape(Truncator(obj.description).chars(SNIPPET_CHARS))
        return escape(headline).replace(HIGHLIGHT_START, "<mark>").replace(HIGHLIGHT_STOP, "</mark>")


class ExploreModelDetailSerializer(ExploreModelSerializer):
    class Meta(ExploreModelSerializer.Meta):
        fields = (
            *ExploreModelSerializer.Meta.fields,
            "families",
            "languages",
            "architecture",
            "quantization_version",
            "file_type",
            "model_version",
            "digest",
            "parent_model",
            "license",
            "modelfile",
            "template",
        )


# --- leaderboard ----------------------------------------------------------------------------------


class LeaderboardQuerySerializer(PageQuerySerializer):
    period = serializers.ChoiceField(
        choices=LeaderboardPeriod.choices,
        default=LeaderboardPeriod.ALL,
        help_text="Which votes and kept answers count: those of the last 7 or 30 days, or all.",
    )
    tag = serializers.SlugField(required=False, max_length=80, help_text="Only models with this tag (slug)")


class LeaderboardModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = AIModel
        fields = ("id", "name")


class ConfidenceSerializer(serializers.Serializer):
    low = serializers.FloatField()
    high = serializers.FloatField()


class LeaderboardEntrySerializer(serializers.ModelSerializer):
    """A model's standing: its rating, how it fared against other models and the votes it received."""

    model = LeaderboardModelSerializer(read_only=True)
    elo = serializers.SerializerMethodField(
        help_text="Bradley-Terry rating on the Elo scale: 1000 to start, 400 points = 10:1 odds"
    )
    win_rate = serializers.SerializerMethodField(help_text="Weighted wins over weighted comparisons")
    confidence = serializers.SerializerMethodField(
        help_text="95 % Wilson interval of the win rate; null without comparisons"
    )
    consistency = serializers.SerializerMethodField(
        help_text="Of this model's regenerations by itself, the share where the earlier answer was kept"
    )

    class Meta:
        model = LeaderboardEntry
        fields = (
            "rank",
            "model",
            "elo",
            "win_rate",
            "confidence",
            "comparisons",
            "thumbs_up",
            "thumbs_down",
            "self_comparisons",
            "consistency",
        )

    def get_elo(self, entry: LeaderboardEntry) -> float:
        return round(entry.elo, 1)

    @staticmethod
    def _rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    def get_win_rate(self, entry: LeaderboardEntry) -> float | None:
        return self._rounded(entry.win_rate)

    @extend_schema_field(ConfidenceSerializer(allow_null=True))
    def get_confidence(self, entry: LeaderboardEntry) -> dict[str, float] | None:
        if entry.confidence_low is None or entry.confidence_high is None:
            return None
        return {"low": round(entry.confidence_low, 4), "high": round(entry.confidence_high, 4)}

    def get_consistency(self, entry: LeaderboardEntry) -> float | None:
        return self._rounded(entry.consistency)


class LeaderboardPageSerializer(serializers.Serializer):
    """A page of the leaderboard, with when it was computed."""

    period = serializers.ChoiceField(choices=LeaderboardPeriod.choices)
    computed_at = serializers.DateTimeField(allow_null=True, help_text="Null before the first computation")
    count = serializers.IntegerField()
    total_pages = serializers.IntegerField()
    page = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = LeaderboardEntrySerializer(many=True)
