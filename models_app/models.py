"""The AI model catalogue: models as Ollama names them, and the tags that group them."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import F, Func, Q, Value
from django.db.models.functions import Lower

from core.models import BaseModel, SoftDeleteModel, VersionedModel
from models_app.querysets import AIModelManager, AllAIModelsManager

ALIVE = Q(deleted_at__isnull=True)
# The model name with every run of punctuation turned into a space: "llama3.2:3b" -> "llama3 2 3b".
NAME_WORDS = Func(F("name"), Value("[^[:alnum:]]+"), Value(" "), Value("g"), function="regexp_replace")
# The name lower-cased with a space where letters meet digits: "llama3.2:3b" -> "llama 3.2:3b", so that
# trigram word similarity also sees "llama" as a word, and a typo in it ("lama") still finds the model.
NAME_LETTERS_APART = Func(
    Lower("name"),
    Value("([[:alpha:]])([[:digit:]])"),
    Value("\\1 \\2"),
    Value("g"),
    function="regexp_replace",
    output_field=models.TextField(),
)


class Tag(BaseModel, SoftDeleteModel, VersionedModel):
    """A label grouping catalogue models (e.g. "code", "vision", "embedding")."""

    name = models.CharField(max_length=64)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True, default="")

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(Lower("name"), condition=ALIVE, name="models_tag_name_ci_alive_uniq"),
            models.UniqueConstraint(fields=["slug"], condition=ALIVE, name="models_tag_slug_alive_uniq"),
            models.CheckConstraint(condition=~Q(name=""), name="models_tag_name_not_blank"),
            models.CheckConstraint(condition=~Q(slug=""), name="models_tag_slug_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name


class ModelType(models.TextChoices):
    CHAT = "chat", "Chat"
    CODE = "code", "Code"
    VISION = "vision", "Vision"
    EMBEDDING = "embedding", "Embedding"
    REASONING = "reasoning", "Reasoning"


class InstallStatus(models.TextChoices):
    NOT_INSTALLED = "not_installed", "Not installed"
    PULLING = "pulling", "Pulling"
    INSTALLED = "installed", "Installed"
    FAILED = "failed", "Failed"


# Ollama's name of the capability of reading images.
VISION = "vision"


class AIModel(BaseModel, SoftDeleteModel, VersionedModel):
    """A model in the catalogue; `name` is the Ollama model name (`family:tag`)."""

    ModelType = ModelType
    InstallStatus = InstallStatus

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    model_version = models.CharField(max_length=50, blank=True, default="")
    digest = models.CharField(max_length=100, blank=True, default="")
    size = models.BigIntegerField(null=True, blank=True, help_text="Bytes on disk")
    size_label = models.CharField(max_length=20, blank=True, default="")
    released_at = models.DateField(null=True, blank=True)
    reference_link = models.URLField(max_length=500, blank=True, default="")
    image_url = models.URLField(max_length=500, blank=True, default="")
    model_type = models.CharField(max_length=20, choices=ModelType.choices, default=ModelType.CHAT)
    format = models.CharField(max_length=30, blank=True, default="")
    family = models.CharField(max_length=100, blank=True, default="")
    families = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    languages = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    architecture = models.CharField(max_length=100, blank=True, default="")
    parameter_size = models.CharField(max_length=20, blank=True, default="")
    parameter_count = models.BigIntegerField(null=True, blank=True)
    context_length = models.PositiveIntegerField(
        null=True, blank=True, help_text="Tokens of context the model was trained for (Ollama's model_info)"
    )
    capabilities = ArrayField(
        models.CharField(max_length=50),
        default=list,
        blank=True,
        help_text="What the model can do, as Ollama's /api/show names it (completion, vision, thinking…)",
    )
    quantization_level = models.CharField(max_length=30, blank=True, default="")
    quantization_version = models.PositiveIntegerField(null=True, blank=True)
    file_type = models.PositiveIntegerField(null=True, blank=True)
    license = models.TextField(blank=True, default="")
    modelfile = models.TextField(blank=True, default="")
    template = models.TextField(blank=True, default="")
    parent_model = models.CharField(max_length=200, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="ai_models"
    )
    is_active = models.BooleanField("published", default=False)
    install_status = models.CharField(
        max_length=20, choices=InstallStatus.choices, default=InstallStatus.NOT_INSTALLED
    )
    install_progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of the last pull")
    install_error = models.TextField(blank=True, default="")
    tags: models.ManyToManyField[Tag, ModelTag] = models.ManyToManyField(
        Tag, through="ModelTag", related_name="ai_models", blank=True
    )
    tag_names = models.TextField(
        blank=True,
        default="",
        db_default="",
        editable=False,
        help_text="Names of the model's alive tags, kept by the tag services so search can weigh them",
    )
    # Weights: the name (whole, and split into words so "coder" finds "qwen2.5-coder:7b") > family and
    # tags > description. Names, families and tags are identifiers, so no stemming; descriptions are
    # English prose.
    search_vector = models.GeneratedField(
        expression=(
            SearchVector("name", weight="A", config="simple")
            + SearchVector(NAME_WORDS, weight="A", config="simple")
            + SearchVector("family", weight="B", config="simple")
            + SearchVector("tag_names", weight="B", config="simple")
            + SearchVector("description", weight="C", config="english")
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects: ClassVar[AIModelManager] = AIModelManager()
    all_objects: ClassVar[AllAIModelsManager] = AllAIModelsManager()

    class Meta:
        verbose_name = "AI model"
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(Lower("name"), condition=ALIVE, name="models_aimodel_name_ci_alive_uniq"),
            models.CheckConstraint(condition=~Q(name=""), name="models_aimodel_name_not_blank"),
            models.CheckConstraint(
                condition=Q(size__isnull=True) | Q(size__gte=0), name="models_aimodel_size_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(parameter_count__isnull=True) | Q(parameter_count__gte=0),
                name="models_aimodel_parameter_count_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(install_progress__lte=100), name="models_aimodel_install_progress_percent"
            ),
            models.CheckConstraint(
                condition=Q(install_status__in=InstallStatus.values),
                name="models_aimodel_install_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(model_type__in=ModelType.values), name="models_aimodel_model_type_valid"
            ),
        ]
        indexes = [
            # The catalogue is written rarely and searched constantly: no GIN pending list (fastupdate),
            # so new rows are in the index proper and the planner's estimates stay right.
            GinIndex(fields=["search_vector"], name="models_aimodel_search_gin", fastupdate=False),
            GinIndex(
                OpClass(Lower("name"), name="gin_trgm_ops"), name="models_aimodel_name_trgm", fastupdate=False
            ),
            GinIndex(
                OpClass(NAME_LETTERS_APART, name="gin_trgm_ops"),
                name="models_aimodel_name_apart_trgm",
                fastupdate=False,
            ),
            models.Index(fields=["family"], name="models_aimodel_family_idx", condition=ALIVE),
            models.Index(
                fields=["name"], name="models_aimodel_published_idx", condition=ALIVE & Q(is_active=True)
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_vision(self) -> bool:
        """Whether the model reads images (Ollama's `vision` capability)."""
        return VISION in self.capabilities


class ModelTag(BaseModel):
    """The explicit through table between models and tags."""

    # Indexed by models_modeltag_pair_uniq, which starts with it: an index of its own would be a copy.
    model = models.ForeignKey(AIModel, on_delete=models.CASCADE, related_name="model_tags", db_index=False)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="model_tags")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "tag"], name="models_modeltag_pair_uniq")]

    def __str__(self) -> str:
        # Lists of pairs join both sides (select_related), so this reads no more rows.
        return f"{self.model.name} · {self.tag.name}"


