import factory

from admin_app.models import AuditEvent, SystemMessage


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
