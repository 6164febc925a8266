import factory
from django.utils import timezone

from admin_app.models import AuditEvent, ModelPull, SystemMessage


class SystemMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SystemMessage

    name = factory.Sequence(lambda n: f"System message {n}")
    content = "You are a helpful assistant."
    description = "Default assistant persona"


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    action = "test.event"
    target_type = "auth_app.user"
    target_id = factory.Faker("uuid4")


class ModelPullFactory(factory.django.DjangoModelFactory):
    """A finished download (finished pulls do not hold the one-active-pull-per-name slot)."""

    class Meta:
        model = ModelPull

    model_name = factory.Sequence(lambda n: f"model{n}:latest")
    status = ModelPull.Status.SUCCESS
    detail = "success"
    completed_bytes = 4_920_753_328
    total_bytes = 4_920_753_328
    percent = 100
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)