def size_label(size: int) -> str:
    """Bytes the way ollama.com shows them, in decimal units: "398MB", "4.9GB", "43GB"."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if size >= scale:
            value = size / scale
            return f"{value:.1f}{unit}" if value < 10 else f"{round(value)}{unit}"
    return f"{size}B"


class RoleModelAccess(BaseModel):
    """One entry of a role's allow-list of models: a catalogue model, or every model carrying a tag.

    A role without entries is unrestricted. A user may use a published model when they hold no role,
    when one of their roles is unrestricted, or when an entry of one of their roles names the model
    or one of its alive tags (`models_app.selectors.usable_models`).
    """

    role = models.ForeignKey("auth_app.Role", on_delete=models.CASCADE, related_name="model_access")
    model = models.ForeignKey(
        AIModel, on_delete=models.CASCADE, null=True, blank=True, related_name="role_access"
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, null=True, blank=True, related_name="role_access")

    class Meta:
        verbose_name = "role model access"
        verbose_name_plural = "role model access"
        constraints = [
            models.CheckConstraint(
                condition=Q(model__isnull=False, tag__isnull=True) | Q(model__isnull=True, tag__isnull=False),
                name="models_roleaccess_model_xor_tag",
            ),
            models.UniqueConstraint(
                fields=["role", "model"],
                condition=Q(model__isnull=False),
                name="models_roleaccess_model_uniq",
            ),
            models.UniqueConstraint(
                fields=["role", "tag"], condition=Q(tag__isnull=False), name="models_roleaccess_tag_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role_id} · {self.model_id or self.tag_id}"
