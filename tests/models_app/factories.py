import factory

from models_app.models import AIModel, ModelTag, Tag
from models_app.services import aimodel_tags_add


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"tag-{n}")
    slug = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-"))
    description = "A tag"


class AIModelFactory(factory.django.DjangoModelFactory):
    """A published model; `AIModelFactory(tags=[...])` links tags through the service, so the
    search vector weighs them as in production."""

    class Meta:
        model = AIModel
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"model{n}:latest")
    description = "A capable open model."
    family = "llama"
    families = factory.LazyFunction(lambda: ["llama"])
    parameter_size = "8.0B"
    parameter_count = 8_030_261_248
    quantization_level = "Q4_K_M"
    size = 4_920_753_328
    size_label = "4.9GB"
    format = "gguf"
    is_active = True

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            aimodel_tags_add(model=self, tag_ids=[tag.pk for tag in extracted])


class ModelTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelTag

    model = factory.SubFactory(AIModelFactory)
    tag = factory.SubFactory(TagFactory)


# name, family, parameter size, description, other fields
SAMPLE_MODELS = {
    "llama": ("llama3.2:3b", "llama", "3.2B", "Meta's compact chat model.", {}),
    "llama_big": ("llama3.1:70b", "llama", "70.6B", "Large general model.", {}),
    "mistral": ("mistral:7b", "mistral", "7.2B", "Fast and capable.", {}),
    "mixtral": (
        "mixtral:8x7b",
        "mixtral",
        "46.7B",
        "A sparse mixture of experts released by Mistral AI.",
        {},
    ),
    "coder": ("qwen2.5-coder:7b", "qwen2", "7.6B", "Writes <b>code</b> & explains programs.", {"code": True}),
    "llava": ("llava:7b", "llama", "7B", "Understands images.", {"vision": True}),
}


def sample_catalogue() -> dict:
    """Six published models shaped like Ollama's library and two tags: `code` on the installed
    qwen2.5-coder, `vision` on llava. Returns the models by key and the tags under "tags"."""
    tags = {
        "code": TagFactory(name="code", slug="code", description="Programming"),
        "vision": TagFactory(name="vision", slug="vision"),
    }
    catalogue: dict = {"tags": tags}
    for key, (name, family, parameter_size, description, marks) in SAMPLE_MODELS.items():
        catalogue[key] = AIModelFactory(
            name=name,
            family=family,
            parameter_size=parameter_size,
            description=description,
            install_status="installed" if "code" in marks else "not_installed",
            tags=[tags[mark] for mark in marks],
        )
    return catalogue
