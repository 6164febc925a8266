import factory

from models_app.models import AIModel, ModelTag, Tag


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"tag-{n}")
    slug = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-"))
    description = "A tag"


class AIModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AIModel

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


class ModelTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelTag

    model = factory.SubFactory(AIModelFactory)
    tag = factory.SubFactory(TagFactory)
