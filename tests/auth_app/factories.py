from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    class Params:
        locked = factory.Trait(
            locked_until=factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=15))
        )
        deleted = factory.Trait(deleted_at=factory.LazyFunction(timezone.now))

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    display_name = factory.Faker("name")
    password = factory.django.Password(DEFAULT_PASSWORD)
